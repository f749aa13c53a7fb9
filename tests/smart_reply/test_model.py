"""Smart Reply model: trie beam search vs brute force, diversity, trigger, fallback."""
import numpy as np
import pytest
import tensorflow as tf

from models.smart_reply import model as smart_reply_model
from models.smart_reply import search
from models.smart_reply.text import RESERVED

VOCAB = RESERVED + 9
# Responses share prefixes inside a cluster and across clusters (ids ≥ RESERVED are words).
RESPONSES = [[3, 4], [3, 4, 5], [3, 6], [7], [7, 8, 9, 10], [4, 3], [11], [3, 4, 11, 5]]
CLUSTERS = [0, 0, 0, 1, 1, 2, 2, 1]
NEG = float("-inf")


@pytest.fixture(scope="module")
def tiny():
    tf.keras.utils.set_random_seed(3)
    model = smart_reply_model.smart_reply(VOCAB, 3, context_length=5, reply_length=5,
                                          embedding_dim=8, units=6, trigger_units=4)
    encoder = smart_reply_model.encoder(model)
    step = smart_reply_model.decoder_step(model)
    contexts = np.array([[3, 4, 5, 0, 0], [9, 10, 11, 3, 4], [5, 0, 0, 0, 0]], np.int32)
    trigger, cluster_logp, h, c = encoder(contexts)
    return model, step, trigger, cluster_logp, h, c


def _sequence_logp(model):
    embedding = model.get_layer("token_embedding")
    decoder = model.get_layer("response_decoder")
    dense = model.get_layer("token_logits")

    def run(inputs, h, c):
        outputs, _, _ = decoder(embedding(inputs), initial_state=[h, c])
        return tf.nn.log_softmax(dense(outputs))
    return run


def _brute(tiny, length_bias):
    model, _, _, cluster_logp, h, c = tiny
    return search.score_all(cluster_logp, h, c, _sequence_logp(model), RESPONSES, CLUSTERS,
                            VOCAB, length_bias=length_bias).numpy()


@pytest.mark.parametrize("length_bias", [0.0, 0.7])
def test_wide_trie_beam_search_equals_brute_force(tiny, length_bias):
    model, step, _, cluster_logp, h, c = tiny
    trie = search.build_trie(RESPONSES, CLUSTERS, 3, VOCAB)
    beam = search.trie_beam_search(cluster_logp, h, c, step,
                                   trie, beam_width=len(RESPONSES) + 3,
                                   length_bias=length_bias).numpy()
    brute = _brute(tiny, length_bias)
    assert np.isfinite(beam).all()
    np.testing.assert_allclose(beam, brute, rtol=1e-5, atol=1e-5)
    # The length bias changes the scores by exactly bias × words.
    if length_bias:
        lengths = np.array([len(r) for r in RESPONSES])
        np.testing.assert_allclose(beam - _brute(tiny, 0.0),
                                   np.tile(length_bias * lengths, [len(beam), 1]), atol=1e-5)


def test_narrow_beam_scores_what_it_reaches_exactly(tiny):
    model, step, _, cluster_logp, h, c = tiny
    trie = search.build_trie(RESPONSES, CLUSTERS, 3, VOCAB)
    beam = search.trie_beam_search(cluster_logp, h, c, step,
                                   trie, beam_width=2).numpy()
    brute = _brute(tiny, 0.0)
    reached = np.isfinite(beam)
    assert reached.any() and not reached.all()
    np.testing.assert_allclose(beam[reached], brute[reached], rtol=1e-5, atol=1e-5)
    # Only the two best clusters are explored at level one.
    top_two = np.argsort(-cluster_logp.numpy(), axis=1)[:, :2]
    for row in range(beam.shape[0]):
        assert {CLUSTERS[i] for i in np.flatnonzero(reached[row])} <= set(top_two[row])


def test_reply_vocabulary_softmax_equals_brute_force():
    """Stage 2 over the response set's words only (train == serve): the wide beam still
    equals brute force, the trie scores each word under its reply-vocabulary id."""
    vocab = VOCAB + 6
    responses = [[t + 6 for t in r] for r in RESPONSES]  # words 9..17; 3..8 only in messages
    output_ids = search.reply_vocabulary(responses, vocab)
    assert output_ids[:RESERVED].tolist() == [0, 1, 2]
    assert output_ids[3:9].tolist() == [1] * 6  # not in any response: OOV
    assert output_ids[9:].tolist() == list(range(RESERVED, RESERVED + 9))
    tf.keras.utils.set_random_seed(5)
    model = smart_reply_model.smart_reply(vocab, 3, context_length=5, reply_length=5,
                                          embedding_dim=8, units=6, trigger_units=4,
                                          reply_vocab_size=RESERVED + 9)
    assert model.get_layer("token_logits").units == RESERVED + 9
    contexts = np.array([[3, 4, 5, 0, 0], [9, 10, 11, 3, 4]], np.int32)
    _, cluster_logp, h, c = smart_reply_model.encoder(model)(contexts)
    trie = search.build_trie(responses, CLUSTERS, 3, vocab, output_ids)
    beam = search.trie_beam_search(cluster_logp, h, c, smart_reply_model.decoder_step(model),
                                   trie, beam_width=len(RESPONSES) + 3, length_bias=0.3)
    brute = search.score_all(cluster_logp, h, c, _sequence_logp(model), responses, CLUSTERS,
                             vocab, length_bias=0.3, output_ids=output_ids)
    assert np.isfinite(beam.numpy()).all()
    np.testing.assert_allclose(beam.numpy(), brute.numpy(), rtol=1e-5, atol=1e-5)


def test_trie_shares_prefixes():
    trie = search.build_trie(RESPONSES, CLUSTERS, 3, VOCAB)
    # root + 3 cluster nodes + word nodes + one EOS leaf per response:
    # cluster 0: 3,4,5,6 (4 words); cluster 1: 7,8,9,10 and 3,4,11,5 (8); cluster 2: 4,3,11 (3)
    assert len(trie.token) == 1 + 3 + 15 + len(RESPONSES)
    assert sorted(trie.response[trie.response >= 0].tolist()) == list(range(len(RESPONSES)))
    assert trie.depth == 5


def test_diversity_takes_one_reply_per_cluster():
    scores = tf.constant([[-1.0, -1.1, -1.2, -5.0, -6.0, -3.0, -2.0, -9.0]])
    index, top, clusters = search.diverse_top_k(scores, CLUSTERS, 3, k=3)
    # Responses 0, 1, 2 are all cluster 0: only the best (0) is shown; then cluster 2's best
    # (6, -2.0), then cluster 1's best (3, -5.0).
    assert index.numpy().tolist() == [[0, 6, 3]]
    assert clusters.numpy().tolist() == [[0, 2, 1]]
    np.testing.assert_allclose(top.numpy(), [[-1.0, -2.0, -5.0]])


def test_diversity_breaks_ties_by_lower_index():
    scores = tf.constant([[-1.0, -1.0, -1.0, -2.0, -2.0, -3.0, -3.0, -2.0]])
    index, _, _ = search.diverse_top_k(scores, CLUSTERS, 3, k=3)
    assert index.numpy().tolist() == [[0, 3, 5]]


def test_clusters_rank_by_stage_one_among_those_reached():
    # Stage 1 prefers cluster 1, then 2, then 0; the beam reached no response of cluster 1.
    scores = tf.constant([[-1.0, -1.1, -1.2, NEG, NEG, -3.0, -2.0, NEG]])
    logp = tf.math.log(tf.constant([[0.2, 0.5, 0.3]]))
    index, top, clusters = search.diverse_top_k(scores, CLUSTERS, 3, k=3, cluster_logp=logp)
    # Cluster 2 (its best response 6), then cluster 0 (0); cluster 1 last, with no response.
    assert clusters.numpy().tolist()[0][:2] == [2, 0]
    assert index.numpy().tolist()[0][:2] == [6, 0]
    np.testing.assert_allclose(top.numpy()[0], [-2.0, -1.0, NEG])
    out = search.suggest(tf.constant([0.9]), logp, scores, [f"r{i}" for i in range(8)],
                         CLUSTERS, 3, ["Ok"], rank_by="cluster")
    assert out["replies"].numpy().tolist() == [[b"r6", b"r0", b""]]
    assert out["cluster_ids"].numpy().tolist() == [[2, 0, -1]]
    assert out["ranked_cluster_ids"].numpy().tolist() == [[2, 0, -1]]
    out = search.suggest(tf.constant([0.9]), logp, scores, [f"r{i}" for i in range(8)],
                         CLUSTERS, 3, ["Ok"], rank_by="response")
    assert out["cluster_ids"].numpy().tolist() == [[0, 2, -1]]
    with pytest.raises(ValueError, match="rank_by must be one of"):
        search.suggest(tf.constant([0.9]), logp, scores, ["r"] * 8, CLUSTERS, 3, ["Ok"],
                       rank_by="score")


def _suggest(trigger, cluster_probs, **kwargs):
    scores = tf.constant([[-1.0, -1.1, -1.2, -5.0, -6.0, -3.0, -2.0, -9.0]] * len(trigger))
    texts = [f"r{i}" for i in range(len(RESPONSES))]
    return search.suggest(tf.constant(trigger), tf.math.log(tf.constant(cluster_probs)),
                          scores, texts, CLUSTERS, 3, ["Ok", "Thanks!", "Sounds good"],
                          **kwargs)


def test_trigger_threshold():
    out = _suggest([0.49, 0.5, 0.9], [[0.6, 0.3, 0.1]] * 3, threshold=0.5)
    assert out["triggered"].numpy().tolist() == [False, True, True]
    # Replies are computed either way (a client may log them); only `triggered` differs.
    assert out["replies"].numpy()[0].tolist() == [b"r0", b"r3", b"r6"]
    np.testing.assert_allclose(out["trigger_score"].numpy(), [0.49, 0.5, 0.9])


def test_fallback_set_when_stage_one_is_unsure():
    out = _suggest([0.9, 0.9], [[0.34, 0.33, 0.33], [0.8, 0.1, 0.1]], fallback_confidence=0.4)
    assert out["fallback"].numpy().tolist() == [True, False]
    assert out["replies"].numpy().tolist() == [[b"Ok", b"Thanks!", b"Sounds good"],
                                               [b"r0", b"r3", b"r6"]]
    assert out["cluster_ids"].numpy().tolist() == [[-1, -1, -1], [0, 1, 2]]
    assert out["ranked_cluster_ids"].numpy()[1].tolist() == [0, 1, 2]


def test_tfidf_votes_equal_scikit_learns_tfidf_logistic_regression():
    """The bag-of-words path after `fit` computes, in the graph, the decision function of
    scikit-learn's TfidfVectorizer + LogisticRegression fitted on the same messages."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    ids = np.zeros([40, 6], np.int32)  # padded messages of 1-5 words (ids 3-19), some twice
    for row in ids:
        words = rng.choice(np.arange(RESERVED, 20), rng.integers(1, 6))
        row[:len(words)] = words
    assert any(len(set(row[row > 0])) < np.sum(row > 0) for row in ids)
    clusters = rng.integers(0, 3, 40)  # cluster 3 of 4 has no message
    layer = smart_reply_model.TfidfVotes(20, 4)
    layer.fit(ids, clusters, np.ones(40, bool), c=10.0)
    texts = [" ".join(str(t) for t in row if t) for row in ids]
    features = TfidfVectorizer(token_pattern=r"\S+").fit_transform(texts)
    reference = LogisticRegression(C=10.0, max_iter=2000).fit(features, clusters)
    logits = layer(tf.constant(ids)).numpy()
    np.testing.assert_allclose(logits[:, :3], reference.decision_function(features),
                               atol=1e-4)
    assert (logits[:, 3] < logits[:, :3].min(axis=1)).all()  # never the unseen cluster
    # A word no training message had (id 1, OOV) changes nothing.
    unknown = ids.copy()
    unknown[:, -1] = 1
    np.testing.assert_allclose(layer(tf.constant(unknown)).numpy(), logits, atol=1e-6)
    # Two clusters: scikit-learn fits one logit; the path's softmax gives the same odds.
    binary = clusters % 2
    layer.fit(ids, binary, np.ones(40, bool))
    reference = LogisticRegression(C=10.0, max_iter=2000).fit(features, binary)
    probabilities = tf.nn.softmax(layer(tf.constant(ids))).numpy()
    np.testing.assert_allclose(probabilities[:, :2], reference.predict_proba(features),
                               atol=1e-4)
    # One labelled cluster (or none): nothing to fit; that cluster's bias leads, no votes.
    layer.fit(ids, np.full(40, 2), np.arange(40) < 5)
    np.testing.assert_array_equal(layer(tf.constant(ids)).numpy(),
                                  np.tile([[-10.0, -10.0, 0.0, -10.0]], [40, 1]))
    layer.fit(ids, clusters, np.zeros(40, bool))
    np.testing.assert_array_equal(layer(tf.constant(ids)).numpy(), np.full([40, 4], -10.0))
    # One output (the trigger's path): the binary regression's own logit; one label: ±10.
    single = smart_reply_model.TfidfVotes(20, 1)
    single.fit(ids, binary, np.ones(40, bool))
    np.testing.assert_allclose(single(tf.constant(ids)).numpy()[:, 0],
                               reference.decision_function(features), atol=1e-4)
    # Balanced: scikit-learn's class_weight="balanced" (each label's rows weigh the same).
    unbalanced = (np.arange(40) < 8).astype(np.int64)
    single.fit(ids, unbalanced, np.ones(40, bool), balanced=True)
    reference = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced").fit(
        features, unbalanced)
    np.testing.assert_allclose(single(tf.constant(ids)).numpy()[:, 0],
                               reference.decision_function(features), atol=1e-4)
    single.fit(ids, np.ones(40, np.int64), np.ones(40, bool))
    np.testing.assert_array_equal(single(tf.constant(ids)).numpy(), np.full([40, 1], 10.0))
    single.fit(ids, np.zeros(40, np.int64), np.ones(40, bool))
    np.testing.assert_array_equal(single(tf.constant(ids)).numpy(), np.full([40, 1], -10.0))


def test_tfidf_votes_with_bigrams_equal_scikit_learns_unigrams_and_bigrams():
    """With bigram buckets the path computes scikit-learn's TF-IDF over words and adjacent
    word pairs (ngram_range (1, 2)) + logistic regression, when no two pairs share a bucket;
    pairs with PAD or an unknown word are no features, and word order now counts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    ids = np.zeros([60, 6], np.int32)
    for row in ids:
        words = rng.choice(np.arange(RESERVED, 12), rng.integers(1, 6))
        row[:len(words)] = words
    pairs = {(a, b) for row in ids for a, b in zip(row[:-1], row[1:], strict=True) if a and b}
    buckets = 4096
    extended = smart_reply_model.with_bigrams(ids, 12, buckets, np)
    assert extended.shape == (60, 11)
    hashed = {(a, b): 12 + (a * 7919 + b) % buckets for a, b in pairs}
    assert len(set(hashed.values())) == len(pairs)  # no collision in this case
    for row, out in zip(ids, extended, strict=True):
        expected = [hashed.get((a, b), 0) for a, b in zip(row[:-1], row[1:], strict=True)]
        assert out[:6].tolist() == row.tolist() and out[6:].tolist() == expected
    np.testing.assert_array_equal(
        smart_reply_model.with_bigrams(tf.constant(ids), 12, buckets, tf).numpy(), extended)
    labels = rng.integers(0, 2, 60)
    layer = smart_reply_model.TfidfVotes(12, 1, buckets)
    layer.fit(ids, labels, np.ones(60, bool))
    texts = [" ".join(str(t) for t in row if t) for row in ids]
    features = TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 2)).fit_transform(texts)
    reference = LogisticRegression(C=10.0, max_iter=2000).fit(features, labels)
    np.testing.assert_allclose(layer(tf.constant(ids)).numpy()[:, 0],
                               reference.decision_function(features), atol=1e-4)
    # An unknown word (id 1) drops its own feature and both pairs it is in.
    unknown = np.array([[3, 1, 4, 0, 0, 0]], np.int32)
    assert smart_reply_model.with_bigrams(unknown, 12, buckets, np)[0, 6:].tolist() == [0] * 5
    # Order: "a b" and "b a" differ by their pair only.
    a, b = next((a, b) for a, b in sorted(pairs) if a != b and (b, a) in pairs)
    ab, ba = np.array([[a, b, 0, 0, 0, 0], [b, a, 0, 0, 0, 0]], np.int32)
    logits = layer(tf.constant(np.stack([ab, ba]))).numpy()[:, 0]
    assert abs(logits[0] - logits[1]) > 1e-3
    assert smart_reply_model.with_bigrams(ids, 12, 0, np) is ids  # no buckets: words alone


def test_trigger_weights_balance_explicit_negatives():
    from models.smart_reply.labels import trigger_weights

    trigger = np.array([1, 1, 1, 0, 0, 0])
    negative = np.array([False, False, False, True, True, False])
    # Three positives, two negatives (1.5 each); the uncovered conversation counts nothing.
    np.testing.assert_array_equal(trigger_weights(trigger, negative),
                                  [1.0, 1.0, 1.0, 1.5, 1.5, 0.0])
    # Without marked negatives every pair counts once; without positives, negatives once.
    np.testing.assert_array_equal(trigger_weights(trigger, np.zeros(6, bool)), np.ones(6))
    np.testing.assert_array_equal(trigger_weights(np.zeros(6), negative),
                                  [0.0, 0.0, 0.0, 1.0, 1.0, 0.0])


def test_user_embedding_shifts_the_cluster_distribution():
    tf.keras.utils.set_random_seed(0)
    model = smart_reply_model.smart_reply(VOCAB, 3, context_length=5, reply_length=5,
                                          embedding_dim=8, units=6, num_users=4)
    encoder = smart_reply_model.encoder(model)
    bias = model.get_layer("user_cluster_bias")
    bias.set_weights([np.eye(16, 3, dtype=np.float32) * 5.0])
    embedding = model.get_layer("user_embedding")
    table = np.zeros([5, 16], np.float32)
    table[2, 1] = 1.0  # user 2 → +5 on cluster 1's logit
    embedding.set_weights([table])
    context = np.array([[3, 4, 0, 0, 0]] * 2, np.int32)
    _, logp, _, _ = encoder([context, np.array([0, 2], np.int32)])
    shift = logp.numpy()[1] - logp.numpy()[0]
    np.testing.assert_allclose(shift[1] - shift[0], 5.0, atol=1e-4)


def test_sampled_softmax_trains_and_exports_the_same_signature():
    """Training with a sampled softmax lowers the exact token loss, and the serving signature
    (and the decoder step it runs) is the full-softmax one."""
    from models.smart_reply import export, text, trainer
    from pipelines.smart_reply import data as reply_data

    pairs = reply_data.bundled_pairs()[::15]
    words = sorted({t for row in text.tokens([p["context"] for p in pairs] +
                                             [p["reply"] for p in pairs]) for t in row})
    responses = trainer.build_response_set(pairs, dict(max_responses=100, max_reply_tokens=6,
                                                       min_count=2, min_similarity=0.5))
    config = dict(context_tokens=10, max_reply_tokens=6, embedding_dim=8, units=8, dropout=0.0,
                  learning_rate=0.01, beam_width=8, length_bias=0.0, rank_by="cluster",
                  suggestions=3,
                  trigger_threshold=0.5, fallback_confidence=0.0, sensitive_guard=True,
                  max_message_chars=100)
    signatures = {}
    for sampled in (0, 16):
        settings = {**config, "sampled_softmax": sampled}
        tf.keras.utils.set_random_seed(0)
        reply_vocab = int(export.reply_vocabulary(responses, words).max()) + 1
        model = trainer.build_model(settings, RESERVED + len(words), responses.num_clusters, 0,
                                    reply_vocab)
        x, y, w = trainer.training_arrays(pairs, responses, words, [], settings, held_in=True)
        if sampled:
            assert model.get_layer("token_logits").num_sampled == 16
            before = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
            model.fit(x, y, sample_weight=w, batch_size=32, epochs=3, verbose=0)
            after = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
            # evaluate runs the exact softmax: the sampled one trained the real objective.
            assert after["tokens_loss"] < 0.97 * before["tokens_loss"]
        serve = export.reply_function(model, words, [], responses, config)
        concrete = serve.get_concrete_function()
        signatures[sampled] = (
            concrete.structured_input_signature,
            {k: (v.dtype, v.shape.as_list()) for k, v in concrete.structured_outputs.items()})
        out = serve(tf.constant(["Hello, how are you?"]))
        assert len(set(out["cluster_ids"].numpy()[0].tolist())) == 3
    assert signatures[16] == signatures[0]
