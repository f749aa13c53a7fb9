"""`shipyard run PIPELINE` and `shipyard runs`, built from the pipeline registry."""
from __future__ import annotations

import argparse
import datetime
import os

from pipelines import registry
from pipelines.errors import ShipyardError
from pipelines.spec import PipelinePaths

DEFAULT_OUTPUT = "shipyard-output"


def _pipeline_failure(error: Exception) -> ShipyardError | None:
    """The user-facing message of a failure inside a component, if it is a data problem."""
    from components.data_gate import DataValidationError

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DataValidationError | ShipyardError):
            return ShipyardError(str(error))
        error = error.__cause__ or error.__context__
    return None


def run_pipeline(args: argparse.Namespace) -> dict:
    from pipelines import builder, report, runner_local
    from pipelines.logs import quiet_tensorflow
    from pipelines.metadata import list_runs

    definition = registry.get(args.pipeline)
    paths = PipelinePaths(os.path.abspath(args.output_dir), definition.name)
    if args.schema and not os.path.isfile(args.schema):
        raise ShipyardError(f"schema file not found: {args.schema}")
    data_root, family = definition.prepare(args, paths)
    quiet_tensorflow()
    pipeline = builder.create_pipeline(paths, data_root, family, beam_args=args.beam_arg,
                                       enable_cache=not args.no_cache,
                                       schema_file=args.schema and os.path.abspath(args.schema))
    print(f"{definition.name}: data {data_root}\n  pipeline root {paths.root}")
    try:
        runner_local.run(pipeline, verbose=args.verbose)
    except Exception as e:
        failure = _pipeline_failure(e)
        if failure is None or args.verbose:
            raise
        raise failure from None
    run = list_runs(paths.metadata, definition.name)[-1]
    result = report.build(run, definition.headline_metric, definition.serve_hint(paths.serving))
    report.write(result, os.path.join(paths.root, "reports", f"{run.run_id}.json"))
    print(report.render(result))
    return result


def list_past_runs(args: argparse.Namespace) -> None:
    from pipelines.metadata import list_runs, load_metrics

    metadata = PipelinePaths(os.path.abspath(args.output_dir), "-").metadata
    runs = list_runs(metadata, args.pipeline)
    if not runs:
        print(f"no runs recorded in {metadata}")
        return
    print("| started | pipeline | run | status | accuracy | blessed | pushed |")
    print("| --- | --- | --- | --- | ---: | --- | --- |")
    for r in runs:
        started = datetime.datetime.fromtimestamp(r.started).strftime("%Y-%m-%d %H:%M:%S")
        metrics = load_metrics(r.evaluation_uri).get("overall", {}) if r.evaluation_uri else {}
        headline = registry.get(r.pipeline).headline_metric \
            if r.pipeline in {d.name for d in registry.all_pipelines()} else ""
        value = f"{metrics[headline]:.4f}" if headline in metrics else "-"
        blessed = {True: "yes", False: "no", None: "-"}[r.blessed]
        pushed = os.path.basename(r.pushed_to) if r.pushed_to else "-"
        print(f"| {started} | {r.pipeline} | {r.run_id} | {r.status} | {value} | {blessed} "
              f"| {pushed} |")


def add_commands(commands) -> None:
    run = commands.add_parser("run", help="run a pipeline end to end (TFX LocalDagRunner)")
    pipelines = run.add_subparsers(dest="pipeline", required=True, metavar="PIPELINE")
    for definition in registry.all_pipelines():
        parser = pipelines.add_parser(definition.name, help=definition.help)
        definition.add_arguments(parser)
        parser.add_argument("--output-dir", default=DEFAULT_OUTPUT,
                            help="pipeline root, ML Metadata, serving base (default %(default)s)")
        parser.add_argument("--beam-arg", action="append", default=[],
                            help="Beam pipeline argument, repeatable (--beam-arg=--runner=...)")
        parser.add_argument("--schema", default=None,
                            help="curated schema.pbtxt to validate the data against (default: "
                                 "inferred from the train split)")
        parser.add_argument("--no-cache", action="store_true", help="re-run every component")
        parser.set_defaults(handler=run_pipeline)

    runs = commands.add_parser("runs", help="list past runs from ML Metadata")
    runs.add_argument("pipeline", nargs="?", help="only this pipeline")
    runs.add_argument("--output-dir", default=DEFAULT_OUTPUT)
    runs.set_defaults(handler=list_past_runs)
