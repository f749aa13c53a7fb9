"""Image classification: MobileNet v1 or Inception v3 on images with class labels."""
from __future__ import annotations

import argparse
import os

from models.variants import VARIANTS
from pipelines import arguments
from pipelines.errors import ShipyardError
from pipelines.family import Family, FamilyEvaluation, FamilyModules, PipelinePaths
from pipelines.image_classification import data
from pipelines.image_classification.settings import ACCURACY, MODELS, NAME

MOBILE_VARIANTS = tuple(VARIANTS)
# Train images the logistic-regression baseline is fitted on, at most (the first ones).
MAX_BASELINE_EXAMPLES = 20000


def _check(args: argparse.Namespace) -> None:
    if args.resolution is None:
        args.resolution = 75 if args.model == "inception_v3" else 32
    minimum = 75 if args.model == "inception_v3" else 32
    if args.resolution < minimum:
        raise ShipyardError(f"--resolution {args.resolution} is too small for {args.model} "
                            f"(minimum {minimum})")
    if not 0 < args.alpha <= 4:
        raise ShipyardError(f"--alpha must be in (0, 4], got {args.alpha}")
    arguments.check_training(args)
    arguments.check_recipe(args)
    arguments.check_augmentation(args)
    arguments.at_least(args, 1, "depth_multiplier", "min_images_per_class")
    arguments.within(args, 0, 1, "dropout", open_high=True)
    arguments.within(args, 0, 1, "min_accuracy")
    if args.weights and "://" not in args.weights and not os.path.isfile(args.weights):
        raise ShipyardError(f"weights file not found: {args.weights}")
    _check_mobile(args)


def _check_mobile(args: argparse.Namespace) -> None:
    if not arguments.check_mobile(args, MOBILE_VARIANTS):
        return
    arguments.within(args, 0, 1, "max_metric_drop")
    arguments.at_least(args, 1, "fine_tune_steps")
    arguments.positive(args, "fine_tune_learning_rate")
    if not 0 < args.sparsity < 1:
        raise ShipyardError(f"--sparsity must be in (0, 1), got {args.sparsity}")
    arguments.at_least(args, 2, "clusters")
    _check_budgets(args)


def _budgeted(args: argparse.Namespace) -> bool:
    return args.latency_budget_ms is not None or args.size_budget_mb is not None


def _check_budgets(args: argparse.Namespace) -> None:
    if not _budgeted(args):
        return
    for flag in ("latency_budget_ms", "size_budget_mb"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise ShipyardError(f"--{flag.replace('_', '-')} must be positive, got {value}")
    if args.model != "mobilenet_v1":
        raise ShipyardError("--latency-budget-ms / --size-budget-mb choose among MobileNet "
                            f"α × resolution candidates; --model {args.model} has no such grid")
    if not args.grid_alphas or any(not 0 < a <= 4 for a in args.grid_alphas):
        raise ShipyardError(f"--grid-alphas must be in (0, 4], got {args.grid_alphas}")
    if not args.grid_resolutions or min(args.grid_resolutions) < 32:
        raise ShipyardError(f"--grid-resolutions must be at least 32, got "
                            f"{args.grid_resolutions}")
    if args.grid_train_steps < 1:
        raise ShipyardError(f"--grid-train-steps must be at least 1, got "
                            f"{args.grid_train_steps}")


def choose_model(args: argparse.Namespace, data_root: str) -> argparse.Namespace:
    """With a latency or size budget: screen the α × resolution grid on the run's data, print
    the table, and return the settings that train the most accurate candidate that fits; the
    fidelity gate then holds the pushed .tflite to the same budgets."""
    if not _budgeted(args):
        return args
    from models.image_classification import candidates

    grid = [(a, r) for a in args.grid_alphas for r in args.grid_resolutions]
    print(f"{NAME}: screening {len(grid)} MobileNet candidates ({args.grid_variant} on "
          f"LiteRT, {args.grid_train_steps} training steps each)", flush=True)
    images, label_ids, names = candidates.read_examples(data.find_tfrecords(data_root))
    screened = candidates.screen(
        images, label_ids, len(names), grid, args.grid_variant, args.grid_train_steps,
        args.batch_size, args.learning_rate, args.size_budget_mb, args.latency_budget_ms,
        io_type=args.tflite_io)
    chosen = candidates.choose(screened)
    print(candidates.render(screened, args.grid_variant, chosen), flush=True)
    if chosen is None:
        raise ShipyardError("no candidate fits the budgets (table above): raise "
                            "--latency-budget-ms / --size-budget-mb or add smaller --grid-alphas "
                            "/ --grid-resolutions")
    print(f"{NAME}: chosen α {chosen.alpha:g} at {chosen.resolution} px", flush=True)
    variants = args.variants
    if variants != ["none"] and args.grid_variant not in variants:
        variants = [*variants, args.grid_variant]
    return argparse.Namespace(**{
        **vars(args), "alpha": chosen.alpha, "resolution": chosen.resolution,
        "variants": variants,
        "max_size_mb": min(filter(None, [args.max_size_mb, args.size_budget_mb]), default=None),
        "max_latency_ms": min(filter(None, [args.max_latency_ms, args.latency_budget_ms]),
                              default=None)})


def mobile_config(args: argparse.Namespace) -> dict | None:
    """The JSON config of the mobile components (components/mobile.py), or None."""
    return arguments.mobile_config(
        args, f"models.{NAME}.mobile", io_type=args.tflite_io,
        batch_size=args.batch_size,
        fine_tune={"steps": args.fine_tune_steps, "sparsity": args.sparsity,
                   "clusters": args.clusters, "learning_rate": args.fine_tune_learning_rate})


class ImageClassification(Family):
    """MobileNet v1 (Howard et al. 2017) or Inception v3 (Szegedy et al. 2016) on images with
    class labels, scored by FamilyEvaluator (models/image_classification/evaluation.py):
    accuracy, top-3 accuracy and per-label slices, beside a logistic-regression baseline."""

    name = NAME
    help = "MobileNet v1 / Inception v3 image classifier (default: bundled digits)"
    headline_metric = ACCURACY
    mixed_precision = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The flags; their defaults are in pipelines/image_classification/config.yaml."""
        parser.add_argument("--model", choices=MODELS)
        parser.add_argument("--alpha", type=float, help="MobileNet width multiplier α")
        parser.add_argument("--depth-multiplier", type=int,
                            help="MobileNet depthwise channel multiplier")
        parser.add_argument("--resolution", type=int,
                            help="input size in pixels (default 32 for MobileNet, 75 for "
                                 "Inception v3)")
        parser.add_argument("--dropout", type=float)
        parser.add_argument("--data-dir",
                            help="folder of class sub-folders of JPEG/PNG images, or of TFRecord "
                                 "files of tf.Examples (image, label); default: bundled digits")
        arguments.add_training_arguments(parser)
        arguments.add_recipe_arguments(parser)
        arguments.add_augmentation_arguments(parser)
        parser.add_argument("--min-accuracy", type=float,
                            help="blessing threshold on eval accuracy (also: no regression vs the "
                                 "latest blessed model)")
        arguments.add_min_lift(parser, "accuracy", "logistic regression on the transformed "
                                                   "pixels")
        parser.add_argument("--min-images-per-class", type=int)
        parser.add_argument("--weights",
                            help="optional local Keras weights file (.h5) to initialise the model")
        mobile = arguments.add_mobile_arguments(parser, MOBILE_VARIANTS, "accuracy")
        mobile.add_argument("--fine-tune-steps", type=int,
                            help="fine-tuning steps of QAT / pruning / clustering")
        mobile.add_argument("--fine-tune-learning-rate", type=float,
                            help="constant Adam rate of the fine-tuning (the trained model "
                                 "ends its schedule near 0; a large rate undoes it)")
        mobile.add_argument("--sparsity", type=float,
                            help="target sparsity of the pruned variants")
        mobile.add_argument("--clusters", type=int,
                            help="weight clusters per kernel of the clustered variants")
        mobile.add_argument("--tflite-io", choices=["uint8", "int8"],
                            help="input/output type of the integer models (uint8 is what "
                                 "Android's Task Library loads)")
        choice = parser.add_argument_group(
            "budget-driven model choice (MobileNet α × resolution grid, screened on LiteRT)")
        choice.add_argument("--latency-budget-ms", type=float,
                            help="largest single-thread p50 latency of the phone model; with "
                                 "--size-budget-mb, picks α and resolution from the grid")
        choice.add_argument("--size-budget-mb", type=float,
                            help="largest .tflite file of the phone model")
        choice.add_argument("--grid-alphas", type=float, nargs="+", metavar="ALPHA",
                            help="width multipliers α screened")
        choice.add_argument("--grid-resolutions", type=int, nargs="+", metavar="PIXELS",
                            help="input resolutions screened")
        choice.add_argument("--grid-train-steps", type=int,
                            help="training steps of each screened candidate")
        choice.add_argument("--grid-variant", choices=["float32", "float16", "dynamic", "int8"],
                            help="the TFLite conversion the budgets apply to")

    def modules(self, args: argparse.Namespace, paths: PipelinePaths) -> FamilyModules:
        _check(args)
        top_k = 3
        custom_config = {
            "model": args.model, "alpha": args.alpha, "depth_multiplier": args.depth_multiplier,
            "resolution": args.resolution, "dropout": args.dropout,
            "batch_size": args.batch_size, "learning_rate": args.learning_rate, "top_k": top_k,
            "weights_file": args.weights and (args.weights if "://" in args.weights
                                              else os.path.abspath(args.weights)),
            "backup_dir": os.path.join(paths.checkpoints, "backup"),
            **arguments.recipe_config(args), "augment": arguments.augmentation_config(args),
        }
        return FamilyModules(
            preprocessing_fn=self.module("preprocessing.preprocessing_fn"),
            run_fn=self.module("trainer.run_fn"),
            evaluation=FamilyEvaluation(
                self.module("evaluation"), ACCURACY, args.min_accuracy, min_lift=args.min_lift,
                settings={"top_k": top_k, "max_baseline_examples": MAX_BASELINE_EXAMPLES}),
            custom_config=custom_config,
            train_steps=args.train_steps, eval_steps=args.eval_steps,
            mobile=mobile_config(args))

    def prepare_data(self, args: argparse.Namespace, paths: PipelinePaths) -> str:
        if args.data_dir:
            return data.prepare(args.data_dir, paths.data_cache, args.min_images_per_class)
        return data.build_digits(os.path.join(paths.data_cache, "digits"))

    def serve_hint(self, serving_dir: str) -> str:
        output_dir = os.path.dirname(os.path.dirname(os.path.abspath(serving_dir)))
        return (f"shipyard serve --output-dir {output_dir}   (or TF Serving: "
                f"tensorflow_model_server --rest_api_port=8501 --model_name={NAME} "
                f"--model_base_path={os.path.abspath(serving_dir)})")

    def settle(self, args: argparse.Namespace, paths: PipelinePaths,
               data_root: str) -> argparse.Namespace:
        return choose_model(args, data_root)
