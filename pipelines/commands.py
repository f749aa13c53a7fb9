"""`shipyard run | compile | config show PIPELINE` and `shipyard runs`, built from the registry."""
from __future__ import annotations

import argparse
import datetime
import os
import sys

from pipelines import config, registry
from pipelines.errors import ShipyardError
from pipelines.family import PipelinePaths

TARGETS = ("kubeflow", "airflow")


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

    family = registry.get(args.pipeline)
    paths = PipelinePaths(os.path.abspath(args.output_dir), family.pipeline_name)
    if args.schema and not os.path.isfile(args.schema):
        raise ShipyardError(f"schema file not found: {args.schema}")
    family.pipeline_modules(args, paths)  # bad settings stop before data work
    beam_args = config.beam_pipeline_args(vars(args))
    data_root = family.prepare_data(args, paths)
    # Data-dependent settings (model choice) are settled now, and checked again.
    args = family.settle(args, paths, data_root)
    modules = family.pipeline_modules(args, paths)
    if args.strategy == "mirrored" and args.cpu_devices > 1:
        from models.training import use_logical_cpu_devices

        # The Trainer runs in this process: split the CPU before any component starts TF.
        use_logical_cpu_devices(args.cpu_devices)
    quiet_tensorflow()
    pipeline = builder.create_pipeline(
        paths, data_root, modules, beam_args=beam_args, enable_cache=not args.no_cache,
        schema_file=args.schema and os.path.abspath(args.schema), metadata_path=paths.metadata)
    print(f"{family.pipeline_name}: data {data_root}\n  pipeline root {paths.root}")
    try:
        runner_local.run(pipeline, verbose=args.verbose)
    except Exception as e:
        failure = _pipeline_failure(e)
        if failure is None or args.verbose:
            raise
        raise failure from None
    run = list_runs(paths.metadata, family.pipeline_name)[-1]
    result = report.build(run, family.headline_metric, family.serve_hint(paths.serving))
    report.write(result, os.path.join(paths.root, "reports", f"{run.run_id}.json"))
    print(report.render(result))
    return result


def compile_pipeline(args: argparse.Namespace) -> None:
    from pipelines import compiler

    family = registry.get(args.pipeline)
    settings = config.effective(args, family.name)
    if args.target == "kubeflow":
        if not args.image:
            raise ShipyardError("--target kubeflow needs --image (the container image that "
                                "has Shipyard installed; see the Dockerfile)")
        compiler.compile_kubeflow(family, settings, args.pipeline_root, args.data_root,
                                  args.image, args.output)
    else:
        compiler.compile_airflow(family, settings, args.pipeline_root, args.data_root,
                                 args.output)
    print(f"{family.pipeline_name}: {args.target} pipeline written to {args.output}")


def show_config(args: argparse.Namespace) -> None:
    family = registry.get(args.pipeline)
    # Checks every value, and fills in what depends on others (e.g. the model's resolution).
    paths = PipelinePaths(os.path.abspath(args.output_dir), family.pipeline_name)
    family.pipeline_modules(args, paths)
    print(config.render(config.effective(args, family.name)), end="")


def _headline(evaluation, metric: str | None) -> tuple[str, str]:
    """(the model's headline metric, the best baseline's on it) as table cells."""
    metric = evaluation.metric or metric
    if metric not in evaluation.metrics:
        return "-", "-"
    scored = {name: values[metric] for name, values in evaluation.baselines.items()
              if metric in values}
    # The evaluator records which baseline is best; an old run's report shows them all.
    best = evaluation.best_baseline or (next(iter(scored)) if len(scored) == 1 else None)
    baseline = f"{best.replace('_', '-')} {scored[best]:.4f}" if best in scored else "-"
    return f"{metric} {evaluation.metrics[metric]:.4f}", baseline


def list_past_runs(args: argparse.Namespace) -> None:
    """The runs in ML Metadata, read with ml_metadata alone (no TensorFlow: it answers in a
    second where importing TFMA took half a minute)."""
    from pipelines.metadata import list_runs

    metadata = PipelinePaths(os.path.abspath(args.output_dir), "-").metadata
    runs = list_runs(metadata, args.pipeline and registry.get(args.pipeline).pipeline_name)
    if not runs:
        print(f"no runs recorded in {metadata}")
        return
    headlines = {f.pipeline_name: f.headline_metric for f in registry.all_families()}
    print("| started | pipeline | run | status | metric | best baseline | blessed | pushed |")
    print("| --- | --- | --- | --- | ---: | ---: | --- | --- |")
    for r in runs:
        started = datetime.datetime.fromtimestamp(r.started).strftime("%Y-%m-%d %H:%M:%S")
        value, baseline = _headline(r.evaluation, headlines.get(r.pipeline))
        blessed = {True: "yes", False: "no", None: "-"}[r.blessed]
        if r.blessed is False and r.blessing_message:
            blessed = f"no: {r.blessing_message}"
        pushed = os.path.basename(r.pushed_to) if r.pushed_to else "-"
        print(f"| {started} | {r.pipeline} | {r.run_id} | {r.status} | {value} | {baseline} "
              f"| {blessed} | {pushed} |")


def run_beam_worker_pool(args: argparse.Namespace) -> None:
    """Beam's external SDK worker pool (apache_beam.runners.worker.worker_pool_main), which
    `--beam-worker-pool HOST:PORT` runs every Beam stage on: it starts one worker process per
    SDK worker a pipeline asks for. It starts them as `python` from PATH, so this Python goes
    first on it, with Shipyard importable and Keras 2 selected (models/__init__.py)."""
    import pipelines

    root = os.path.dirname(os.path.dirname(os.path.abspath(pipelines.__file__)))
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    print(f"Beam SDK worker pool on port {args.port}; pipelines use it with "
          f"--beam-worker-pool HOST:{args.port}", flush=True)
    os.execve(sys.executable, [sys.executable, "-m",
                               "apache_beam.runners.worker.worker_pool_main",
                               f"--service_port={args.port}"], env)


def _pipeline_parsers(commands, command: str, help_text: str, user_config: str | None,
                      target: str | None = None):
    """One sub-command per registered pipeline, its defaults from the pipeline's config."""
    parser = commands.add_parser(command, help=help_text)
    pipelines = parser.add_subparsers(dest="pipeline", required=True, metavar="PIPELINE")
    for family in registry.all_families():
        sub = pipelines.add_parser(family.name, aliases=[family.pipeline_name], help=family.help)
        family.add_arguments(sub)
        config.add_common_arguments(sub)
        # A user's file is written for the pipeline the command names; other pipelines'
        # parsers keep their shipped defaults (their settings differ).
        named = target in (None, family.name, family.pipeline_name)
        config.apply_defaults(sub, family.name, user_config if named else None)
        yield sub


def add_commands(commands, user_config: str | None = None, target: str | None = None) -> None:
    for sub in _pipeline_parsers(commands, "run", "run a pipeline end to end (TFX "
                                 "LocalDagRunner)", user_config, target):
        sub.set_defaults(handler=run_pipeline)

    for sub in _pipeline_parsers(commands, "compile", "compile a pipeline for Kubeflow "
                                 "Pipelines / Vertex AI or Airflow", user_config, target):
        sub.add_argument("--target", choices=TARGETS, required=True)
        sub.add_argument("--output", required=True, metavar="FILE",
                         help="pipeline spec (.json) for kubeflow, DAG module (.py) for airflow")
        sub.add_argument("--pipeline-root", required=True, metavar="URI",
                         help="where the pipeline writes on the target (gs://…, /gcs/…, a "
                              "mounted volume): artifacts, serving base, checkpoints")
        sub.add_argument("--data-root", required=True, metavar="URI",
                         help="folder of tf.Example TFRecords on the target (a run-time "
                              "parameter of the Kubeflow pipeline)")
        sub.add_argument("--image", help="container image for kubeflow (see Dockerfile)")
        sub.set_defaults(handler=compile_pipeline)

    config_parser = commands.add_parser("config", help="pipeline configuration")
    config_cmds = config_parser.add_subparsers(dest="config_command", required=True,
                                               metavar="COMMAND")
    for sub in _pipeline_parsers(config_cmds, "show", "print the effective configuration "
                                 "(config files, then flags)", user_config, target):
        sub.set_defaults(handler=show_config)

    pool = commands.add_parser("beam-worker-pool", help="serve Beam SDK worker processes for "
                               "pipelines run with --beam-worker-pool (docs/scale.md)")
    pool.add_argument("--port", type=int, default=50000)
    pool.set_defaults(handler=run_beam_worker_pool)

    runs = commands.add_parser("runs", help="list past runs from ML Metadata")
    runs.add_argument("pipeline", nargs="?", help="only this pipeline")
    runs.add_argument("--output-dir", default=config.common()["output_dir"])
    runs.set_defaults(handler=list_past_runs)

