"""Smart Reply's held-out choices: the learned paths' weights and the trigger threshold."""
import numpy as np
import pytest
import tensorflow as tf

from models.smart_reply import calibration
from models.smart_reply import model as smart_reply_model
from models.smart_reply.text import RESERVED


def test_cluster_weight_takes_the_best_held_out_recall_at_3():
    # Four clusters. The votes put message 1's true cluster (3) fourth; the network lifts
    # it but, weighted fully, sinks message 2's true cluster (0) below three others.
    votes = np.array([[3.0, 2.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0]])
    net = np.array([[0.0, 0.0, 0.0, 4.0], [-8.0, 0.0, 0.0, 0.0]])
    clusters = np.array([3, 0])
    # w = 0.3: [3, 2, 1, 1.2] and [0.6, 2, 1, 0]: both in the top 3 (recall 1); w = 0 and
    # w = 1 find one each.
    assert calibration.cluster_weight(net, votes, clusters, (0.0, 0.3, 1.0)) == 0.3
    # Equal recall: the higher log-probability of the true clusters wins, then the smaller w.
    assert calibration.cluster_weight(np.zeros([2, 4]), votes, clusters, (1.0, 0.0)) == 0.0


def test_trigger_weight_takes_the_lowest_held_out_log_loss():
    labels = np.array([1, 1, 0, 0])
    votes = np.zeros(4)
    helpful = np.array([2.0, 2.0, -2.0, -2.0])
    assert calibration.trigger_weight(helpful, votes, labels, (0.0, 1.0, 2.0)) == 2.0
    assert calibration.trigger_weight(-helpful, votes, labels, (0.0, 1.0, 2.0)) == 0.0


def test_threshold_for_recall():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.99])
    labels = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
    assert calibration.threshold_for_recall(scores, labels, 0.9) == 0.1
    assert calibration.threshold_for_recall(scores, labels, 0.5) == 0.5
    assert calibration.threshold_for_recall(scores, labels, 1.0) == 0.05
    with pytest.raises(ValueError, match="no held-out message should trigger"):
        calibration.threshold_for_recall(scores, np.zeros(11), 0.9)


def test_calibrate_folds_the_weights_into_the_model():
    """The chosen weights scale the networks' output layers (what serving and the phone
    run), and the returned threshold gives the asked recall on the held-out messages."""
    tf.keras.utils.set_random_seed(0)
    vocab = RESERVED + 6
    model = smart_reply_model.smart_reply(vocab, 3, context_length=4, reply_length=3,
                                          embedding_dim=4, units=4, trigger_units=4)
    rng = np.random.default_rng(0)
    ids = rng.integers(RESERVED, vocab, [30, 4]).astype(np.int32)
    trigger_labels = (ids[:, 0] % 2).astype(np.float32)
    clusters = ids[:, 1] % 3
    model.get_layer("cluster_word_votes").fit(ids, clusters, np.ones(30, bool))
    model.get_layer("trigger_word_votes").fit(ids, trigger_labels.astype(np.int64),
                                              np.ones(30, bool))
    before = {name: [w.copy() for w in model.get_layer(name).get_weights()]
              for name in ("cluster_logits", "trigger_logit")}
    config = calibration.calibrate(model, ids, trigger_labels, clusters,
                                   {"trigger_recall": 0.8, "trigger_threshold": 0.5})
    for name, key in (("cluster_logits", "cluster_net_weight"),
                      ("trigger_logit", "trigger_net_weight")):
        assert config[key] in calibration.WEIGHTS
        for old, new in zip(before[name], model.get_layer(name).get_weights(), strict=True):
            np.testing.assert_allclose(new, config[key] * old, atol=1e-7)
    scores = smart_reply_model.encoder(model)(ids)[0].numpy()
    assert np.mean(scores[trigger_labels == 1] >= config["trigger_threshold"]) >= 0.8
    # Without a recall to keep, the configured threshold stays.
    again = calibration.calibrate(model, ids, trigger_labels, clusters,
                                  {"trigger_recall": 0, "trigger_threshold": 0.5})
    assert again["trigger_threshold"] == 0.5


def test_trigger_learns_from_close_replies_and_marked_negatives_only():
    """With explicit negatives in the data, a pair whose short reply the response set does
    not cover gets no trigger loss, a marked negative is a 0 even when its reply is close,
    and the negatives weigh as much in all as the positives; without any, every pair counts
    once."""
    from models.smart_reply import text, trainer
    from models.smart_reply.intents import NEGATIVE
    from pipelines.smart_reply import data as reply_data

    train = reply_data.bundled_pairs()[::15]
    responses = trainer.build_response_set(train, dict(max_responses=100, max_reply_tokens=6,
                                                       min_count=2, min_similarity=0.5))
    pairs = [{"context": "Thanks for the ride!", "reply": "You're welcome!"},
             {"context": "Do you like books?", "reply": "Mostly science fiction novels"},
             {"context": "What currency do they use in Japan?", "reply": "The yen.",
              NEGATIVE: "1"},
             {"context": "Who wrote Hamlet?", "reply": "Thanks!", NEGATIVE: "1"}]
    words = sorted({t for row in text.tokens([p["context"] for p in pairs]
                                             + [p["reply"] for p in pairs]) for t in row})
    config = dict(context_tokens=8, max_reply_tokens=6)
    _, y, w = trainer.training_arrays(pairs, responses, words, [], config)
    assert y["trigger"][:, 0].tolist() == [1, 0, 0, 0]
    assert w["trigger"].tolist() == [1, 0, 0.5, 0.5]  # one positive, two negatives
    _, y, w = trainer.training_arrays(pairs[:2], responses, words, [], config)
    assert y["trigger"][:, 0].tolist() == [1, 0]
    assert w["trigger"].tolist() == [1, 1]
