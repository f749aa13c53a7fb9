"""GNMT: wordpieces, encoder / decoder structure, GNMT scoring and beam search."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from models.translation import beam_search, gnmt, plain_text
from models.translation import wordpieces as wp
from models.translation.translator import Translator
from pipelines.translation import data as translation_data


@pytest.fixture(scope="module")
def corpus():
    return translation_data.build_corpus("en", "fr", train_pairs=2000, eval_pairs=300)


@pytest.fixture(scope="module")
def vocabulary(corpus):
    train, _ = corpus
    return wp.learn_vocabulary([text for pair in train for text in pair], 2000)


def test_vocabulary_is_shared_cased_and_digit_split(vocabulary):
    assert vocabulary[:len(wp.RESERVED_TOKENS)] == wp.RESERVED_TOKENS
    assert {"La", "la", "réunion", "The", "meeting"} <= set(vocabulary)  # both languages, cased
    assert not [t for t in vocabulary if t.strip("#").isdigit() and len(t.strip("#")) > 1]


def test_detokenize_round_trips_every_reference(corpus, vocabulary):
    _, eval_ = corpus
    texts = [text for pair in eval_ for text in pair]
    pieces = wp.Wordpieces(vocabulary)
    ids = pieces.tokenize(tf.constant(texts))
    assert [t.decode() for t in pieces.detokenize(ids).numpy()] == texts
    # Numbers are digit sequences; an apostrophe or hyphen inside a word costs one token.
    tokens = [vocabulary[i] for i in pieces.tokenize(tf.constant(["s'écrit 1984-2026"]))[0]]
    assert tokens[:3] == ["s", "[']", "écrit"]
    assert tokens[3:] == ["1", "##9", "##8", "##4", "##-", "[G]", "2", "##0", "##2", "##6"]


def test_app_detokenizer_equals_the_graph_one(corpus, vocabulary):
    """What a phone runs after the .tflite (no TensorFlow) gives back every reference."""
    _, eval_ = corpus
    texts = [text for pair in eval_ for text in pair]
    ids = wp.Wordpieces(vocabulary).tokenize(tf.constant(texts)).numpy()
    # As the decoder returns them: [END], then padding (and nothing after [END] counts).
    decoded = [list(row) + [wp.END_ID, 9, wp.PAD_ID] for row in ids]
    assert [plain_text.detokenize(row, vocabulary) for row in decoded] == texts
    assert plain_text.detokenize([wp.START_ID, wp.END_ID], vocabulary) == ""


def test_detokenize_keeps_spacing_case_and_punctuation(vocabulary):
    pieces = wp.Wordpieces(vocabulary)
    texts = ["Destination : Islande, départ à 03:30.", "L'Inde (Asie) : 5,5 km.", "A  b\u00a0c"]
    out = pieces.detokenize(pieces.tokenize(tf.constant(texts))).numpy()
    assert [t.decode() for t in out] == texts[:2] + ["A b c"]
    # Padding, start and everything after the end token are dropped.
    ids = pieces.tokenize(tf.constant(["La réunion"])).to_tensor()
    padded = tf.concat([[[wp.START_ID]], ids, [[wp.END_ID, 9, wp.PAD_ID]]], axis=1)
    assert pieces.detokenize(padded).numpy()[0].decode() == "La réunion"


def test_length_penalty_hand_computed():
    # lp = ((5 + |Y|) / 6)^α: |Y| = 5, α = 0.2 → (10/6)^0.2 = 1.107566…; α = 0 → 1.
    assert float(beam_search.length_penalty(5, 0.2)) == pytest.approx(1.1075663, abs=1e-6)
    assert float(beam_search.length_penalty(1, 1.0)) == pytest.approx(1.0)
    assert float(beam_search.length_penalty(7, 1.0)) == pytest.approx(2.0)
    assert float(beam_search.length_penalty(13, 0.0)) == 1.0


def test_coverage_penalty_hand_computed():
    sums = tf.constant([[0.5, 1.3, 0.2], [1.0, 2.0, 0.25]])
    mask = tf.constant([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    # β · Σ_i log(min(Σ_j p_ij, 1)) over real positions: 0.2·(ln 0.5 + ln 1) = -0.1386294;
    # 0.2·(0 + 0 + ln 0.25) = -0.2772589. A source word attended in full costs nothing.
    got = beam_search.coverage_penalty(sums, mask, 0.2).numpy()
    np.testing.assert_allclose(got, [-0.1386294, -0.2772589], atol=1e-6)
    assert float(beam_search.coverage_penalty(tf.constant([0.0, 1.0]), tf.ones(2), 0.0)) == 0.0


@pytest.fixture(scope="module")
def deep_model():
    return gnmt.GNMT(vocab_size=50, encoder_layers=5, decoder_layers=4, units=16)


def test_encoder_structure(deep_model):
    bottom = deep_model.get_layer("encoder_1_bidirectional")
    assert isinstance(bottom, keras.layers.Bidirectional) and bottom.merge_mode == "concat"
    assert bottom.output_shape[-1] == 32  # forward and backward concatenated
    for layer in range(2, 6):
        lstm = deep_model.get_layer(f"encoder_{layer}")
        assert type(lstm) is keras.layers.LSTM and not lstm.go_backwards
    residuals = [layer.name for layer in deep_model.layers if layer.name.endswith("_residual")]
    assert residuals == ["encoder_3_residual", "encoder_4_residual", "encoder_5_residual"]
    # The residual adds a layer's input to its output.
    add = deep_model.get_layer("encoder_3_residual")
    assert [t.name.split("/")[0] for t in add.input] == ["encoder_2", "encoder_3"]


def test_decoder_structure_attention_feeds_every_layer(deep_model):
    cell = deep_model.get_layer("decoder").cell
    assert cell.residual_layers() == [3, 4]
    # Every layer's input holds the attention context (memory_dim 16) next to the layer
    # below's output (the bottom layer: the target embedding).
    assert [c.kernel.shape[0] for c in cell.cells] == [16 + 16] * 4
    # Behaviour: the bottom layer's output alone drives the attention. Changing layer 2's
    # weights leaves the alignments as they are, changing layer 1's moves them.
    memory = tf.random.normal([2, 5, 16], seed=1)
    keys = deep_model.get_layer("attention_keys")(memory)
    mask = tf.ones([2, 5])
    states = [tf.random.normal([2, s], seed=i) for i, s in enumerate(cell.state_size)]
    x = tf.random.normal([2, 16], seed=9)
    _, _, before = cell.step(x, states, memory, keys, mask)
    cell.cells[1].kernel.assign(cell.cells[1].kernel * 3.0)
    _, _, unchanged = cell.step(x, states, memory, keys, mask)
    np.testing.assert_allclose(unchanged, before, atol=1e-6)
    cell.cells[0].kernel.assign(cell.cells[0].kernel * 3.0)
    _, _, moved = cell.step(x, states, memory, keys, mask)
    assert np.abs(moved - before).max() > 1e-4
    # Residuals from layer 3: with layer 3's weights zeroed (and zero states) its LSTM output
    # is 0, so it passes layer 2's output on unchanged, and layer 4 adds it to its own:
    # top = h4 + h2, while layers 1 and 2 have no residual.
    for weight in cell.cells[2].weights:
        weight.assign(tf.zeros_like(weight))
    zeros = [tf.zeros([2, size]) for size in cell.state_size]
    top, new_states, _ = cell.step(x, zeros, memory, keys, mask)
    h1, h2, h3, h4 = new_states[0:8:2]
    np.testing.assert_allclose(h3, np.zeros([2, 16]), atol=1e-7)
    np.testing.assert_allclose(top, h4 + h2, atol=1e-6)


def test_paper_preset_is_the_papers_shape():
    paper = gnmt.PRESETS["paper"]
    assert (paper.encoder_layers, paper.decoder_layers, paper.units, paper.vocab_size) == (
        8, 8, 1024, 32000)


TINY_VOCABULARY = wp.RESERVED_TOKENS + ["x", "y"]


def _tiny_translator(beam_width: int, alpha: float, beta: float) -> Translator:
    keras.utils.set_random_seed(3)
    model = gnmt.GNMT(len(TINY_VOCABULARY), encoder_layers=2, decoder_layers=2, units=8)
    # Peaky distributions, so that the best hypothesis is not a near tie.
    softmax = model.get_layer("softmax")
    softmax.kernel.assign(softmax.kernel * 8.0)
    return Translator(model, TINY_VOCABULARY, beam_width=beam_width, alpha=alpha, beta=beta)


def _exhaustive(translator: Translator, source: np.ndarray, max_length: int, alpha: float,
                beta: float) -> tuple[list[int], float]:
    """The best GNMT score over every sequence up to max_length (ending with [END], or cut at
    max_length), all scored together by teacher-forcing the decoder step on them."""
    allowed = [i for i in range(len(TINY_VOCABULARY)) if i not in (wp.PAD_ID, wp.START_ID)]
    growing = [i for i in allowed if i != wp.END_ID]
    candidates = [list(p) + [wp.END_ID] for n in range(max_length)
                  for p in itertools.product(growing, repeat=n)]
    candidates += [list(p) for p in itertools.product(growing, repeat=max_length)]
    count = len(candidates)
    lengths = np.array([len(c) for c in candidates])
    padded = np.array([c + [wp.END_ID] * (max_length - len(c)) for c in candidates])
    source_ids = tf.constant(np.repeat(source[np.newaxis], count, axis=0), tf.int32)
    memory, keys = translator.encoder(source_ids)
    mask = tf.cast(tf.not_equal(source_ids, 0), tf.float32)
    states = [tf.zeros([count, s]) for s in translator.cell.state_size]
    previous = np.full(count, wp.START_ID)
    logp, coverage = np.zeros(count), np.zeros([count, source.shape[0]])
    for t in range(max_length):
        embedded = translator.target_embedding(tf.constant(previous))
        output, states, alignments = translator.cell.step(embedded, states, memory, keys, mask)
        step = tf.nn.log_softmax(translator.softmax(output)).numpy()
        inside = t < lengths
        logp += np.where(inside, step[np.arange(count), padded[:, t]], 0.0)
        coverage += np.where(inside[:, np.newaxis], alignments.numpy(), 0.0)
        previous = padded[:, t]
    scores = (logp / beam_search.length_penalty(lengths, alpha).numpy()
              + beam_search.coverage_penalty(tf.constant(coverage, tf.float32), mask,
                                             beta).numpy())
    best = int(np.argmax(scores))
    return candidates[best], float(scores[best])


def test_beam_search_equals_exhaustive_search_on_a_tiny_model():
    alpha, beta, max_length = 0.6, 0.3, 3
    # 6 tokens can grow a hypothesis: a beam of 6² keeps every prefix, so beam search must
    # find the exhaustive optimum of s(Y, X), for each sentence of the batch.
    translator = _tiny_translator(beam_width=36, alpha=alpha, beta=beta)
    sources = np.array([[7, 8, 7, 8], [8, 8, 0, 0]], np.int32)
    ids, lengths, scores = translator.decode_ids(tf.constant(sources), max_length=max_length)
    for row in range(2):
        real = sources[row][sources[row] > 0]
        sequence, score = _exhaustive(translator, real, max_length, alpha, beta)
        assert list(ids[row, :lengths[row]].numpy()) == sequence
        assert float(scores[row]) == pytest.approx(score, abs=1e-4)
    # Greedy is beam 1: its score can only be lower or equal.
    _, _, greedy = translator.decode_ids(tf.constant(sources), beam_width=1,
                                         max_length=max_length)
    assert np.all(greedy.numpy() <= scores.numpy() + 1e-5)


def test_training_batches_group_similar_lengths_and_keep_every_pair(corpus, vocabulary):
    """Length buckets: each batch pads to a bucket's width, not to the longest pair of the
    corpus, and one pass over the buckets holds every pair once, with teacher forcing."""
    from models.translation import trainer

    train, _ = corpus
    pairs = train[:600]
    texts = tf.data.Dataset.from_tensor_slices({"source": [s for s, _ in pairs],
                                                "target": [t for _, t in pairs]})
    pieces = wp.Wordpieces(vocabulary)
    dataset = trainer.token_dataset(texts, pieces, batch_size=16, max_tokens=100,
                                    shuffle=False)
    sources = [len(ids) for ids in pieces.tokenize(tf.constant([s for s, _ in pairs])).numpy()]
    targets = [len(ids) for ids in pieces.tokenize(tf.constant([t for _, t in pairs])).numpy()]
    seen, padded, real = 0, 0, 0
    for (source, target_in), target_out in dataset.take(200):
        widths = np.maximum((source.numpy() != 0).sum(1), (target_out.numpy() != 0).sum(1))
        assert (target_in.numpy()[:, 0] == wp.START_ID).all()
        assert target_in.shape == target_out.shape
        # Every pair of a batch falls in one bucket.
        buckets = np.searchsorted(trainer.BUCKET_BOUNDARIES, widths, side="right")
        assert len(set(buckets)) == 1, widths
        seen += len(widths)
        padded += source.shape[0] * max(source.shape[1], target_out.shape[1])
        real += widths.sum()
        if seen >= len(pairs):
            break
    assert seen == len(pairs)
    assert real == sum(max(s, t + 1) for s, t in zip(sources, targets, strict=True))
    assert real / padded > 0.8


@pytest.mark.parametrize("budget_mb, cached", [(64, True), (0, False)])
def test_split_dataset_reads_every_pair_once_per_pass_within_the_budget(
        corpus, vocabulary, tmp_path, budget_mb, cached):
    """The Trainer's input from TFRecord shards: every pair once per pass, cached in memory
    only when the budget allows (the tokenized pairs are streamed otherwise)."""
    from models.translation import trainer
    from models.translation.preprocessing import SOURCE_KEY, TARGET_KEY

    train, _ = corpus
    pairs = train[:300]
    files = [str(tmp_path / f"part-{k}.tfrecord") for k in range(3)]
    for k, path in enumerate(files):
        with tf.io.TFRecordWriter(path) as writer:
            for source, target in pairs[k::3]:
                writer.write(translation_data.example_bytes(source, target))
    spec = {SOURCE_KEY: tf.io.FixedLenFeature([], tf.string),
            TARGET_KEY: tf.io.FixedLenFeature([], tf.string)}
    pieces = wp.Wordpieces(vocabulary)
    dataset = trainer.split_dataset([str(tmp_path / "*.tfrecord")], spec, pieces, 16, 100,
                                    True, budget_mb, seed=0)
    graph = tf.compat.v1.GraphDef.FromString(dataset._as_serialized_graph().numpy())
    ops = {n.op for n in graph.node} | {n.op for f in graph.library.function
                                        for n in f.node_def}
    assert any(op.startswith("CacheDataset") for op in ops) == cached
    expected = sorted(tuple(ids) for ids in
                      pieces.tokenize(tf.constant([s for s, _ in pairs])).numpy().tolist())
    seen = []
    for (source, _), _ in dataset:
        seen += [tuple(int(i) for i in row if i) for row in source.numpy()]
        if len(seen) >= len(pairs):
            break
    assert sorted(seen) == expected
