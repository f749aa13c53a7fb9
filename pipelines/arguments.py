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
