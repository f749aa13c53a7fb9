"""Flags every pipeline shares, and the one-line checks of settings (their defaults live in the
pipelines' YAML configs)."""
from __future__ import annotations

import argparse
from typing import Any

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
