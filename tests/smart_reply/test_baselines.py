"""The baselines are scored as suggestion systems held to the model's operating point."""
import numpy as np
import pytest

from models.smart_reply import baselines, labels


def test_matched_threshold_leaves_the_asked_share_silent():
    scores = np.array([0.1, 0.5, 0.5, 0.9])
    assert baselines.matched_threshold(scores, 0.0) == 0.0  # no silence asked: always
    assert baselines.matched_threshold(scores, 0.25) == 0.5  # 0.1 below it
    # Ties move together: 0.5 silences one message, the next threshold three.
    assert baselines.matched_threshold(scores, 0.5) == 0.9
    assert baselines.matched_threshold(scores, 0.6) == 0.9
    full = baselines.matched_threshold(scores, 1.0)
    assert 0.9 < full < 0.9 + 1e-12  # just above the highest: all silent, nothing more
    assert baselines.matched_threshold(np.array([]), 0.9) == 0.0


@pytest.fixture(scope="module")
def corpus():
    from models.smart_reply import trainer
    from pipelines.smart_reply import data as reply_data

    pairs = reply_data.bundled_pairs()[::6]
    train = [p for p in pairs if not reply_data.is_eval(p)]
    held_out = [p for p in pairs if reply_data.is_eval(p)]
    config = dict(max_responses=200, max_reply_tokens=8, min_count=2, min_similarity=0.5)
    return train, held_out, trainer.build_response_set(train, config)


def test_baselines_suggest_where_their_trigger_fires_at_the_models_silence(corpus):
    train, held_out, responses = corpus
    messages = [("Thanks so much for the lift!", ["welcome"]),
                ("Happy birthday Sam!", ["thanks"]),
                ("What is the capital of Peru?", []), ("How far is the moon?", [])]
    always = baselines.scores(train, held_out, responses, messages)
    for found in always.values():  # no operating point given: a baseline always suggests
        assert found["eval_trigger_recall"] == 1.0
        assert found["sensible_at_3"] == found["ranking_sensible_at_3"]
        assert "silent_rate" not in found
    held = baselines.scores(train, held_out, responses, messages, silence=1.0)
    trigger = baselines.BagOfWordsTrigger(train, responses)
    silent = labels.must_be_silent(held_out, responses)
    assert silent.sum() > 20  # the corpus' negatives
    threshold = baselines.matched_threshold(
        trigger.scores([p["context"] for p, s in zip(held_out, silent, strict=True) if s]), 1.0)
    fired = trigger.scores([m for m, ok in messages if ok]) >= threshold
    quiet = np.mean(trigger.scores([m for m, ok in messages if not ok]) < threshold)
    for name, found in held.items():
        assert found["eval_trigger_recall"] == np.mean(fired)
        assert found["silent_rate"] == quiet
        assert found["ranking_sensible_at_3"] == always[name]["ranking_sensible_at_3"]
        assert found["sensible_at_3"] <= found["ranking_sensible_at_3"]
        assert (found["recall_at_3"], found["mrr"]) == (always[name]["recall_at_3"],
                                                        always[name]["mrr"])
