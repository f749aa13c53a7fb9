"""Training-recipe ablations on the bundled digits: what each piece of the recipe is worth.

MobileNet v1 (the pipeline's default model and settings, pipelines/image_classification/
config.yaml) and Inception v3 (at its 75 px minimum, on a smaller step budget) are trained
with the Trainer's own code — the model builder and compile (models/image_classification/
trainer.py), the augmentation (models/augment.py) and fit_steps with the techniques
(models/training.py) — on the pipeline's transformed pixels, without the TFX pipeline around
them. Ablations: the full recipe; without augmentation; with a constant rate; without label
smoothing; with SWA; with AdaBatch. Three seeds each (weights, shuffle, augmentation; one fixed
stratified 80/20 split), reported as the mean and range of held-out accuracy and the training
time, beside the logistic-regression baseline of the pipeline's Evaluator on the same split.
Writes benchmarks/results/recipe_ablation.{json,md}.

    python -m benchmarks.recipe_ablation [--models mobilenet_v1 inception_v3] [--seeds 0 1 2]
        [--train-steps 1500] [--ablations full swa ...]
        [--inception-train-steps 25] [--inception-ablations full ...]

On a shared 2-core machine the defaults are cut to what fits in about 40 minutes: MobileNet
at 200 of the pipeline's 1,500 steps, Inception v3 (~12 s a step at 75 px under load) at 20
steps, full recipe only. The tables say which budget they used.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import json
import tempfile
import time
from typing import Any

import numpy as np
import tensorflow as tf

from benchmarks import results as benchmark_results
from models.augment import Augmentation, features_augmenter
from models.image_classification import candidates, evaluation, trainer
from models.image_classification.features import IMAGE_KEY, decode_and_resize
from models.keras2 import keras
from models.training import fit_steps
from pipelines import config as pipeline_config
from pipelines.image_classification import data

NAME = "recipe_ablation"
# Each ablation changes the default recipe in one place.
ABLATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "full": ("full recipe (the defaults)", {}),
    "no_augmentation": ("no augmentation", {"augment": None}),
    "constant_schedule": ("constant rate (no warm-up, no decay)", {"lr_schedule": "constant"}),
    "no_label_smoothing": ("no label smoothing", {"label_smoothing": 0.0}),
    "swa": ("+ SWA from 3/4 (--swa-start 0.75)", {"swa_start": 0.75}),
    "adabatch": ("+ AdaBatch, 2 stages (--adabatch-stages 2)", {"adabatch_stages": 2}),
}
TITLES = {"mobilenet_v1": "MobileNet v1", "inception_v3": "Inception v3"}


def default_config(model: str) -> dict[str, Any]:
    """The Trainer's custom config as `make run` builds it from the shipped YAML."""
    settings = pipeline_config.packaged("image_classification")
    resolution = settings["resolution"] or (75 if model == "inception_v3" else 32)
    augment = ({k: settings[k] for k in ("shift", "rotation", "zoom", "flip")}
               if settings["augment"] else None)
    return {"model": model, "alpha": settings["alpha"],
            "depth_multiplier": settings["depth_multiplier"], "resolution": resolution,
            "dropout": settings["dropout"], "batch_size": settings["batch_size"],
            "learning_rate": settings["learning_rate"], "lr_schedule": settings["lr_schedule"],
            "warmup_steps": settings["warmup_steps"],
            "label_smoothing": settings["label_smoothing"],
            "weight_decay": settings["weight_decay"], "augment": augment,
            "swa_start": settings.get("swa_start", 0.0),
            "adabatch_stages": settings.get("adabatch_stages", 1)}


def digits(resolution: int) -> tuple[np.ndarray, ...]:
    """The bundled digits as the pipeline's Transform output (PNG bytes decoded and resized
    by the same function), stratified 80/20 split with seed 0."""
    from sklearn.model_selection import train_test_split

    with tempfile.TemporaryDirectory() as tmp:
        directory = data.build_digits(tmp)
        files = [os.path.join(directory, f) for f in sorted(os.listdir(directory))]
        images, labels, _ = candidates.read_examples(files, limit=10 ** 6)
    pixels = decode_and_resize(tf.constant(images), resolution).numpy()
    return tuple(train_test_split(pixels, labels, test_size=0.2, random_state=0,
                                  stratify=labels))


def train_once(config: dict[str, Any], steps: int, seed: int, split: tuple[np.ndarray, ...],
               compiled: dict[str, keras.Model]) -> dict[str, float]:
    """One training run from fresh weights of `seed`. The seeds of an ablation share one
    compiled model (`compiled`, keyed by config): its weights and optimizer state are reset
    to a fresh model's, so TensorFlow traces the training step once per ablation, not once
    per seed (tracing took a minute of each run on a loaded 2-core machine)."""
    x_train, x_test, y_train, y_test = split
    keras.utils.set_random_seed(seed)
    fresh = trainer.build_model(config, num_classes=10, train_steps=steps)
    key = json.dumps(config, sort_keys=True, default=str)
    model = compiled.setdefault(key, fresh)
    if model is not fresh:
        model.set_weights(fresh.get_weights())
        for variable in model.optimizer.variables:  # step count and Adam's moments
            variable.assign(tf.zeros_like(variable))
    augment = features_augmenter(Augmentation.from_config(config.get("augment")), IMAGE_KEY)
    dataset = tf.data.Dataset.from_tensor_slices(({IMAGE_KEY: x_train}, y_train)).cache()
    dataset = dataset.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(config["batch_size"])
    if augment is not None:
        dataset = dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.repeat().prefetch(tf.data.AUTOTUNE)
    with tempfile.TemporaryDirectory() as log_dir:
        start = time.monotonic()
        fit_steps(model, dataset, None, steps, 1, log_dir=log_dir, backup_dir=None,
                  epochs=1, config=config)
        seconds = time.monotonic() - start
    predictions = np.argmax(model.predict(x_test, batch_size=256, verbose=0), axis=1)
    return {"accuracy": float(np.mean(predictions == y_test)), "train_seconds": seconds,
            "optimizer_steps": int(model.optimizer.iterations.numpy())}


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    accuracies = [r["accuracy"] for r in runs]
    return {"accuracy_mean": float(np.mean(accuracies)), "accuracy_min": min(accuracies),
            "accuracy_max": max(accuracies),
            "train_seconds_median": float(np.median([r["train_seconds"] for r in runs])),
            "optimizer_steps": runs[0]["optimizer_steps"], "runs": runs}


def render(report: dict[str, Any]) -> str:
    lines = []
    for model, result in report["models"].items():
        lines += [f"## {TITLES[model]}, {result['resolution']} px: {result['train_steps']} "
                  f"steps of batch {result['batch_size']}"
                  + f" (of the pipeline's {result['pipeline_train_steps']:,}: a budget cut to "
                    "fit a shared 2-core machine)", "",
                  f"Logistic regression (the Evaluator's baseline) on the same split: "
                  f"**{result['baseline_accuracy']:.4f}**. Seeds: "
                  f"{', '.join(map(str, report['seeds']))}.", "",
                  "| recipe | eval accuracy, mean | range | vs baseline | train time (median) "
                  "| optimizer steps |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name, row in result["ablations"].items():
            lift = row["accuracy_mean"] - result["baseline_accuracy"]
            lines.append(f"| {ABLATIONS[name][0]} | {row['accuracy_mean']:.4f} | "
                         f"{row['accuracy_min']:.4f}–{row['accuracy_max']:.4f} | {lift:+.4f} | "
                         f"{row['train_seconds_median']:.0f} s | {row['optimizer_steps']} |")
        lines.append("")
    if report.get("partial"):
        lines.append(f"**Partial results**: {report['partial']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(TITLES),
                        default=["mobilenet_v1", "inception_v3"])
    parser.add_argument("--ablations", nargs="+", choices=list(ABLATIONS),
                        default=list(ABLATIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-steps", type=int, default=200,
                        help="MobileNet steps (the pipeline trains 1,500)")
    parser.add_argument("--inception-train-steps", type=int, default=20)
    parser.add_argument("--inception-ablations", nargs="+", choices=list(ABLATIONS),
                        default=["full"])
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"seeds": args.seeds, "models": {}}
    for model in args.models:
        config = default_config(model)
        inception = model == "inception_v3"
        steps = args.inception_train_steps if inception else args.train_steps
        ablations = args.inception_ablations if inception else args.ablations
        split = digits(config["resolution"])
        x_train, x_test, y_train, y_test = split
        baseline = evaluation.logistic_regression(x_train, y_train, x_test, 10)
        result = report["models"][model] = {
            "resolution": config["resolution"], "train_steps": steps,
            "batch_size": config["batch_size"], "config": config,
            "pipeline_train_steps": pipeline_config.packaged(
                "image_classification")["train_steps"],
            "train_examples": int(len(y_train)), "eval_examples": int(len(y_test)),
            "baseline_accuracy": float(np.mean(np.argmax(baseline, 1) == y_test)),
            "ablations": {}}
        for name in ablations:
            runs, compiled = [], {}
            keras.backend.clear_session()
            for seed in args.seeds:
                run = train_once({**config, **ABLATIONS[name][1]}, steps, seed, split, compiled)
                runs.append(run)
                print(f"{model} {name} seed {seed}: accuracy {run['accuracy']:.4f} in "
                      f"{run['train_seconds']:.0f} s", flush=True)
            result["ablations"][name] = summary(runs)
            # Written after every ablation, so a run cut short leaves what it measured.
            done = {m: list(r["ablations"]) for m, r in report["models"].items()}
            report["partial"] = (None if model == args.models[-1] and name == ablations[-1]
                                 else f"written after {json.dumps(done)}")
            benchmark_results.write(NAME, report, render(report))
    print(render(report))


if __name__ == "__main__":
    main()
