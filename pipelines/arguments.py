"""Flags every pipeline shares, and the one-line checks of settings (their defaults live in the
pipelines' YAML configs)."""
from __future__ import annotations

import argparse
from typing import Any

from models.schedules import LR_SCHEDULES, PRECISIONS
from pipelines.errors import ShipyardError


def add_training_arguments(parser: Any) -> None:
    """--train-steps, --eval-steps, --batch-size, --learning-rate (a parser or a group)."""
    parser.add_argument("--train-steps", type=int)
    parser.add_argument("--eval-steps", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)


def add_min_lift(parser: Any, metric: str, baselines: str) -> None:
    """--min-lift: how much the model's `metric` must beat its best baseline by to be blessed."""
    parser.add_argument("--min-lift", type=float,
                        help=f"blessing: held-out {metric} must beat the best baseline "
                             f"({baselines}, same eval split) by at least this (absolute); "
                             "a negative value lets a model lose by that much")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def at_least(args: argparse.Namespace, minimum: int, *names: str) -> None:
    """Each named setting (unset ones skipped) is at least `minimum`."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < minimum:
            raise ShipyardError(f"{_flag(name)} must be at least {minimum}, got {value}")


def positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ShipyardError(f"{_flag(name)} must be positive, got {value}")


def within(args: argparse.Namespace, low: float, high: float, *names: str,
           open_high: bool = False) -> None:
    """Each named setting is in [low, high] ([low, high) with `open_high`)."""
    for name in names:
        value = getattr(args, name)
        if value is None:
            continue
        if not (low <= value < high if open_high else low <= value <= high):
            raise ShipyardError(f"{_flag(name)} must be in [{low:g}, {high:g}"
                                f"{')' if open_high else ']'}, got {value}")


def check_training(args: argparse.Namespace) -> None:
    """The shared training settings of add_training_arguments."""
    at_least(args, 1, "train_steps", "eval_steps", "batch_size")
    positive(args, "learning_rate")




def add_recipe_arguments(parser: Any) -> Any:
    """The training recipe's flags (models/training.py): learning-rate schedule, warm-up,
    label smoothing, weight decay. Returns the argument group."""
    recipe = parser.add_argument_group("training recipe")
    recipe.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                        help="constant; cosine: linear warm-up to --learning-rate, then cosine "
                             "decay to 0 at the last step; step: ÷10 at 1/2 and 3/4 of the steps")
    recipe.add_argument("--warmup-steps", type=int,
                        help="linear warm-up steps of cosine (at most half the training steps)")
    recipe.add_argument("--label-smoothing", type=float,
                        help="label smoothing ε of the cross-entropy (0: none)")
    recipe.add_argument("--weight-decay", type=float,
                        help="decoupled weight decay (AdamW); 0: Adam")
    return recipe


def check_recipe(args: argparse.Namespace) -> None:
    at_least(args, 0, "warmup_steps")
    within(args, 0, 1, "label_smoothing", open_high=True)
    within(args, 0, 1, "weight_decay")


def recipe_config(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe's part of a Trainer's custom config (models.training.build_optimizer)."""
    return {"lr_schedule": args.lr_schedule, "warmup_steps": args.warmup_steps or 0,
            "label_smoothing": args.label_smoothing or 0.0,
            "weight_decay": args.weight_decay or 0.0}


def add_technique_arguments(parser: Any) -> Any:
    """The trainer techniques every family's Trainer takes (models/training.py Techniques):
    SWA, AdaBatch, mixed precision, XLA. Returns the argument group."""
    group = parser.add_argument_group("trainer techniques (every family)")
    group.add_argument("--swa-start", type=float,
                       help="Stochastic Weight Averaging from this fraction of training: the "
                            "rate stays constant and the exported weights are the average "
                            "(batch-norm statistics recomputed); 0: off")
    group.add_argument("--adabatch-stages", type=int,
                       help="AdaBatch: train in this many stages of equal examples, the batch "
                            "doubling (and the rate × √2) at each; 1: off")
    group.add_argument("--mixed-precision", choices=PRECISIONS,
                       help="Keras dtype policy: mixed_float16 (GPUs), mixed_bfloat16 (TPUs, "
                            "recent CPUs); the export is float32 either way")
    group.add_argument("--jit-compile", action=argparse.BooleanOptionalAction,
                       help="XLA-compile the training step")
    return group


def check_techniques(args: argparse.Namespace) -> None:
    within(args, 0, 1, "swa_start", open_high=True)
    at_least(args, 1, "adabatch_stages")


def technique_config(args: argparse.Namespace) -> dict[str, Any]:
    """The techniques' part of a Trainer's custom config."""
    return {"swa_start": args.swa_start or 0.0, "adabatch_stages": args.adabatch_stages or 1,
            "mixed_precision": args.mixed_precision or "off",
            "jit_compile": bool(args.jit_compile)}


def add_augmentation_arguments(parser: Any) -> Any:
    """The image families' augmentation flags (models/augment.py). Returns the group."""
    augment = parser.add_argument_group("augmentation (training split only, in tf.data)")
    augment.add_argument("--augment", action=argparse.BooleanOptionalAction,
                         help="randomly shift, rotate and zoom the training images")
    augment.add_argument("--shift", type=float,
                         help="largest shift, a fraction of the image size")
    augment.add_argument("--rotation", type=float, help="largest rotation, degrees")
    augment.add_argument("--zoom", type=float, help="largest zoom in or out, a fraction")
    augment.add_argument("--flip", action=argparse.BooleanOptionalAction,
                         help="also mirror half the images left-right (not for digits or text)")
    return augment


def check_augmentation(args: argparse.Namespace) -> None:
    within(args, 0, 1, "shift", "zoom", open_high=True)
    within(args, 0, 180, "rotation")


def augmentation_config(args: argparse.Namespace) -> dict[str, Any] | None:
    """models.augment.Augmentation's settings, or None without --augment."""
    if not args.augment:
        return None
    return {"shift": args.shift, "rotation": args.rotation, "zoom": args.zoom,
            "flip": bool(args.flip)}


def add_mobile_arguments(parser: argparse.ArgumentParser, variants: tuple[str, ...],
                         metric: str, agreement: str | None = None) -> Any:
    """The mobile flags every pipeline shares: which TFLite variants to build and the fidelity
    gate's budgets; with `agreement` (what agreeing means, for the help), --min-agreement for a
    family whose mobile hook measures agreement with the SavedModel. Returns the argument
    group, for a family's own mobile flags."""
    mobile = parser.add_argument_group("mobile (TFLite variants, gated on LiteRT)")
    mobile.add_argument("--variants", nargs="+", metavar="VARIANT",
                        help=f"TFLite variants to build; 'none' builds none. Choices: "
                             f"{' '.join(variants)}")
    mobile.add_argument("--max-metric-drop", type=float,
                        help=f"largest {metric} drop vs the float model a variant may show "
                             "(absolute)")
    mobile.add_argument("--max-size-mb", type=float,
                        help="largest .tflite file size in MB (default: no limit)")
    mobile.add_argument("--max-latency-ms", type=float,
                        help="largest single-thread p50 latency in ms (default: no limit)")
    if agreement:
        mobile.add_argument("--min-agreement", type=float,
                            help=f"least share of held-out {agreement}")
    return mobile


def check_mobile(args: argparse.Namespace, variants: tuple[str, ...]) -> bool:
    """Checks the shared mobile flags; False when --variants none (no mobile components)."""
    if args.variants == ["none"]:
        return False
    unknown = [v for v in args.variants if v not in variants]
    if unknown:
        raise ShipyardError(f"unknown --variants {' '.join(unknown)}; choose from "
                            f"{', '.join(variants)} (or 'none')")
    if args.max_metric_drop < 0:
        raise ShipyardError(f"--max-metric-drop must not be negative, got "
                            f"{args.max_metric_drop}")
    positive(args, "max_size_mb", "max_latency_ms")
    if hasattr(args, "min_agreement"):
        within(args, 0, 1, "min_agreement")
    return True


def mobile_config(args: argparse.Namespace, module: str, **settings: Any) -> dict | None:
    """The JSON config of the mobile components (components/mobile.py) from the shared flags
    and the family's own `settings` (budgets given in settings["budgets"] are added)."""
    if args.variants == ["none"]:
        return None
    budgets = {"max_metric_drop": args.max_metric_drop, "max_size_mb": args.max_size_mb,
               "max_latency_ms": args.max_latency_ms, **settings.pop("budgets", {})}
    if hasattr(args, "min_agreement"):
        budgets["min_agreement"] = args.min_agreement
    return {"module": module, "variants": list(dict.fromkeys(args.variants)),
            "latency_runs": 50, **settings, "budgets": budgets}
