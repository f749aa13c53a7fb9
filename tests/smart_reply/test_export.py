"""Smart Reply export: the serving signature agrees with the Keras model (fresh process),
carries its response set, refuses bad messages; the evaluation hook and `shipyard reply`."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from models.smart_reply import evaluation, export, labels, search, text, trainer
from models.smart_reply import model as model_lib
from models.smart_reply.response_set import ResponseSet
from pipelines.cli import main
from pipelines.smart_reply import data as reply_data
from pipelines.smart_reply import settings as reply_settings
from tests.smart_reply.tiny import CONFIG, HELD_OUT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MESSAGES = ["Hi, How is it going?", "What is your favorite color?", "My mouse is not responding."]


@pytest.fixture(scope="module")
def exported(smart_reply_model):
    """The shared tiny model (tests/smart_reply/conftest.py)."""
    m = smart_reply_model
    return m.model, m.words, m.model_uri, m.serving, m.train, m.held_out


def _keras_suggestions(model, words, response_set, messages):
    """Brute-force scores of every response from the Keras layers, then the diversity rule."""
    encoder = model_lib.encoder(model)
    ids = text.to_ids(text.lookup_table(words), tf.constant(messages), CONFIG["context_tokens"])
    trigger, cluster_logp, h, c = encoder(ids)
    embedding = model.get_layer("token_embedding")
    decoder = model.get_layer("response_decoder")
    dense = model.get_layer("token_logits")

    def sequence_logp(inputs, h0, c0):
        outputs, _, _ = decoder(embedding(inputs), initial_state=[h0, c0])
        return tf.nn.log_softmax(dense(outputs))

    index = {w: text.RESERVED + i for i, w in enumerate(words)}
    response_ids = [[index.get(t, text.OOV) for t in r] for r in response_set.tokens]
    scores = search.score_all(cluster_logp, h, c, sequence_logp, response_ids,
                              response_set.clusters, text.RESERVED + len(words),
                              CONFIG["length_bias"],
                              export.reply_vocabulary(response_set, words))
    # The fixture ranks clusters by stage 1 (rank_by "cluster"), as the default config does.
    best, best_scores, clusters = search.diverse_top_k(scores, response_set.clusters,
                                                       response_set.num_clusters, 3,
                                                       cluster_logp=cluster_logp)
    return ([[response_set.texts[i] for i in row] for row in best.numpy()],
            best_scores.numpy(), clusters.numpy(), trigger.numpy())


def test_export_round_trip_in_a_fresh_process(exported):
    model, words, root, serving, _, _ = exported
    script = ("import json, os, sys; "
              "import tensorflow as tf; "
              "s = tf.saved_model.load(sys.argv[1]).signatures['serving_default']; "
              "o = s(messages=tf.constant(json.loads(sys.argv[2]))); "
              "print(json.dumps({k: [[x.decode() if isinstance(x, bytes) else x for x in r] "
              "if isinstance(r, list) else r for r in v.numpy().tolist()] "
              "for k, v in o.items()}))")
    run = subprocess.run([sys.executable, "-c", script, serving, json.dumps(MESSAGES)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    served = json.loads(run.stdout.strip().splitlines()[-1])
    response_set = ResponseSet.load(os.path.join(serving, "assets", "response_set.json"))
    replies, scores, clusters, trigger = _keras_suggestions(model, words, response_set,
                                                            MESSAGES)
    assert served["replies"] == replies
    assert served["cluster_ids"] == clusters.tolist()
    np.testing.assert_allclose(served["scores"], scores, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(served["trigger_score"], trigger, rtol=1e-5, atol=1e-5)
    for row in served["cluster_ids"]:
        assert len(set(row)) == 3  # three different clusters
    assert served["triggered"] == [t >= 0.5 for t in trigger.tolist()]


def test_response_set_travels_with_the_model(exported):
    _, _, root, serving, _, _ = exported
    with open(os.path.join(serving, "assets", "response_set.json")) as f:
        asset = json.load(f)
    with open(os.path.join(root, trainer.RESPONSE_SET_DIR, "response_set.json")) as f:
        assert json.load(f) == asset
    # The 96 seed replies and 17 training replies label propagation reached, in 32 intents.
    assert len(asset["responses"]) == 113 and asset["num_clusters"] == 32
    assert asset["intents"][:3] == ["thanks", "welcome", "greeting"]
    assert os.path.isfile(os.path.join(serving, "assets.extra", "tf_serving_warmup_requests"))
    assert os.path.isfile(os.path.join(root, "Format-Keras", "model.keras"))


@pytest.mark.parametrize("message, error", [
    ("   ", "empty message"), ("x" * 201, "message longer than 200 characters")])
def test_signature_refuses_bad_messages(exported, message, error):
    signature = tf.saved_model.load(exported[3]).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=error):
        signature(messages=tf.constant(["Hello", message]))


def test_evaluation_hook(exported, tmp_path):
    _, _, _, serving, train, held_out = exported
    for split, pairs in (("train", train), ("eval", held_out)):
        os.makedirs(tmp_path / f"Split-{split}")
        with tf.io.TFRecordWriter(str(tmp_path / f"Split-{split}" / "data.gz"),
                                  options="GZIP") as writer:
            for pair in pairs:
                writer.write(reply_data.example_bytes(pair))
    eval_file = tmp_path / "eval_messages.tsv"
    eval_file.write_text("# a comment\nmessage\tintents\nThanks a million!\twelcome\n"
                         "Happy new year!\tsame_to_you,thanks\nWho wrote Hamlet?\tnone\n")
    result = evaluation.evaluate(serving, str(tmp_path), "eval",
                                 {"metric": "sensible_at_3", "baselines": True,
                                  "eval_messages": str(eval_file)})
    metrics = result.metrics
    assert metrics["examples"] == HELD_OUT
    assert metrics["diversity_rate"] == 1.0
    assert (metrics["eval_messages"], metrics["eval_silent_messages"]) == (2, 1)
    for key in ("recall_at_3", "mrr", "trigger_precision", "trigger_recall", "sensible_at_3",
                "ranking_sensible_at_3", "eval_trigger_recall", "eval_trigger_precision",
                "silent_rate", "held_out_silent_rate"):
        assert 0.0 <= metrics[key] <= 1.0, key
    # The held-out messages the trigger learns silence on (these have no explicit negatives:
    # those whose reply is not close to the set), read back from the examples.
    _, responses = evaluation.load(serving)
    assert metrics["held_out_silent_messages"] == labels.must_be_silent(
        held_out, responses).sum() > 0
    assert set(result.baselines) == {"frequency", "bag_of_words"}
    for baseline in result.baselines.values():
        assert set(baseline) == {"recall_at_3", "mrr", "sensible_at_3", "ranking_sensible_at_3",
                                 "eval_trigger_recall", "silent_rate"}
        assert 0.0 <= baseline["recall_at_3"] <= 1.0
        assert baseline["sensible_at_3"] <= baseline["ranking_sensible_at_3"]
    # The frequency baseline ranks the three most frequent intents first for every message.
    assert result.baselines["frequency"]["ranking_sensible_at_3"] in (0.0, 0.5, 1.0)
    assert metrics["mrr"] <= metrics["recall_at_3"] + 1e-9 or metrics["mrr"] > 0


def test_eval_file_metrics_by_hand():
    """sensible@3 counts a silent model as wrong; silence is scored on must-not messages."""
    from models.smart_reply.response_set import ResponseSet

    responses = ResponseSet(texts=["Thanks!", "Anytime!", "Hi!"], tokens=[[], [], []],
                            clusters=[0, 1, 2], counts=[1, 1, 1], num_clusters=3, idf={},
                            max_tokens=4, min_similarity=0.5,
                            intents=["thanks", "welcome", "greeting"])

    def signature(messages):
        return {"triggered": tf.constant([True, True, False, True]),
                "cluster_ids": tf.constant([[0, 1, 2], [0, 1, -1], [2, 1, 0], [0, 1, 2]])}

    messages = [("Thanks a million!", ["welcome"]), ("Yo", ["greeting"]),
                ("Hey you", ["greeting"]), ("Who wrote Hamlet?", [])]
    metrics = evaluation.evaluate_messages(signature, responses, messages)
    assert metrics == {"sensible_at_3": 1 / 3, "ranking_sensible_at_3": 2 / 3,
                       "eval_trigger_recall": 2 / 3,
                       "eval_trigger_precision": 2 / 3, "silent_rate": 0.0,
                       "eval_messages": 3.0, "eval_silent_messages": 1.0}
    with pytest.raises(ValueError, match=r"intents the model has not: \['goodbye'\]"):
        evaluation.evaluate_messages(signature, responses, [("Bye", ["goodbye"])])


def test_eval_file_loads_and_is_independent_of_the_corpus():
    from models.smart_reply.intents import INTENTS
    from pipelines.smart_reply import corpus

    messages = evaluation.read_eval_messages(reply_settings.EVAL_MESSAGES)
    positive = [m for m, ok in messages if ok]
    assert len(positive) >= 200 and len(messages) - len(positive) >= 50
    assert {"Where should we meet for lunch?", "Sorry, running ten minutes late.",
            "Happy new year!"} <= set(positive)
    assert {i for _, ok in messages for i in ok} <= set(INTENTS)
    assert len({m.lower() for m, _ in messages}) == len(messages)
    # Not in the training corpus, and not a rendering of any of its templates.
    def normal(message):
        return " ".join(message.lower().split())

    corpus_messages = {normal(p["context"]) for p in reply_data.bundled_pairs()}
    assert not {normal(m) for m, _ in messages} & corpus_messages
    values = corpus.slot_values()
    patterns = [corpus.template_pattern(t, values) for t in corpus.all_templates()]
    assert not [m for m, _ in messages if any(p.match(normal(m)) for p in patterns)]


def test_ranking_metrics_by_hand():
    true = np.array([2, 5, -1, 7])
    shown = np.array([[2, 1, 0], [1, 0, 5], [3, 4, 1], [1, 2, 3]])
    ranked = np.array([[2, 1, 0, 4], [1, 0, 5, 4], [3, 4, 1, 0], [1, 2, 3, 7]])
    metrics = evaluation.ranking_metrics(true, shown, ranked)
    assert metrics["recall_at_3"] == pytest.approx(2 / 3)
    assert metrics["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 4) / 3)


def _shipyard(*args):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def test_reply_command(exported, capsys):
    serving = exported[3]
    run = _shipyard("reply", "Hi, How is it going?", "--model", serving, "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert len(result["replies"]) == 3 and len(set(result["cluster_ids"])) == 3
    # Bad input stops before any model is loaded: one line, exit code 2.
    for args, message in [
            (["  ", "--model", serving], "error: empty message: nothing to reply to"),
            (["x" * 3000, "--model", serving],
             "error: message has 3000 characters; the model takes at most 2000"),
            (["Hi", "--model", "/nonexistent/model"],
             "error: model directory not found: /nonexistent/model")]:
        assert main(["reply", *args]) == 2
        assert capsys.readouterr().err.strip() == message


def test_reply_command_reports_an_unreachable_server(capsys):
    # Port 9 (discard) on loopback: nothing listens there in the test environment.
    assert main(["reply", "Hi", "--server", "127.0.0.1:9"]) == 2
    assert capsys.readouterr().err.strip().startswith(
        "error: cannot reach the model server at "
        "http://127.0.0.1:9/v1/models/smart_reply:predict")
