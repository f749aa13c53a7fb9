"""Evaluation hook of the shared FamilyEvaluator: corpus BLEU (sacrebleu) of the exported
translator on the raw held-out sentences, beside the copy and word-for-word dictionary
baselines."""
from __future__ import annotations

import time
from typing import Any

import tensorflow as tf
import tensorflow_text  # noqa: F401  the export's wordpiece ops

from models.evaluation_hook import HookResult
from models.examples import read_split
from models.translation import baselines
from models.translation.preprocessing import SOURCE_KEY, TARGET_KEY
from pipelines.translation.settings import INPUT_NAME

DECODE_BATCH = 64


def read_pairs(examples_uri: str, split: str, limit: int | None = None
               ) -> list[tuple[str, str]]:
    """(source, target) pairs of ExampleGen's output split."""
    return [(row[SOURCE_KEY][0].decode(), row[TARGET_KEY][0].decode())
            for row in read_split(examples_uri, split, limit)]


def translate_all(serve, sources: list[str], batch_size: int = DECODE_BATCH
                  ) -> tuple[list[str], float]:
    """Translations of `sources` through a serving signature, and the sentences per second."""
    hypotheses = []
    start = time.perf_counter()
    for i in range(0, len(sources), batch_size):
        out = serve(**{INPUT_NAME: tf.constant(sources[i:i + batch_size])})
        hypotheses += [t.decode() for t in out["translations"].numpy()]
    return hypotheses, len(sources) / max(time.perf_counter() - start, 1e-9)


def bleu(hypotheses: list[str], references: list[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def evaluate(serving_model_dir: str, examples_uri: str, split: str,
             config: dict[str, Any]) -> dict[str, float] | HookResult:
    """{bleu, exact_match, sentences_per_second} of the model on `split`; with `baselines`, a
    HookResult with the copy and dictionary baselines' on the same sentences
    (models/translation/baselines.py), which the model must beat to be blessed."""
    pairs = read_pairs(examples_uri, split, config.get("limit"))
    serve = tf.saved_model.load(serving_model_dir).signatures["serving_default"]
    sources = [s for s, _ in pairs]
    references = [t for _, t in pairs]
    hypotheses, speed = translate_all(serve, sources)
    exact = sum(h == r for h, r in zip(hypotheses, references, strict=True)) / len(pairs)
    metrics = {"bleu": bleu(hypotheses, references), "exact_match": exact,
               "sentences_per_second": speed, "sentences": float(len(pairs))}
    if not config.get("baselines"):
        return metrics
    return HookResult(metrics, baselines=baseline_scores(
        read_pairs(examples_uri, "train", baselines.MAX_TRAIN_PAIRS), sources, references))


def baseline_scores(train: list[tuple[str, str]], sources: list[str],
                    references: list[str]) -> dict[str, dict[str, float]]:
    """BLEU and exact match of the copy and word-for-word dictionary baselines."""
    dictionary = baselines.WordDictionary.fit(train)
    scores = {}
    for name, hypotheses in (("copy", baselines.copy(sources)),
                             ("dictionary", [dictionary.translate(s) for s in sources])):
        exact = sum(h == r for h, r in zip(hypotheses, references, strict=True))
        scores[name] = {"bleu": bleu(hypotheses, references),
                        "exact_match": exact / max(len(references), 1)}
    return scores
