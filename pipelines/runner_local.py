"""Runs a pipeline with TFX's LocalDagRunner (Beam DirectRunner), narrating its components."""
from __future__ import annotations

import logging
import time

from tfx import v1 as tfx

_RUNNING = "Component %s is running."
_FINISHED = "Component %s is finished."
_SKIPPED = "Skipping component %s."


class _ComponentNarrator(logging.Filter):
    """Turns TFX's component log lines into one readable line each and drops the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in (_RUNNING, _FINISHED, _SKIPPED) and record.args:
            node = record.args[0]
            if record.msg == _RUNNING:
                self.started[node] = time.monotonic()
                print(f"▶ {node}", flush=True)
            elif record.msg == _FINISHED:
                seconds = time.monotonic() - self.started.get(node, time.monotonic())
                print(f"  ✓ {node} ({seconds:.1f} s)", flush=True)
        # Failures reach the user through the exception the runner raises: one line, not a log.
        return False


def run(pipeline: tfx.dsl.Pipeline, verbose: bool = False) -> None:
    if verbose:
        tfx.orchestration.LocalDagRunner().run(pipeline)
        return
    from absl import logging as absl_logging

    # TFX logs through absl at INFO; a filter on the "absl" logger sees every record before
    # any handler (absl's own or a root handler Beam may have installed) prints it.
    narrator = _ComponentNarrator()
    logger = logging.getLogger("absl")
    absl_logging.set_verbosity(absl_logging.INFO)
    logger.addFilter(narrator)
    try:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    finally:
        logger.removeFilter(narrator)
        absl_logging.set_verbosity(absl_logging.ERROR)
