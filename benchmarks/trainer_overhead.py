"""Training throughput of the pipeline's Trainer code path vs a bare tf_keras `fit`.

Both train the same MobileNet on the same transformed digits, side by side in one process,
alternating rounds. The pipeline path is what run_fn does: TFXIO dataset over the Transform
output, then `fit_steps` with TensorBoard, BackupAndRestore and progress callbacks. The bare path
is `model.fit` on in-memory numpy arrays. Throughput counts training batches after a warm-up
(tracing excluded). Writes benchmarks/results/trainer_overhead.{json,md}.

    python -m benchmarks.trainer_overhead [--steps 400] [--rounds 2]
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import glob
import json
import statistics
import tempfile
import time

from benchmarks import results as benchmark_results

WARMUP_STEPS = 30


class Throughput:
    """Keras callback: examples/s over training batches after the warm-up."""

    def __init__(self, batch_size: int):
        import tf_keras as keras

        outer = self

        class _Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                outer.step += 1
                if outer.step == WARMUP_STEPS:
                    outer.start = time.perf_counter()
                elif outer.step > WARMUP_STEPS:
                    outer.end = time.perf_counter()

        self.batch_size = batch_size
        self.step = 0
        self.start = self.end = 0.0
        self.callback = _Callback()

    @property
    def examples_per_second(self) -> float:
        return (self.step - WARMUP_STEPS) * self.batch_size / (self.end - self.start)


def _transform_outputs(output_dir: str) -> tuple[str, str, str]:
    """Runs the pipeline once (tiny budget) and returns its Transform and Schema outputs."""
    from pipelines.cli import main

    root = os.path.join(output_dir, "pipelines", "image-classification")
    if not glob.glob(os.path.join(root, "Transform", "transformed_examples", "*")):
        main(["run", "image-classification", "--train-steps", "40", "--min-accuracy", "0",
              "--output-dir", output_dir])
    latest = lambda pattern: sorted(glob.glob(os.path.join(root, pattern)),  # noqa: E731
                                    key=lambda p: int(os.path.basename(p)))[-1]
    return (latest("Transform/transformed_examples/*"), latest("Transform/transform_graph/*"),
            latest("SchemaGen/schema/*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output-dir", default=os.path.join(tempfile.gettempdir(),
                                                             "shipyard-bench"))
    args = parser.parse_args()

    examples_uri, graph_uri, schema_uri = _transform_outputs(args.output_dir)
    import numpy as np
    from tfx.components.trainer import fn_args_utils
    from tfx.types import standard_artifacts

    from models.image_classification import trainer
    from models.image_classification.features import LABEL_KEY
    from models.training import fit_steps, transformed_dataset

    examples = standard_artifacts.Examples()
    examples.uri, examples.split_names = examples_uri, '["train", "eval"]'
    graph, schema = standard_artifacts.TransformGraph(), standard_artifacts.Schema()
    graph.uri, schema.uri = graph_uri, schema_uri
    config = {"model": "mobilenet_v1", "alpha": 0.25, "resolution": 32,
              "batch_size": args.batch_size}
    fn_args = fn_args_utils.get_common_fn_args(
        {"examples": [examples], "transform_graph": [graph], "schema": [schema]},
        {"train_args": json.dumps({"num_steps": args.steps}),
         "eval_args": json.dumps({"num_steps": 5}), "custom_config": json.dumps(config)})
    import tensorflow_transform as tft

    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    train_ds = transformed_dataset(fn_args, fn_args.train_files, tft_output, LABEL_KEY,
                                   args.batch_size, True)
    eval_ds = transformed_dataset(fn_args, fn_args.eval_files, tft_output, LABEL_KEY,
                                  args.batch_size, False)
    # The same examples in memory for the bare fit.
    images, labels = [], []
    for x, y in transformed_dataset(fn_args, fn_args.train_files, tft_output, LABEL_KEY,
                                        256, False).take(6):
        images.append(x["image"].numpy())
        labels.append(y.numpy())
    # Whole batches only, so every counted step is `batch_size` examples on both paths.
    n = len(np.concatenate(labels)) // args.batch_size * args.batch_size
    x_train, y_train = np.concatenate(images)[:n], np.concatenate(labels)[:n]

    results: dict[str, list[float]] = {"pipeline_trainer": [], "bare_fit": []}
    for _ in range(args.rounds):
        meter = Throughput(args.batch_size)
        model = trainer.build_model(config, num_classes=10)
        with tempfile.TemporaryDirectory() as logs:
            fit_steps(model, train_ds, eval_ds, args.steps, 5, log_dir=logs,
                      backup_dir=os.path.join(logs, "backup"), epochs=1,
                      extra_callbacks=[meter.callback])
        results["pipeline_trainer"].append(meter.examples_per_second)

        meter = Throughput(args.batch_size)
        model = trainer.build_model(config, num_classes=10)
        epochs = -(-args.steps * args.batch_size // len(x_train))
        model.fit(x_train, y_train, batch_size=args.batch_size, epochs=epochs,
                  steps_per_epoch=None, callbacks=[meter.callback], verbose=0)
        results["bare_fit"].append(meter.examples_per_second)

    pipeline = statistics.median(results["pipeline_trainer"])
    bare = statistics.median(results["bare_fit"])
    overhead = 1 - pipeline / bare
    report = {"model": "mobilenet_v1 alpha 0.25, 32 px, digits", "batch_size": args.batch_size,
              "steps": args.steps, "rounds": args.rounds, "examples_per_second": results,
              "median_pipeline": pipeline, "median_bare": bare, "ratio": pipeline / bare,
              "overhead": overhead, "target_overhead": 0.10, "meets_target": overhead <= 0.10}
    table = "\n".join([
        "| path | examples/s (median) | rounds |", "| --- | ---: | --- |",
        f"| pipeline Trainer (TFXIO + callbacks) | {pipeline:,.0f} | "
        f"{', '.join(f'{v:,.0f}' for v in results['pipeline_trainer'])} |",
        f"| bare tf_keras fit (numpy) | {bare:,.0f} | "
        f"{', '.join(f'{v:,.0f}' for v in results['bare_fit'])} |",
        "", f"ratio pipeline / bare: {pipeline / bare:.3f} "
        f"(overhead {overhead:.1%}, target ≤ 10 %)"])
    benchmark_results.write("trainer_overhead", report, table)
    print(json.dumps(report, indent=2))
    print(table)


if __name__ == "__main__":
    main()
