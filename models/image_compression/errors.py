"""The codec library's errors. Their messages name no command-line flags: the CLI maps them
(pipelines/image_compression/commands.py)."""


class CodecError(Exception):
    """A problem with the user's image, stream, codec directory or settings."""


class FormatError(CodecError):
    """A file that is not a whole, intact .rgc stream."""


class SettingError(CodecError):
    """A bad value of one of `compress`'s parameters (`iterations`, `bpp`, `min_quality`)."""

    def __init__(self, parameter: str, problem: str):
        super().__init__(f"{parameter} {problem}")
        self.parameter = parameter
        self.problem = problem


class ModelNotFound(CodecError):
    """No trained codec where one was looked for."""
