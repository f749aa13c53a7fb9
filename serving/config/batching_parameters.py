"""TF Serving's --batching_parameters_file (BatchingParameters in text format)."""
from __future__ import annotations

import dataclasses

from serving.config.errors import ConfigError
from serving.config.text_proto import parse_text_file, wrapped


@dataclasses.dataclass
class BatchingParameters:
    """TF Serving's BatchingParameters (session_bundle_config.proto) with its defaults."""
    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 1000
    num_batch_threads: int = 4
    allowed_batch_sizes: list[int] = dataclasses.field(default_factory=list)
    pad_variable_length_inputs: bool = False

    def validate(self) -> None:
        if self.max_batch_size <= 0 or self.num_batch_threads <= 0 \
                or self.max_enqueued_batches <= 0 or self.batch_timeout_micros < 0:
            raise ConfigError("batching parameters: max_batch_size, num_batch_threads and "
                              "max_enqueued_batches must be > 0, batch_timeout_micros >= 0")
        sizes = self.allowed_batch_sizes
        if sizes:
            if sizes != sorted(set(sizes)) or sizes[0] <= 0:
                raise ConfigError("batching parameters: allowed_batch_sizes must be positive "
                                  "and strictly increasing")
            if sizes[-1] != self.max_batch_size:
                raise ConfigError("batching parameters: the last entry of allowed_batch_sizes "
                                  f"must equal max_batch_size ({self.max_batch_size})")


def load_batching_parameters(path: str) -> BatchingParameters:
    """Reads TF Serving's batching parameters file (BatchingParameters in text format)."""
    fields = parse_text_file(path, "batching parameters file")
    known = {f.name for f in dataclasses.fields(BatchingParameters)}
    unknown = sorted(set(fields) - known - {"thread_pool_name", "num_batch_threads"})
    if unknown:
        raise ConfigError(f"invalid batching parameters file {path}: unknown field "
                          f"{unknown[0]!r}")
    defaults = BatchingParameters()
    try:
        params = BatchingParameters(
            max_batch_size=int(wrapped(fields, "max_batch_size", defaults.max_batch_size)),
            batch_timeout_micros=int(wrapped(fields, "batch_timeout_micros",
                                             defaults.batch_timeout_micros)),
            max_enqueued_batches=int(wrapped(fields, "max_enqueued_batches",
                                             defaults.max_enqueued_batches)),
            num_batch_threads=int(wrapped(fields, "num_batch_threads",
                                          defaults.num_batch_threads)),
            allowed_batch_sizes=[int(v) for v in fields.get("allowed_batch_sizes", [])],
            pad_variable_length_inputs=bool(wrapped(fields, "pad_variable_length_inputs",
                                                    False)))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid batching parameters file {path}: {e}") from None
    params.validate()
    return params
