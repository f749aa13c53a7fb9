"""Pipeline configuration: one YAML file per pipeline holds everything a run needs.

`pipelines/common.yaml` holds what every pipeline shares, `pipelines/<family>/config.yaml` the
family's own settings (and may override the common ones). A user's `--config FILE`
overrides both, and command-line flags override all of them. Keys are the flags' names with
underscores (`train_steps` for `--train-steps`).
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

import yaml

from pipelines import arguments
from pipelines.errors import ShipyardError

PIPELINES_DIR = os.path.dirname(os.path.abspath(__file__))
STRATEGIES = ("one_device", "mirrored", "multi_worker", "tpu")
# Settings of the command, not of the pipeline: never read from a config file.
_NOT_CONFIGURABLE = {"help", "config", "pipeline", "command", "handler", "verbose"}


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ShipyardError(f"config file not found: {path}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ShipyardError(f"config file {path} is not valid YAML{line}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ShipyardError(f"config file {path} must be a mapping of setting: value")
    return data


def common() -> dict[str, Any]:
    """The shipped settings every pipeline shares (pipelines/common.yaml)."""
    return _read_yaml(os.path.join(PIPELINES_DIR, "common.yaml"))


def packaged(pipeline: str) -> dict[str, Any]:
    """The shipped defaults of a family's pipeline: common.yaml, then <family>/config.yaml."""
    config = common()
    config.update(_read_yaml(os.path.join(PIPELINES_DIR, pipeline, "config.yaml")))
    return config


PIPELINE_COMMANDS = ("run", "compile", "config")


def config_file_argument(argv: Sequence[str]) -> str | None:
    """The value of a pipeline command's --config in argv, found before the parser exists (it
    sets the parser's defaults). Other commands' --config (e.g. `serve`) is theirs."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command not in PIPELINE_COMMANDS:
        return None
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def pipeline_argument(argv: Sequence[str]) -> str | None:
    """The pipeline a pipeline command names (`run NAME`, `compile NAME`, `config show NAME`):
    a user's --config file sets that pipeline's defaults, not every pipeline's."""
    words = [arg for arg in argv if not arg.startswith("-")]
    if not words or words[0] not in PIPELINE_COMMANDS:
        return None
    position = 2 if words[0] == "config" else 1
    return words[position] if len(words) > position else None


def _coerce(action: argparse.Action, value: Any, source: str) -> Any:
    """A config value checked as the flag would check it on the command line."""
    key = action.dest
    if value is None:
        return None
    if (getattr(action, "takes_list", False) or action.nargs in ("*", "+")
            or isinstance(action, argparse._AppendAction)):
        if not isinstance(value, list):
            raise ShipyardError(f"{source}: '{key}' must be a list")
        item_type = action.type if action.type in (int, float) else str
        try:
            return [item_type(v) for v in value]
        except (TypeError, ValueError):
            raise ShipyardError(f"{source}: '{key}' must be a list of {item_type.__name__}, "
                                f"got {value!r}") from None
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction
                  | argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise ShipyardError(f"{source}: '{key}' must be true or false, got {value!r}")
        return value
    if action.type is not None and not isinstance(value, bool):
        try:
            value = action.type(value) if not isinstance(value, action.type) else value
        except (TypeError, ValueError):
            raise ShipyardError(f"{source}: '{key}' must be {action.type.__name__}, "
                                f"got {value!r}") from None
    if action.choices is not None and value not in action.choices:
        raise ShipyardError(f"{source}: '{key}' must be one of "
                            f"{', '.join(map(str, action.choices))}, got {value!r}")
    return value


def configurable(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The settings a config file may hold for this parser: every option's destination."""
    return {a.dest: a for a in parser._actions
            if a.dest not in _NOT_CONFIGURABLE and a.option_strings}


def apply_defaults(parser: argparse.ArgumentParser, pipeline: str,
                   user_file: str | None) -> None:
    """Makes the pipeline's config (and the user's file over it) the parser's defaults."""
    actions = configurable(parser)
    layers = [(f"pipelines/{pipeline}/config.yaml", packaged(pipeline))]
    if user_file:
        layers.append((user_file, _read_yaml(user_file)))
    defaults: dict[str, Any] = {}
    for source, values in layers:
        for key, value in values.items():
            if key not in actions:
                raise ShipyardError(f"{source}: unknown setting '{key}' for {pipeline}")
            defaults[key] = _coerce(actions[key], value, source)
    parser.set_defaults(**defaults)


def effective(args: argparse.Namespace, pipeline: str) -> dict[str, Any]:
    """The settings a run uses, after config files and flags (options of a command, such as
    compile's --target, are not settings)."""
    return {key: getattr(args, key) for key in packaged(pipeline)}


def render(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every pipeline takes (defaults in pipelines/common.yaml)."""
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="YAML file of settings (keys as in `shipyard config show`); "
                             "flags override it")
    parser.add_argument("--output-dir", help="pipeline root, ML Metadata, serving base")
    parser.add_argument("--beam-arg", dest="beam_args", action=_ReplaceThenAppend,
                        metavar="ARG", help="Beam pipeline argument, repeatable "
                        "(--beam-arg=--runner=DataflowRunner); replaces the configured list")
    parser.add_argument("--beam-worker-pool", metavar="HOST:PORT",
                        help="run the Beam steps on Beam's portable runner with SDK worker "
                             "processes from this external worker pool (`shipyard "
                             "beam-worker-pool`) instead of the DirectRunner")
    parser.add_argument("--schema", help="curated schema.pbtxt to validate the data against "
                                         "(default: inferred from the train split)")
    parser.add_argument("--no-cache", action="store_true", default=None,
                        help="re-run every component")
    parser.add_argument("--strategy", choices=STRATEGIES,
                        help="Trainer distribution strategy")
    parser.add_argument("--cpu-devices", type=int,
                        help="logical CPU devices for --strategy mirrored on a CPU-only host")
    parser.add_argument("--tpu", help="TPU name or grpc:// address for --strategy tpu")
    arguments.add_technique_arguments(parser)
    parser.add_argument("--input-cache-mb", type=float,
                        help="cache a Trainer input split in memory only if its parsed size "
                             "fits this many MB, else stream it from disk (default: a quarter "
                             "of the available memory)")


class _ReplaceThenAppend(argparse.Action):
    """Like action="append", but the first flag on the command line replaces the configured
    list instead of adding to it (a Dataflow run must not keep the DirectRunner's options)."""

    takes_list = True

    def __call__(self, parser, namespace, values, option_string=None):
        seen = f"_{self.dest}_from_cli"
        current = getattr(namespace, self.dest) if getattr(namespace, seen, False) else []
        setattr(namespace, self.dest, [*current, values])
        setattr(namespace, seen, True)


# DirectRunner options, meaningless to the portable runner.
_DIRECT_ONLY = ("--direct_running_mode", "--direct_num_workers")


def beam_pipeline_args(settings: dict[str, Any]) -> list[str]:
    """The Beam pipeline arguments of a run's settings: `beam_args`, or with
    `beam_worker_pool` (HOST:PORT) Beam's portable runner: its job service embedded in the
    component's process, every stage executed by an SDK worker process that the external
    worker pool at HOST:PORT starts (`--environment_type=EXTERNAL`, as beside Flink's or
    Spark's task managers). `beam_args` are kept, but for the DirectRunner's own."""
    args = list(settings.get("beam_args") or [])
    pool = settings.get("beam_worker_pool")
    if not pool:
        return args
    if ":" not in pool or not pool.rsplit(":", 1)[1].isdigit():
        raise ShipyardError(f"--beam-worker-pool must be HOST:PORT, got {pool!r}")
    return ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
            f"--environment_config={pool}",
            *(a for a in args if not a.startswith(_DIRECT_ONLY))]
