"""What a model family plugs into the shared pipeline, and where a run writes (no TFX import,
so the CLI starts fast)."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class FamilyModules:
    """What a model family plugs into the shared pipeline."""

    preprocessing_fn: str | None  # dotted path; None skips Transform
    run_fn: str  # dotted path of the Trainer's run_fn
    # Builds the tfma.EvalConfig (TFMA is slow to import); None with `evaluator`.
    eval_config: Callable[[], Any] | None
    custom_config: dict[str, Any]
    train_steps: int
    eval_steps: int
    # Mobile targets (components/mobile.py's JSON config); None: no TFLite variants.
    mobile: dict[str, Any] | None = None
    # components/family_evaluator.py's JSON config, for families whose metric TFMA does not
    # compute (BLEU, recall@3, rate-distortion); None: TFMA's Evaluator with `eval_config`.
    evaluator: dict[str, Any] | None = None
    # The data folder holds `train/` and `eval/` sub-folders (a held-out split that is not a
    # random one: unseen combinations, held-out photos); False: a 4:1 hash split.
    presplit: bool = False


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
