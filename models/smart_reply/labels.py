"""What Smart Reply learns from each (message, reply) pair, shared by the Trainer, the
evaluation hook and the baselines so that all three ask the same question of the same
messages. NumPy and the tokenizer only."""
from __future__ import annotations

import numpy as np

from models.smart_reply import intents, text
from models.smart_reply.response_set import ResponseSet


def trigger_targets(pairs: list[dict[str, str]], response_set: ResponseSet,
                    held_in: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(trigger label [N] 0/1, its loss weight [N], the true reply's cluster [N], -1 where
    none) of `pairs`. A message should get suggestions when its real reply was short and
    close to the response set (leave-one-out on the split the set was built from,
    `held_in`); a pair marked as an explicit negative (intents.NEGATIVE) never should."""
    trigger, clusters = response_set.labels(text.tokens([p["reply"] for p in pairs]),
                                            leave_one_out=held_in)
    negative = np.array([p.get(intents.NEGATIVE) == "1" for p in pairs], bool)
    trigger = np.where(negative, 0, trigger).astype(np.int64)
    return trigger, trigger_weights(trigger, negative), clusters


def trigger_weights(trigger: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """The trigger loss weight of each pair: 1 everywhere, or, when some pairs are explicit
    negatives, 0 on the pairs that are neither negative nor trigger: a message whose short
    reply the response set does not cover (chatterbot-corpus' conversations are mostly such)
    is not evidence that ordinary messages should get no suggestion. The negatives then
    weigh as much in all as the pairs that trigger (each positives / negatives): the bundled
    corpus has several times more everyday messages than negatives, and unweighted, the
    trigger fired on knowledge requests of wording it never saw (on chatterbot-corpus'
    coding.yml, never trained on, silent on 0.93 of them against 0.96 balanced)."""
    if not negative.any():
        return np.ones(len(trigger), np.float32)
    positive = (trigger > 0) & ~negative
    weight = positive.sum() / negative.sum() if positive.any() else 1.0
    return np.where(positive, 1.0, np.where(negative, weight, 0.0)).astype(np.float32)


def must_be_silent(pairs: list[dict[str, str]], response_set: ResponseSet) -> np.ndarray:
    """[N] bool: the messages of `pairs` the trigger learns to stay silent on (label 0 with a
    weight: the explicit negatives when the data marks some, else every message whose reply
    is not close to the set)."""
    trigger, weight, _ = trigger_targets(pairs, response_set)
    return (trigger == 0) & (weight > 0)
