"""The serving function of Smart Reply: raw message strings in, suggestions out.

Tokenization, the vocabulary, the trie of the response set and the diversity rule are all in
the graph, so TF Serving (or `shipyard reply`) needs nothing but the SavedModel; the response
set also travels as an asset (assets/response_set.json) for clients and the mobile bundle.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from models.keras2 import keras
from models.smart_reply import model as model_lib
from models.smart_reply import search, sensitive, text
from models.smart_reply.response_set import ResponseSet

MESSAGES, USERS = "messages", "users"
OUTPUTS = ("replies", "scores", "cluster_ids", "trigger_score", "triggered", "fallback",
           "ranked_cluster_ids")


def response_ids(response_set: ResponseSet, vocabulary: list[str]) -> list[list[int]]:
    index = {token: text.RESERVED + i for i, token in enumerate(vocabulary)}
    return [[index.get(t, text.OOV) for t in tokens] for tokens in response_set.tokens]


def reply_vocabulary(response_set: ResponseSet, vocabulary: list[str]) -> np.ndarray:
    """Token id → stage 2's output id (the response set's words; `search.reply_vocabulary`)."""
    return search.reply_vocabulary(response_ids(response_set, vocabulary),
                                   text.RESERVED + len(vocabulary))


def trie_of(response_set: ResponseSet, vocabulary: list[str]) -> search.Trie:
    """The trie the beam search walks: the response set in token ids, under its clusters,
    scored in the reply vocabulary."""
    return search.build_trie(response_ids(response_set, vocabulary), response_set.clusters,
                             response_set.num_clusters, text.RESERVED + len(vocabulary),
                             reply_vocabulary(response_set, vocabulary))


def user_table(users: list[str]) -> tf.lookup.StaticHashTable:
    """User name → id (1-based; 0 is an unknown user, whose embedding is learned as such)."""
    keys = tf.constant(users or [""], tf.string)
    ids = tf.range(1, len(users) + 1, dtype=tf.int32) if users else tf.constant([0], tf.int32)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, ids), 0)


def reply_function(model: keras.Model, vocabulary: list[str], users: list[str],
                   response_set: ResponseSet, config: dict[str, Any]):
    """A tf.function: messages [B] (and users [B] when the model is personalised) → the
    outputs of `search.suggest`. Empty and over-long messages fail with INVALID_ARGUMENT. With
    `sensitive_guard` a message holding a crisis phrase scores trigger 0
    (models/smart_reply/sensitive.py)."""
    encoder = model_lib.encoder(model)
    step = model_lib.decoder_step(model)
    trie = trie_of(response_set, vocabulary)
    tokens = text.lookup_table(vocabulary)
    names = user_table(users)
    # Tracked by the model, so that the SavedModel carries the tables and the asset.
    model.token_table, model.user_table = tokens, names
    max_chars = config["max_message_chars"]
    context_tokens = config["context_tokens"]
    guard = config["sensitive_guard"]

    def suggest(messages: tf.Tensor, user_names: tf.Tensor | None) -> dict[str, tf.Tensor]:
        stripped = tf.strings.length(tf.strings.strip(messages), unit="UTF8_CHAR")
        checks = [
            tf.debugging.assert_greater(stripped, 0, message="empty message"),
            tf.debugging.assert_less_equal(
                tf.strings.length(messages, unit="UTF8_CHAR"), max_chars,
                message=f"message longer than {max_chars} characters"),
        ]
        with tf.control_dependencies(checks):
            words = text.tokenize(messages)
        ids = text.words_to_ids(tokens, words, context_tokens)
        inputs = [ids] if user_names is None else [ids, names.lookup(user_names)]
        trigger, cluster_logp, state_h, state_c = encoder(inputs)
        if guard:  # on the whole message, not only the context tokens the model reads
            trigger = tf.where(sensitive.in_graph(words), tf.zeros_like(trigger), trigger)
        scores = search.trie_beam_search(
            cluster_logp, state_h, state_c, step, trie,
            beam_width=config["beam_width"], length_bias=config["length_bias"])
        return search.suggest(trigger, cluster_logp, scores, response_set.texts,
                              response_set.clusters, response_set.num_clusters,
                              response_set.fallback, k=config["suggestions"],
                              threshold=config["trigger_threshold"],
                              fallback_confidence=config["fallback_confidence"],
                              rank_by=config["rank_by"])

    if users:
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=MESSAGES),
                                      tf.TensorSpec([None], tf.string, name=USERS)])
        def serve_personal(messages, users):
            return suggest(messages, users)
        return serve_personal

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=MESSAGES)])
    def serve(messages):
        return suggest(messages, None)
    return serve


def export(model: keras.Model, vocabulary: list[str], users: list[str],
           response_set: ResponseSet, config: dict[str, Any], serving_dir: str,
           response_set_path: str) -> None:
    """Saves the serving SavedModel (no optimizer slots, no per-layer traces) with the
    response set as an asset and TF Serving warm-up requests."""
    from serving.core.warmup import write_predict_warmup

    serve = reply_function(model, vocabulary, users, response_set, config)
    model.response_set_asset = tf.saved_model.Asset(response_set_path)
    model.save(serving_dir, save_format="tf", signatures={"serving_default": serve},
               include_optimizer=False, save_traces=False)
    inputs: dict[str, list] = {MESSAGES: ["How are you?", "Thanks for the help!"]}
    if users:
        inputs[USERS] = [users[0], users[0]]
    write_predict_warmup(serving_dir, inputs)


def call(signature, messages: list[str], users: list[str] | None = None,
         batch_size: int = 256) -> dict[str, np.ndarray]:
    """Runs a loaded serving signature over messages in batches; numpy outputs."""
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(messages), batch_size):
        kwargs = {MESSAGES: tf.constant(messages[start:start + batch_size])}
        if users is not None:
            kwargs[USERS] = tf.constant(users[start:start + batch_size])
        for name, value in signature(**kwargs).items():
            parts.setdefault(name, []).append(value.numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}
