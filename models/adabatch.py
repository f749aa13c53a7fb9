"""AdaBatch (Devarakonda et al. 2017, "AdaBatch: Adaptive Batch Sizes for Training Deep Neural
Networks"): the batch size doubles from one training stage to the next, so later stages take
fewer, larger (and on parallel hardware cheaper) steps over the same number of examples.

The plan splits a run of `train_steps` steps of the configured batch into `stages` stages of
equal examples; stage k uses batch × 2^k. The learning rate follows the run's schedule over
the examples seen (so warm-up, decay and the SWA phase fall where they would without AdaBatch)
and is scaled up with the batch: the paper's SGD keeps rate / batch constant (the linear
rule); every Shipyard Trainer uses Adam, whose updates do not grow with the batch, so the
square-root rule keeps the update noise of each stage instead (RATE_POWER).
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf

# The rate of stage k is multiplied by (2^k) ** RATE_POWER: 0.5, the square-root rule for Adam.
RATE_POWER = 0.5


@dataclasses.dataclass(frozen=True)
class Stage:
    batch_size: int
    steps: int
    factor: int  # batch_size / the configured batch size


def plan(train_steps: int, batch_size: int, stages: int) -> list[Stage]:
    """The stages of a run: equal shares of the train_steps × batch_size examples, the batch
    doubling at each stage. When a share does not divide, the last stage takes the rest, so
    the examples seen differ from train_steps × batch_size by less than one last-stage batch.
    One stage is the plain run."""
    if stages < 1:
        raise ValueError(f"AdaBatch needs at least one stage, got {stages}")
    if train_steps < 2 ** (stages - 1) * stages:
        raise ValueError(f"{train_steps} training steps are too few for {stages} AdaBatch "
                         f"stages (at least {2 ** (stages - 1) * stages})")
    result, base_steps_done = [], 0
    for k in range(stages):
        factor = 2 ** k
        if k < stages - 1:
            steps = max(1, round(train_steps / (stages * factor)))
        else:
            steps = max(1, round((train_steps - base_steps_done) / factor))
        result.append(Stage(batch_size * factor, steps, factor))
        base_steps_done += steps * factor
    return result


def staged_dataset(train_ds: tf.data.Dataset, stages: list[Stage]) -> tf.data.Dataset:
    """`train_ds` (batches of stages[0]'s size, repeated forever) re-batched to each stage's
    batch size for its number of steps, one stage after the other. Padded: a family whose
    batches pad sequences to their longest (translation, 0-padded) gets larger batches padded
    the same way; fixed-size features are unchanged."""
    if len(stages) == 1:
        return train_ds
    staged = None
    for stage in stages:
        part = train_ds.unbatch().padded_batch(stage.batch_size).take(stage.steps)
        staged = part if staged is None else staged.concatenate(part)
    return staged.repeat()


def optimizer_step_at(stages: list[Stage], base_step: float) -> int:
    """The optimizer step at which `base_step` steps' worth of examples (of the configured
    batch) have been seen: where a fraction of the run falls under AdaBatch."""
    step, base = 0, 0.0
    for stage in stages:
        span = stage.steps * stage.factor
        if base_step <= base + span:
            return step + int(-(-(base_step - base) // stage.factor))  # ceiling
        step, base = step + stage.steps, base + span
    return step
