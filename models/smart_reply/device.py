"""The on-device Smart Reply model: what a phone runs, as one tf_keras functional model that
the TFLite converter turns into builtin ops only (no Flex delegate).

Token ids in (the message's last `context_tokens` ids, the host's tokenizer and vocabulary
ship in the mobile bundle) → the trained triggering network, context encoder and cluster
scoring (the training model's own layers), then `ResponseSearch`: stage 2's response LSTM
and softmax stepping through the trie beam search over the response set, and the diversity
rule (models/smart_reply/search.py, the very functions the serving signature runs). Outputs:
the trigger score and verdict, the chosen reply ids (indices into the response set, then the
fallback set), their scores and clusters, and the cluster ranking. The host maps reply ids to
texts with the bundled response_set.json; nothing else runs outside the model.
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import tensorflow as tf

from models.keras2 import keras
from models.smart_reply import model as model_lib
from models.smart_reply import search, sensitive, text
from models.smart_reply.response_set import ResponseSet

INT_WEIGHTS = ("trie_token", "trie_children", "trie_response", "trie_output",
               "response_cluster")
MODEL_FILE, VOCABULARY_FILE, USERS_FILE, SETTINGS_FILE = (
    "device_model.keras", "vocabulary.txt", "users.txt", "smart_reply.json")
OUTPUTS = ("trigger_score", "triggered", "reply_ids", "scores", "cluster_ids", "fallback",
           "ranked_cluster_ids")


@keras.utils.register_keras_serializable("shipyard")
class ResponseSearch(keras.layers.Layer):
    """Stage 2 over the response set: (trigger [B], cluster log-probabilities [B, C], the
    encoder's state h, c) → the suggestions of `search.suggest_ids`.

    Holds the trie and the response clusters as integer weights and a copy of the response
    decoder's weights (embedding, LSTM, softmax layer), so that it saves, loads and converts
    on its own; `ResponseSearch.from_model` fills them from a trained model.
    """

    def __init__(self, num_nodes: int, fan_out: int, num_clusters: int, num_responses: int,
                 depth: int, vocab_size: int, embedding_rows: int, embedding_dim: int,
                 units: int, beam_width: int, length_bias: float, suggestions: int,
                 trigger_threshold: float, fallback_confidence: float, num_fallback: int,
                 rank_by: str = "cluster", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = dict(
            num_nodes=num_nodes, fan_out=fan_out, num_clusters=num_clusters,
            num_responses=num_responses, depth=depth, vocab_size=vocab_size,
            embedding_rows=embedding_rows, embedding_dim=embedding_dim, units=units,
            beam_width=beam_width, length_bias=length_bias, suggestions=suggestions,
            trigger_threshold=trigger_threshold, fallback_confidence=fallback_confidence,
            num_fallback=num_fallback, rank_by=rank_by)

    def build(self, input_shape: Any) -> None:
        s = self.settings
        shapes = {"trie_token": [s["num_nodes"]], "trie_children": [s["num_nodes"], s["fan_out"]],
                  "trie_response": [s["num_nodes"]], "trie_output": [s["num_nodes"]],
                  "response_cluster": [s["num_responses"]]}
        for name, shape in shapes.items():
            setattr(self, name, self.add_weight(name, shape, tf.int32, trainable=False,
                                                initializer="zeros"))
        units = s["units"]
        for name, shape in {"embedding": [s["embedding_rows"], s["embedding_dim"]],
                            "kernel": [s["embedding_dim"], 4 * units],
                            "recurrent_kernel": [units, 4 * units], "bias": [4 * units],
                            "output_kernel": [units, s["vocab_size"]],
                            "output_bias": [s["vocab_size"]]}.items():
            setattr(self, name, self.add_weight(name, shape, initializer="zeros"))
        super().build(input_shape)

    def step(self, token: tf.Tensor, state_h: tf.Tensor,
             state_c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The decoder step the beam search calls: token ids → next reply-vocabulary token
        log-probabilities (the ops of `model.decoder_step`)."""
        x = tf.gather(self.embedding, token)
        state_h, state_c = model_lib.lstm_step(x, state_h, state_c, self.kernel,
                                               self.recurrent_kernel, self.bias)
        logits = tf.matmul(state_h, self.output_kernel) + self.output_bias
        return tf.nn.log_softmax(logits), state_h, state_c

    def call(self, inputs: list[tf.Tensor]) -> dict[str, tf.Tensor]:
        trigger, cluster_logp, state_h, state_c = inputs
        s = self.settings
        trie = search.Trie(token=self.trie_token, children=self.trie_children,
                           response=self.trie_response, output=self.trie_output,
                           num_clusters=s["num_clusters"],
                           num_responses=s["num_responses"], depth=s["depth"])
        scores = search.trie_beam_search(cluster_logp, state_h, state_c, self.step, trie,
                                         s["beam_width"], s["length_bias"])
        out = search.suggest_ids(trigger, cluster_logp, scores, self.response_cluster,
                                 s["num_clusters"], s["num_fallback"], k=s["suggestions"],
                                 threshold=s["trigger_threshold"],
                                 fallback_confidence=s["fallback_confidence"],
                                 rank_by=s["rank_by"])
        return {name: out[name] for name in OUTPUTS}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.settings}

    @classmethod
    def from_model(cls, model: keras.Model, trie: search.Trie, response_clusters: list[int],
                   num_fallback: int, config: dict[str, Any]) -> ResponseSearch:
        """A layer with the trained decoder's weights and the response set's trie."""
        embedding = model.get_layer("token_embedding").get_weights()[0]
        kernel, recurrent_kernel, bias = model.get_layer("response_decoder").get_weights()
        output_kernel, output_bias = model.get_layer("token_logits").get_weights()
        layer = cls(num_nodes=len(trie.token), fan_out=trie.children.shape[1],
                    num_clusters=trie.num_clusters, num_responses=trie.num_responses,
                    depth=trie.depth, vocab_size=output_kernel.shape[1],
                    embedding_rows=embedding.shape[0], embedding_dim=embedding.shape[1],
                    units=recurrent_kernel.shape[0], beam_width=config["beam_width"],
                    length_bias=float(config["length_bias"]),
                    suggestions=config["suggestions"],
                    trigger_threshold=float(config["trigger_threshold"]),
                    fallback_confidence=float(config["fallback_confidence"]),
                    num_fallback=num_fallback, rank_by=config["rank_by"],
                    name="response_search")
        layer.build(None)
        values = {"trie_token": trie.token, "trie_children": trie.children,
                  "trie_response": trie.response, "trie_output": trie.output,
                  "response_cluster": np.asarray(response_clusters, np.int32),
                  "embedding": embedding, "kernel": kernel, "recurrent_kernel": recurrent_kernel,
                  "bias": bias, "output_kernel": output_kernel, "output_bias": output_bias}
        for name, value in values.items():
            getattr(layer, name).assign(value)
        return layer


def device_model(model: keras.Model, trie: search.Trie, response_clusters: list[int],
                 num_fallback: int, config: dict[str, Any]) -> keras.Model:
    """Token ids [B, context_tokens] (and user ids [B] for a personalised model) → the
    suggestions (OUTPUTS), sharing the trained encoder layers of `model`."""
    encoder = model_lib.encoder(model)
    trigger, cluster_logp, state_h, state_c = encoder.outputs
    search_layer = ResponseSearch.from_model(model, trie, response_clusters, num_fallback,
                                             config)
    outputs = search_layer([trigger, cluster_logp, state_h, state_c])
    return keras.Model(encoder.inputs, outputs, name="smart_reply_device")


def host_settings(config: dict[str, Any], personal: bool) -> dict[str, Any]:
    """What the phone's host code needs around the .tflite model (smart_reply.json)."""
    return {
        "format_version": 1,
        "input": "context_ids: int32 [1, context_tokens], the message's last context_tokens "
                 "token ids, padded with pad_id on the right"
                 + ("; user_id: int32 [1], line number in users.txt (0: unknown user)"
                    if personal else ""),
        "tokenizer": {"lowercase": True, "split_off": text.PUNCTUATION,
                      "then": "split on whitespace; vocabulary.txt line i is id "
                              "first_word_id + i, other tokens oov_id"},
        "context_tokens": config["context_tokens"], "pad_id": text.PAD, "oov_id": text.OOV,
        "eos_id": text.EOS, "first_word_id": text.RESERVED,
        "reply_ids": "index into response_set.json's responses; N + j is the j-th fallback "
                     "reply (N responses); -1 none",
        "suggestions": config["suggestions"], "trigger_threshold": config["trigger_threshold"],
        "fallback_confidence": config["fallback_confidence"],
        "max_message_chars": config["max_message_chars"],
        # The serving signature's crisis guard, which the host applies: a message whose tokens
        # match gets no suggestions (trigger score 0). null: no guard.
        "silent_on": ({"pattern": sensitive.PATTERN,
                       "matched_against": "' ' + the message's tokens joined by ' ' + ' '"}
                      if config["sensitive_guard"] else None),
    }


def save(model: keras.Model, vocabulary: list[str], users: list[str],
         response_set: ResponseSet, config: dict[str, Any], directory: str) -> keras.Model:
    """Writes the on-device model and the host's files (vocabulary, users, settings) into
    `directory` (the Trainer's `<model_uri>/Format-Mobile`); returns the model."""
    from models.smart_reply.export import trie_of

    built = device_model(model, trie_of(response_set, vocabulary), response_set.clusters,
                         len(response_set.fallback), config)
    tf.io.gfile.makedirs(directory)
    built.save(os.path.join(directory, MODEL_FILE))
    files = {VOCABULARY_FILE: "".join(f"{token}\n" for token in vocabulary),
             SETTINGS_FILE: json.dumps(host_settings(config, bool(users)), indent=1,
                                       ensure_ascii=False)}
    if users:
        files[USERS_FILE] = "".join(f"{user}\n" for user in users)
    for name, content in files.items():
        with tf.io.gfile.GFile(os.path.join(directory, name), "w") as f:
            f.write(content)
    return built


def load(directory: str) -> keras.Model:
    return keras.models.load_model(os.path.join(directory, MODEL_FILE), compile=False)
