"""The `shipyard` command line."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from pipelines import logs, registry
from pipelines.config import config_file_argument, pipeline_argument
from pipelines.errors import ShipyardError
from pipelines.image_classification.settings import MODELS


def _models_table(args: argparse.Namespace) -> None:
    from models.image_classification.classifiers import table

    rows = table(args.model)
    if args.json:
        print(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    print(f"{args.model}: ImageNet head (1000 classes); multiply-adds and parameters counted "
          "from the built Keras graph")
    print()
    print("| model | alpha | resolution | million mult-adds | parameters |")
    print("| --- | --- | --- | ---: | ---: |")
    for r in rows:
        alpha = "-" if r.alpha is None else f"{r.alpha:g}"
        print(f"| {r.model} | {alpha} | {r.resolution} | {r.macs_millions:,.1f} | {r.params:,} |")


def build_parser(user_config: str | None = None,
                 target: str | None = None) -> argparse.ArgumentParser:
    """The command line; `user_config` (a --config file) supplies the defaults of pipeline
    `target` (of every pipeline when None)."""
    parser = argparse.ArgumentParser(
        prog="shipyard", description="Train, compress and ship Keras models with TFX.")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow / TFX / Beam logs and full tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    models = commands.add_parser("models", help="model families and their complexity tables")
    models_cmds = models.add_subparsers(dest="models_command", required=True, metavar="COMMAND")
    tbl = models_cmds.add_parser(
        "table",
        help="multiply-adds and parameters of each variant (the paper's model-choice table)")
    tbl.add_argument("model", choices=MODELS)
    tbl.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    tbl.set_defaults(handler=_models_table)

    from pipelines import commands as pipeline_commands

    pipeline_commands.add_commands(commands, user_config, target)
    for family in registry.all_families():
        family.add_commands(commands.add_parser)

    from pipelines import serve_commands as serving_commands

    serving_commands.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    try:
        parser = build_parser(config_file_argument(argv), pipeline_argument(argv))
        args = parser.parse_args(argv)
        logs.configure(args.verbose)
        args.handler(args)
    except ShipyardError as e:
        if verbose:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
