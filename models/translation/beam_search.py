"""Batched beam search in graph with GNMT's scoring (Wu et al. 2016, §7):

    s(Y, X) = log P(Y|X) / lp(Y) + cp(X; Y)
    lp(Y)   = (5 + |Y|)^α / (5 + 1)^α
    cp(X;Y) = β · Σ_i log(min(Σ_j p_ij, 1.0))

|Y| counts the emitted wordpieces including the end token; p_ij is the attention of target
wordpiece j on source wordpiece i (padding excluded). Beams grow by log P; a hypothesis is
scored with lp and cp when it ends (emits the end token, or reaches `max_length`, where it is
kept as it is). Beam width 1 is greedy decoding. The search stops early once no live
hypothesis can still beat the best finished one of every sentence, which never changes its
result: log P only falls as a hypothesis grows, lp(Y) ≤ lp(max_length) and cp ≤ 0.
"""
from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

NEG_INF = -1e9
# Step: (previous tokens [n], states) → (log-probabilities [n, vocab], states, alignments
# [n, source_len]); n = batch × beam.
StepFn = Callable[[tf.Tensor, list[tf.Tensor]], tuple[tf.Tensor, list[tf.Tensor], tf.Tensor]]


def length_penalty(length: tf.Tensor | float, alpha: float) -> tf.Tensor:
    """lp(Y) = (5 + |Y|)^α / 6^α."""
    length = tf.cast(length, tf.float32)
    return tf.pow((5.0 + length) / 6.0, alpha)


def coverage_penalty(attention_sums: tf.Tensor, source_mask: tf.Tensor,
                     beta: float) -> tf.Tensor:
    """cp = β · Σ_i log(min(Σ_j p_ij, 1)) over the real (unmasked) source positions i;
    `attention_sums` [..., source_len] holds Σ_j p_ij."""
    # Clipped below so that β = 0 never meets log(0) = -inf (0 · -inf is nan).
    covered = tf.math.log(tf.clip_by_value(attention_sums, 1e-10, 1.0))
    return beta * tf.reduce_sum(covered * tf.cast(source_mask, tf.float32), axis=-1)


def _gather_beams(tensor: tf.Tensor, beam_index: tf.Tensor, batch: tf.Tensor,
                  beam: int) -> tf.Tensor:
    """tensor [batch·beam, ...] reordered by beam_index [batch, beam]."""
    shaped = tf.reshape(tensor, tf.concat([[batch, beam], tf.shape(tensor)[1:]], axis=0))
    gathered = tf.gather(shaped, beam_index, batch_dims=1)
    return tf.reshape(gathered, tf.shape(tensor))


def tile_beams(tensor: tf.Tensor, beam: int) -> tf.Tensor:
    """[batch, ...] → [batch·beam, ...], each sentence repeated `beam` times in a row."""
    return tf.repeat(tensor, beam, axis=0)


def beam_search(step_fn: StepFn, initial_states: list[tf.Tensor], source_mask: tf.Tensor,
                beam_width: int, max_length: tf.Tensor | int, alpha: float, beta: float,
                start_id: int, end_id: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The best hypothesis of every sentence: (ids [batch, max_length] with the end token
    and zero padding after it, lengths [batch] including the end token when there is one,
    scores [batch] = s(Y, X)).

    `initial_states` and `source_mask` [batch, source_len] are per sentence; the states are
    tiled over the beam here, and `step_fn` must see the tiled source too (close over
    `tile_beams(memory, beam_width)`).
    """
    beam = beam_width
    batch = tf.shape(source_mask)[0]
    source_len = tf.shape(source_mask)[1]
    max_length = tf.convert_to_tensor(max_length, tf.int32)
    states = [tile_beams(s, beam) for s in initial_states]
    mask = tf.cast(tile_beams(source_mask, beam), tf.float32)
    mask = tf.reshape(mask, [batch, beam, source_len])
    # Only the first beam is live at the start, so the first step's K best are distinct.
    alive_logp = tf.tile(tf.concat([[0.0], tf.fill([beam - 1], NEG_INF)], 0)[tf.newaxis],
                         [batch, 1])
    alive_seq = tf.zeros([batch, beam, max_length], tf.int32)
    coverage = tf.zeros([batch, beam, source_len])
    tokens = tf.fill([batch * beam], start_id)
    best_seq = tf.zeros([batch, max_length], tf.int32)
    best_len = tf.zeros([batch], tf.int32)
    best_score = tf.fill([batch], NEG_INF)
    final_lp = length_penalty(max_length, alpha)
    position = tf.one_hot(tf.range(max_length), max_length, dtype=tf.int32)  # [T, T]

    def body(t, tokens, states, alive_logp, alive_seq, coverage, best_seq, best_len,
             best_score):
        logp, states, alignments = step_fn(tokens, states)
        vocab = tf.shape(logp)[-1]
        logp = tf.reshape(logp, [batch, beam, vocab])
        coverage = coverage + tf.reshape(alignments, [batch, beam, source_len])
        candidates = alive_logp[:, :, tf.newaxis] + logp  # [batch, beam, vocab]
        penalty = coverage_penalty(coverage, mask, beta)  # [batch, beam]
        lp = length_penalty(t + 1, alpha)
        live = alive_logp > NEG_INF / 2

        # Hypotheses that end here: by the end token, or at the length limit with their most
        # likely next token (one per beam, as the coverage is the same for every token).
        last = tf.equal(t + 1, max_length)
        ended_token = tf.where(last, tf.argmax(candidates, axis=-1, output_type=tf.int32),
                               tf.fill([batch, beam], end_id))
        ended_logp = tf.gather(candidates, ended_token, batch_dims=2)
        ended_score = tf.where(live, ended_logp / lp + penalty, NEG_INF)
        ended_seq = alive_seq + ended_token[:, :, tf.newaxis] * position[t]
        k = tf.argmax(ended_score, axis=1, output_type=tf.int32)
        step_best = tf.gather(ended_score, k, batch_dims=1)
        better = step_best > best_score
        best_score = tf.where(better, step_best, best_score)
        best_seq = tf.where(better[:, tf.newaxis], tf.gather(ended_seq, k, batch_dims=1),
                            best_seq)
        best_len = tf.where(better, t + 1, best_len)

        # The beam lives on without the end token.
        not_end = tf.not_equal(tf.range(vocab), end_id)
        growing = tf.where(not_end, candidates, NEG_INF)
        alive_logp, index = tf.math.top_k(tf.reshape(growing, [batch, beam * vocab]), k=beam)
        beam_index, tokens = index // vocab, index % vocab
        alive_seq = tf.gather(alive_seq, beam_index, batch_dims=1)
        alive_seq = alive_seq + tokens[:, :, tf.newaxis] * position[t]
        coverage = tf.gather(coverage, beam_index, batch_dims=1)
        states = [_gather_beams(s, beam_index, batch, beam) for s in states]
        return (t + 1, tf.reshape(tokens, [-1]), states, alive_logp, alive_seq, coverage,
                best_seq, best_len, best_score)

    def searching(t, tokens, states, alive_logp, alive_seq, coverage, best_seq, best_len,
                  best_score):
        # Can a live hypothesis of any sentence still beat that sentence's best?
        bound = tf.reduce_max(alive_logp, axis=1) / final_lp
        return tf.logical_and(t < max_length, tf.reduce_any(bound > best_score))

    loop_vars = (tf.constant(0), tokens, states, alive_logp, alive_seq, coverage, best_seq,
                 best_len, best_score)
    shapes = (tf.TensorShape([]), tf.TensorShape([None]), [s.shape for s in states],
              tf.TensorShape([None, beam]), tf.TensorShape([None, beam, None]),
              tf.TensorShape([None, beam, None]), tf.TensorShape([None, None]),
              tf.TensorShape([None]), tf.TensorShape([None]))
    result = tf.while_loop(searching, body, loop_vars, shape_invariants=shapes)
    return result[6], result[7], result[8]
