"""Scoring the response set: beam search over a trie (Kannan et al. 2016, §4.3), the
brute-force reference it must agree with, and the diversity rule (no two suggestions from one
semantic cluster, §5).

The trie's root has one child per cluster (scored by stage 1); below a cluster node, the
responses of that cluster share their token prefixes; every response ends in an EOS leaf.
Score(r) = log P(c_r | x) + Σ_t log P(w_t | w_<t, c_r, x) + length_bias · |r| — the bias per
word counteracts the product of probabilities' preference for short replies (Allo's
length-biased beam search). All functions are TensorFlow ops that TFLite has as builtins
(no scatter-max, no Flex ops), so that the same code runs in tests, in the serving signature
and in the on-device .tflite model (models/smart_reply/device.py).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from models.smart_reply.text import EOS, OOV, PAD, RESERVED
from pipelines.smart_reply.settings import RANK_BY

NEG_INF = float("-inf")


@dataclasses.dataclass(frozen=True)
class Trie:
    """The arrays are numpy arrays, or tensors / variables of the same shapes (the on-device
    model holds them as weights)."""

    token: np.ndarray  # [nodes] id fed to the decoder when leaving the node (GO_c, word, EOS)
    children: np.ndarray  # [nodes, fan_out], -1 padded
    response: np.ndarray  # [nodes] response index of an EOS leaf, else -1
    output: np.ndarray  # [nodes] the node's token as stage 2 scores it (reply vocabulary id)
    num_clusters: int
    num_responses: int
    depth: int  # levels below the cluster nodes (longest response + EOS)


def reply_vocabulary(response_ids: list[list[int]], vocab_size: int) -> np.ndarray:
    """Stage 2's output vocabulary: [vocab_size] map from a token id to its reply vocabulary
    id (PAD, OOV and EOS keep 0, 1, 2; the words of the response set follow in token id
    order, i.e. by frequency; every other word is OOV). Stage 2 only ever scores responses
    of the set, so its softmax needs no other word: training and serving both normalise over
    this vocabulary, which is a few hundred tokens where the message vocabulary has
    thousands (the softmax is most of each beam step's work)."""
    words = sorted({t for ids in response_ids for t in ids if t >= RESERVED})
    table = np.full([vocab_size], OOV, np.int32)
    table[:RESERVED] = np.arange(RESERVED)
    table[words] = RESERVED + np.arange(len(words), dtype=np.int32)
    return table


def build_trie(response_ids: list[list[int]], clusters: list[int], num_clusters: int,
               vocab_size: int, output_ids: np.ndarray | None = None) -> Trie:
    """A trie of token-id sequences; response i sits under cluster node clusters[i].
    `output_ids` maps token ids to stage 2's output ids (`reply_vocabulary`; default: the
    identity, a softmax over the whole vocabulary)."""
    tokens, response, children = [PAD], [-1], [[]]  # node 0: the root

    def add(parent: int, token: int, response_index: int = -1) -> int:
        tokens.append(token)
        response.append(response_index)
        children.append([])
        children[parent].append(len(tokens) - 1)
        return len(tokens) - 1

    cluster_nodes = [add(0, vocab_size + c) for c in range(num_clusters)]
    index: dict[tuple[int, int], int] = {}
    for i, (ids, cluster) in enumerate(zip(response_ids, clusters, strict=True)):
        node = cluster_nodes[cluster]
        for token in ids:
            key = (node, token)
            if key not in index:
                index[key] = add(node, token)
            node = index[key]
        add(node, EOS, i)
    fan_out = max(len(c) for c in children)
    table = np.full([len(tokens), fan_out], -1, np.int32)
    for node, kids in enumerate(children):
        table[node, :len(kids)] = kids
    if output_ids is None:
        output_ids = np.arange(vocab_size, dtype=np.int32)
    token = np.array(tokens, np.int32)
    # Cluster nodes are never scored by stage 2 (stage 1 does): any valid id will do.
    output = np.where(token < vocab_size, output_ids[np.minimum(token, vocab_size - 1)], 0)
    return Trie(token=token, children=table, response=np.array(response, np.int32),
                output=output.astype(np.int32), num_clusters=num_clusters,
                num_responses=len(response_ids),
                depth=max(len(ids) for ids in response_ids) + 1)


StepFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]


def trie_beam_search(cluster_logp: tf.Tensor, state_h: tf.Tensor, state_c: tf.Tensor,
                     step: StepFn, trie: Trie, beam_width: int,
                     length_bias: float = 0.0) -> tf.Tensor:
    """[B, responses] scores of the responses the beam reached (-inf for the others).

    Every level keeps the `beam_width` best open prefixes per message; a prefix whose child
    is an EOS leaf completes that response. With a beam as wide as the widest trie level the
    result equals `score_all` exactly.
    """
    # A static batch (the on-device model's 1) keeps every loop shape static, as TFLite needs.
    batch = cluster_logp.shape[0] or tf.shape(cluster_logp)[0]
    token = tf.convert_to_tensor(trie.token)
    output = tf.convert_to_tensor(trie.output)
    children = tf.convert_to_tensor(trie.children)
    response = tf.convert_to_tensor(trie.response)
    fan_out = int(trie.children.shape[1])
    slots = trie.num_responses + 1
    width = beam_width

    # Level 1: the cluster nodes (children 0..C-1 of the root, in cluster order); beams
    # beyond the number of clusters start dead (-inf, parked at the root).
    first = min(beam_width, trie.num_clusters)
    top_scores, clusters = tf.math.top_k(cluster_logp, k=first)
    scores = tf.concat([top_scores, tf.fill([batch, width - first], NEG_INF)], axis=1)
    nodes = tf.concat([tf.gather(children[0], clusters),
                       tf.zeros([batch, width - first], tf.int32)], axis=1)  # [B, K]
    state_h = tf.repeat(state_h, width, axis=0)  # [B*K, units]
    state_c = tf.repeat(state_c, width, axis=0)
    finished = tf.fill([batch, slots], NEG_INF)  # last column: no response
    rows = tf.range(batch)

    def expand(level, nodes, scores, state_h, state_c, finished):
        logp, state_h, state_c = step(tf.reshape(tf.gather(token, nodes), [-1]), state_h,
                                      state_c)
        kids = tf.gather(children, nodes)  # [B, K, F]
        valid = kids >= 0
        kid_tokens = tf.gather(token, tf.maximum(kids, 0))
        logp = tf.reshape(logp, [batch, width, -1])
        # Dead beams sit at the root, whose children (cluster nodes) have output id 0: their
        # score is -inf whatever is gathered.
        kid_logp = tf.gather(logp, tf.gather(output, tf.maximum(kids, 0)), batch_dims=2)
        is_word = kid_tokens != EOS
        candidate = scores[:, :, None] + kid_logp + tf.where(is_word, length_bias, 0.0)
        candidate = tf.where(valid, candidate, NEG_INF)

        ends = valid & ~is_word
        done = tf.reshape(tf.where(ends, tf.gather(response, tf.maximum(kids, 0)),
                                   trie.num_responses), [batch, -1])  # [B, K*F]
        # A per-response max over this level (TFLite has segment max, not scatter max); an
        # empty segment is the lowest float, not -inf.
        best = tf.math.unsorted_segment_max(
            tf.reshape(tf.where(ends, candidate, NEG_INF), [-1]),
            tf.reshape(rows[:, None] * slots + done, [-1]), batch * slots)
        best = tf.where(best < -1e30, NEG_INF, best)
        finished = tf.maximum(finished, tf.reshape(best, [batch, slots]))

        open_scores = tf.reshape(tf.where(is_word, candidate, NEG_INF), [batch, -1])
        scores, flat = tf.math.top_k(open_scores, k=width)
        nodes = tf.gather(tf.reshape(kids, [batch, -1]), flat, batch_dims=1)
        nodes = tf.maximum(nodes, 0)  # dead beams (-inf) park at the root and stay -inf
        parent = tf.reshape(rows[:, None] * width + flat // fan_out, [-1])
        return (level + 1, nodes, scores, tf.gather(state_h, parent),
                tf.gather(state_c, parent), finished)

    # A graph loop, not an unrolled one: one decoder step in the graph, whatever the depth.
    # It stops as soon as no beam holds an open prefix: most responses are far shorter than
    # the longest, and each level costs a decoder step (most of the latency).
    def more(level, nodes, scores, *_):
        return (level < trie.depth) & tf.reduce_any(scores > NEG_INF)

    *_, finished = tf.while_loop(
        more, expand,
        (tf.constant(0), nodes, scores, state_h, state_c, finished))
    return finished[:, :-1]


def score_all(cluster_logp: tf.Tensor, state_h: tf.Tensor, state_c: tf.Tensor,
              sequence_logp: Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor],
              response_ids: list[list[int]], clusters: list[int], vocab_size: int,
              length_bias: float = 0.0, output_ids: np.ndarray | None = None) -> tf.Tensor:
    """Brute force: the score of every response for every message ([B, responses]), each
    response teacher-forced through the whole decoder. `sequence_logp(inputs [N, T], h [N,
    units], c)` returns the decoder's log-probabilities [N, T, V] over its output ids
    (`output_ids` maps token ids to them, as in `build_trie`)."""
    length = max(len(r) for r in response_ids) + 1
    inputs = np.zeros([len(response_ids), length], np.int32)
    targets = np.zeros([len(response_ids), length], np.int32)
    for i, (ids, cluster) in enumerate(zip(response_ids, clusters, strict=True)):
        inputs[i, :len(ids) + 1] = [vocab_size + cluster] + ids
        targets[i, :len(ids) + 1] = ids + [EOS]
    if output_ids is not None:
        targets = output_ids[targets]  # PAD stays PAD
    batch = tf.shape(cluster_logp)[0]
    count = len(response_ids)
    logp = sequence_logp(tf.tile(inputs, [batch, 1]), tf.repeat(state_h, count, axis=0),
                         tf.repeat(state_c, count, axis=0))  # [B*N, T, V]
    token_logp = tf.gather(logp, tf.tile(targets, [batch, 1]), batch_dims=2)
    token_logp = tf.where(tf.tile(targets, [batch, 1]) != PAD, token_logp, 0.0)
    total = tf.reshape(tf.reduce_sum(token_logp, axis=1), [batch, count])
    lengths = tf.constant([len(r) for r in response_ids], tf.float32)
    return total + tf.gather(cluster_logp, clusters, axis=1) + length_bias * lengths


def diverse_top_k(scores: tf.Tensor, clusters: list[int] | np.ndarray | tf.Tensor,
                  num_clusters: int, k: int, cluster_logp: tf.Tensor | None = None,
                  ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The best response of each of the k best clusters: (response indices [B, k], scores
    [B, k], cluster ids [B, k]). Clusters rank by their best response or, given stage 1's
    `cluster_logp` [B, C], by that among the clusters the search reached (Allo: stage 1
    picks the intents, stage 2 the wording within each); ties go to the lower index. Slots
    beyond the clusters the search reached have score -inf."""
    clusters = tf.cast(tf.convert_to_tensor(clusters), tf.int32)
    member = tf.equal(clusters[None, :], tf.range(num_clusters)[:, None])  # [C, N]
    per_cluster = tf.where(member[None], scores[:, None, :], NEG_INF)  # [B, C, N]
    best = tf.argmax(per_cluster, axis=2, output_type=tf.int32)  # [B, C]
    best_score = tf.reduce_max(per_cluster, axis=2)
    key = best_score
    if cluster_logp is not None:
        key = tf.where(tf.math.is_finite(best_score), cluster_logp, NEG_INF)
    _, top_clusters = tf.math.top_k(key, k=min(k, num_clusters))
    return (tf.gather(best, top_clusters, batch_dims=1),
            tf.gather(best_score, top_clusters, batch_dims=1), top_clusters)




def suggest_ids(trigger: tf.Tensor, cluster_logp: tf.Tensor, scores: tf.Tensor,
                clusters: list[int] | np.ndarray | tf.Tensor, num_clusters: int,
                num_fallback: int, k: int = 3, threshold: float = 0.5,
                fallback_confidence: float = 0.0, rank_depth: int = 10,
                rank_by: str = "cluster") -> dict[str, tf.Tensor]:
    """What is shown for each message, as numbers (the on-device model's outputs), from the
    trigger probability [B], the cluster log-probabilities [B, C] and the response scores
    [B, N]:

    - `triggered`: trigger ≥ threshold (Inbox shows nothing otherwise; the replies are still
      returned so that a client can log them);
    - `reply_ids` / `scores` / `cluster_ids` [B, k]: the best response (and its score) of each
      of the k best clusters (reply id = its index in the response set); clusters rank by
      stage 1's probability (`rank_by="cluster"`, Allo's order) or by their best response's
      score (`"response"`); either way only clusters the beam reached count. When stage 1
      is unsure (its most likely cluster has probability below `fallback_confidence`), the
      fallback set instead (reply id N + j for the j-th fallback reply, cluster id -1); -1
      where there is none;
    - `ranked_cluster_ids` [B, rank_depth]: the clusters in that order (for recall@k and MRR
      of the true reply's cluster).
    """
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by must be one of {RANK_BY}, not {rank_by!r}")
    num_responses = int(scores.shape[1])
    depth = min(max(k, rank_depth), num_clusters)
    best, best_scores, ranked = diverse_top_k(
        scores, clusters, num_clusters, depth,
        cluster_logp if rank_by == "cluster" else None)
    index, top_scores, top_clusters = best[:, :k], best_scores[:, :k], ranked[:, :k]
    reached = tf.math.is_finite(top_scores)
    unsure = tf.reduce_max(tf.exp(cluster_logp), axis=1) < fallback_confidence
    fallback_ids = tf.constant([num_responses + j if j < num_fallback else -1
                                for j in range(k)], tf.int32)
    batch = tf.shape(scores)[0]
    return {
        "reply_ids": tf.where(unsure[:, None], tf.tile(fallback_ids[None], [batch, 1]),
                              tf.where(reached, index, -1)),
        "scores": tf.where(unsure[:, None], 0.0, top_scores),
        "cluster_ids": tf.where(unsure[:, None] | ~reached, -1, top_clusters),
        "trigger_score": trigger,
        "triggered": trigger >= threshold,
        "fallback": unsure,
        "ranked_cluster_ids": tf.where(tf.math.is_finite(best_scores), ranked, -1),
    }


def reply_texts(reply_ids: tf.Tensor, texts: list[str], fallback: list[str]) -> tf.Tensor:
    """Reply ids of `suggest_ids` → the texts shown ("" for -1)."""
    shown = tf.constant(list(texts) + list(fallback) + [""])
    return tf.gather(shown, tf.where(reply_ids < 0, len(texts) + len(fallback), reply_ids))


def suggest(trigger: tf.Tensor, cluster_logp: tf.Tensor, scores: tf.Tensor,
            texts: list[str], clusters: list[int], num_clusters: int, fallback: list[str],
            k: int = 3, threshold: float = 0.5, fallback_confidence: float = 0.0,
            rank_depth: int = 10, rank_by: str = "cluster") -> dict[str, tf.Tensor]:
    """`suggest_ids` with the replies as texts (`replies` [B, k]) instead of ids."""
    out = suggest_ids(trigger, cluster_logp, scores, clusters, num_clusters, len(fallback), k,
                      threshold, fallback_confidence, rank_depth, rank_by)
    out["replies"] = reply_texts(out.pop("reply_ids"), texts, fallback)
    return out
