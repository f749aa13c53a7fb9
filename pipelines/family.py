"""The family contract: what a model family plugs into the shared pipeline, and where a run
writes. No TFX or TensorFlow import, so the CLI starts fast.

A family is a `Family` subclass in `pipelines/<name>/definition.py`, listed in
`pipelines/registry.py`. Its model code lives in `models/<name>/` under fixed module names
(`preprocessing.preprocessing_fn`, `trainer.run_fn`, `evaluation`, `mobile`), so the pipeline
wires it by the family's name instead of dotted strings written out per family.
"""
from __future__ import annotations

import abc
import argparse
import dataclasses
import os
from collections.abc import Callable
from typing import Any

from pipelines import arguments
from pipelines.errors import ShipyardError

# `commands.add_parser` of the CLI's sub-commands: a family adds its own commands with it.
AddCommand = Callable[..., argparse.ArgumentParser]


@dataclasses.dataclass(frozen=True)
class FamilyEvaluation:
    """How components/family_evaluator.py judges the family's model: `<module>.evaluate`
    scores the export and the family's simple baselines (models/evaluation_hook.py's
    `HookResult`) on the `split` examples; the model is blessed when `metric` passes
    `threshold`, does not regress against the latest blessed model, beats the best baseline
    by at least `min_lift` (in the metric's units; a negative lift lets a model lose by that
    much, for tiny test budgets), and reaches each of `floors`. Its output is TFMA's
    format."""

    module: str
    metric: str
    threshold: float | None
    limit: int | None = None  # examples scored; None: all
    lower_is_better: bool = False
    split: str = "eval"
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)  # read by the hook
    min_lift: float | None = None  # None: baselines reported, not gated
    # {metric: least value}: further metrics of the hook the model must reach to be blessed
    # (Smart Reply's trigger recall and silence on the eval file).
    floors: dict[str, float] = dataclasses.field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        """The component's JSON config."""
        return {"module": self.module, "metric": self.metric, "threshold": self.threshold,
                "lower_is_better": self.lower_is_better, "split": self.split,
                "limit": self.limit, "min_lift": self.min_lift, "floors": self.floors,
                **self.settings}


@dataclasses.dataclass
class FamilyModules:
    """What a family's settings become in the shared pipeline."""

    preprocessing_fn: str | None  # dotted path; None skips Transform
    run_fn: str  # dotted path of the Trainer's run_fn
    evaluation: FamilyEvaluation
    custom_config: dict[str, Any]
    train_steps: int
    eval_steps: int
    # Mobile targets (components/mobile.py's JSON config); None: no TFLite variants.
    mobile: dict[str, Any] | None = None
    # The data folder holds `train/` and `eval/` sub-folders (a held-out split that is not a
    # random one: unseen combinations, held-out photos); False: a 4:1 hash split.
    presplit: bool = False


class Family(abc.ABC):
    """A model family's pipeline: its flags, how settings become its modules, its data and
    its own commands. Subclasses set the class attributes and implement the abstract methods."""

    name: str  # one spelling everywhere: pipelines/<name>/, models/<name>/, serving/<name>/
    help: str
    headline_metric: str  # the metric the run's report leads with
    # Whether the Trainer's models are checked under --mixed-precision (16-bit compute).
    mixed_precision: bool = False

    @property
    def pipeline_name(self) -> str:
        """The TFX pipeline's name (ML Metadata, pipeline root, Kubeflow, Airflow DAG id):
        hyphenated, as Kubeflow requires ([a-z0-9-]); the CLI accepts both spellings."""
        return self.name.replace("_", "-")

    def module(self, name: str) -> str:
        """The dotted path of one of the family's model modules (`trainer.run_fn`, ...)."""
        return f"models.{self.name}.{name}"

    @abc.abstractmethod
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The family's flags; their defaults live in pipelines/<name>/config.yaml."""

    @abc.abstractmethod
    def modules(self, args: argparse.Namespace, paths: PipelinePaths) -> FamilyModules:
        """Checks the settings (one-line ShipyardError on a bad value) and returns the family's
        modules. Touches no data, so that a pipeline compiles on a machine without it."""

    @abc.abstractmethod
    def prepare_data(self, args: argparse.Namespace, paths: PipelinePaths) -> str:
        """Makes the local data ready (bundled sample or the user's files, checked) and returns
        the directory of tf.Example TFRecords that ExampleGen imports."""

    @abc.abstractmethod
    def serve_hint(self, serving_dir: str) -> str:
        """One line on how to use the pushed model."""

    def add_commands(self, add_command: AddCommand) -> None:  # noqa: B027 (optional hook)
        """The family's own commands beside `run` (`translate`, `reply`, ...); each sets
        `handler`. None by default."""

    def settle(self, args: argparse.Namespace, paths: PipelinePaths,
               data_root: str) -> argparse.Namespace:
        """The settings after what depends on the prepared data is decided (e.g. a
        budget-driven model choice); local runs only. The settings unchanged by default."""
        return args

    def pipeline_modules(self, args: argparse.Namespace, paths: PipelinePaths) -> FamilyModules:
        """`modules`, with the settings every Trainer shares (distribution) checked and added."""
        if args.cpu_devices < 1:
            raise ShipyardError(f"--cpu-devices must be at least 1, got {args.cpu_devices}")
        if args.cpu_devices > 1 and args.strategy != "mirrored":
            raise ShipyardError("--cpu-devices applies to --strategy mirrored only")
        arguments.check_techniques(args)
        if args.mixed_precision not in (None, "off") and not self.mixed_precision:
            raise ShipyardError(f"--mixed-precision is not supported by {self.name} yet "
                                "(its models are not checked in 16 bits); use off")
        if args.input_cache_mb is not None and args.input_cache_mb < 0:
            raise ShipyardError(f"--input-cache-mb must be at least 0, got {args.input_cache_mb}")
        modules = self.modules(args, paths)
        modules.custom_config.update(strategy=args.strategy, tpu=args.tpu,
                                     input_cache_mb=args.input_cache_mb,
                                     **arguments.technique_config(args))
        return modules


@dataclasses.dataclass
class PipelinePaths:
    """Where a run reads and writes, all under one output directory."""

    output_dir: str
    pipeline_name: str

    @property
    def root(self) -> str:
        return os.path.join(self.output_dir, "pipelines", self.pipeline_name)

    @property
    def metadata(self) -> str:
        return os.path.join(self.output_dir, "metadata.sqlite")

    @property
    def serving(self) -> str:
        return os.path.join(self.output_dir, "serving", self.pipeline_name.replace("-", "_"))

    @property
    def mobile(self) -> str:
        return os.path.join(self.output_dir, "mobile", self.pipeline_name.replace("-", "_"))

    @property
    def data_cache(self) -> str:
        return os.path.join(self.output_dir, "data")

    @property
    def checkpoints(self) -> str:
        return os.path.join(self.output_dir, "checkpoints", self.pipeline_name)
