"""GNMT: Google's Neural Machine Translation system (Wu et al. 2016, arXiv:1609.08144), in
tf_keras, with the attention wiring of tensorflow/nmt's "gnmt_v2".

Encoder (paper §3, Fig. 3): layer 1 a bidirectional LSTM whose forward and backward outputs
are concatenated, layers 2..N unidirectional LSTMs, residual connections from layer 3 on.
Decoder (§3, Fig. 1): N LSTM layers, residual connections from layer 3 on; a normalised
Bahdanau attention (one hidden layer feed-forward network) is computed from the output of the
bottom decoder layer, and its context is fed to every decoder layer (the bottom layer gets
the previous step's context, as input feeding). The top layer's output goes through the
softmax over the shared wordpiece vocabulary. Dropout on every layer's input (§8: 0.2–0.3).
"""
from __future__ import annotations

import tensorflow as tf

from models.keras2 import keras
from pipelines.translation.settings import PRESETS

RESIDUAL_START = 3  # residual connections from layer 3 on (1-based), in both stacks


class NormalizedBahdanauAttention(keras.layers.Layer):
    """Additive attention score v·tanh(W_q q + K + b) over keys K = W_k · memory, with
    v = g · v̂ / ‖v̂‖ (weight normalisation) as in GNMT. The keys are projected once per
    sentence (the model's `attention_keys` layer); each decoder step projects only its query."""

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape) -> None:
        self.query_kernel = self.add_weight(name="query_kernel",
                                            shape=(input_shape[-1], self.units))
        self.v = self.add_weight(name="v", shape=(self.units,))
        self.g = self.add_weight(name="g", shape=(),
                                 initializer=keras.initializers.Constant(self.units ** -0.5))
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        super().build(input_shape)

    def call(self, query: tf.Tensor, keys: tf.Tensor, memory: tf.Tensor,
             source_mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(context [batch, memory_dim], alignments [batch, source_len]) for one step."""
        projected = tf.matmul(query, self.query_kernel)[:, tf.newaxis, :]
        v = self.g * self.v * tf.math.rsqrt(tf.reduce_sum(tf.square(self.v)))
        scores = tf.reduce_sum(v * tf.tanh(keys + projected + self.b), axis=-1)
        scores = tf.where(source_mask > 0, scores, tf.fill(tf.shape(scores), -1e9))
        alignments = tf.nn.softmax(scores, axis=-1)
        context = tf.reduce_sum(alignments[:, :, tf.newaxis] * memory, axis=1)
        return context, alignments

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


class GNMTDecoderCell(keras.layers.Layer):
    """One decoder step of the GNMT stack (an RNN cell; the memory, its projected keys and the
    source mask are the RNN's constants).

    State: (h, c) of every layer, then the previous attention context.
    """

    def __init__(self, units: int, num_layers: int, memory_dim: int, dropout: float = 0.0,
                 residual_start: int = RESIDUAL_START, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.num_layers, self.memory_dim = units, num_layers, memory_dim
        self.dropout, self.residual_start = dropout, residual_start
        self.cells = [keras.layers.LSTMCell(units, name=f"decoder_{i + 1}")
                      for i in range(num_layers)]
        self.attention = NormalizedBahdanauAttention(units, name="attention")
        self.state_size = [units] * (2 * num_layers) + [memory_dim]
        self.output_size = units

    def build(self, input_shape) -> None:
        embedding_dim = input_shape[-1]
        # Each sublayer under its own name scope: unique weight names (decoder_1/kernel, ...),
        # which the .h5 format needs.
        for i, cell in enumerate(self.cells):
            with tf.name_scope(cell.name):
                cell.build((None, (embedding_dim if i == 0 else self.units) + self.memory_dim))
        with tf.name_scope(self.attention.name):
            self.attention.build((None, self.units))
        super().build(input_shape)

    def residual_layers(self) -> list[int]:
        """1-based numbers of the layers that add their input to their output."""
        return [i + 1 for i in range(self.num_layers) if i + 1 >= self.residual_start]

    def _drop(self, x: tf.Tensor, training) -> tf.Tensor:
        if training and self.dropout > 0:
            return tf.nn.dropout(x, rate=self.dropout)
        return x

    def step(self, inputs: tf.Tensor, states, memory: tf.Tensor, keys: tf.Tensor,
             source_mask: tf.Tensor, training=None):
        """(top output, new states, alignments) of one step, from the embedded previous token."""
        states = list(states)
        previous_context = states[-1]
        bottom_input = tf.concat([inputs, previous_context], axis=-1)
        output, (h, c) = self.cells[0](self._drop(bottom_input, training), states[0:2],
                                       training=training)
        new_states = [h, c]
        # Attention from the bottom layer's output, its context fed to every layer above.
        context, alignments = self.attention(output, keys, memory, source_mask)
        layer_input = output
        for i, cell in enumerate(self.cells[1:], start=1):
            stacked = tf.concat([layer_input, context], axis=-1)
            output, (h, c) = cell(self._drop(stacked, training), states[2 * i:2 * i + 2],
                                  training=training)
            new_states += [h, c]
            if i + 1 >= self.residual_start:
                output = output + layer_input
            layer_input = output
        return layer_input, new_states + [context], alignments

    def call(self, inputs, states, constants, training=None):
        memory, keys, source_mask = constants
        output, new_states, _ = self.step(inputs, states, memory, keys, source_mask, training)
        return output, new_states

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "num_layers": self.num_layers,
                "memory_dim": self.memory_dim, "dropout": self.dropout,
                "residual_start": self.residual_start}


# Known by their plain class names, as the RNN layer's config names its cell, so that a saved
# GNMT (.h5, as the mobile optimiser writes it) loads back without a custom-object scope.
keras.utils.get_custom_objects().update({
    "GNMTDecoderCell": GNMTDecoderCell,
    "NormalizedBahdanauAttention": NormalizedBahdanauAttention})


def GNMT(vocab_size: int, encoder_layers: int = 3, decoder_layers: int = 3, units: int = 128,
         dropout: float = 0.1, residual_start: int = RESIDUAL_START,
         name: str = "gnmt") -> keras.Model:
    """Builds the GNMT training model (Wu et al. 2016): inputs `source` and `target_in`
    (wordpiece ids, 0-padded; `target_in` starts with [START]), output the logits of the next
    target wordpiece at every position. Source and target share the vocabulary, each with
    its own embedding. Layers are named `encoder_1_bidirectional`, `encoder_2`, ...,
    `decoder` (the RNN of `GNMTDecoderCell`), `softmax`."""
    if encoder_layers < 2 or decoder_layers < 1:
        raise ValueError("GNMT needs at least 2 encoder layers (bidirectional + one) and "
                         "1 decoder layer")
    source = keras.Input((None,), dtype="int32", name="source")
    target_in = keras.Input((None,), dtype="int32", name="target_in")

    x = keras.layers.Embedding(vocab_size, units, mask_zero=True,
                               name="source_embedding")(source)
    x = keras.layers.Dropout(dropout, name="encoder_1_dropout")(x)
    x = keras.layers.Bidirectional(
        keras.layers.LSTM(units, return_sequences=True), merge_mode="concat",
        name="encoder_1_bidirectional")(x)
    for layer in range(2, encoder_layers + 1):
        inputs = x
        x = keras.layers.Dropout(dropout, name=f"encoder_{layer}_dropout")(x)
        x = keras.layers.LSTM(units, return_sequences=True, name=f"encoder_{layer}")(x)
        if layer >= residual_start:
            x = keras.layers.Add(name=f"encoder_{layer}_residual")([inputs, x])
    memory = x
    cell = GNMTDecoderCell(units, decoder_layers, memory_dim=units, dropout=dropout,
                           residual_start=residual_start, name="decoder_cell")
    source_mask = keras.layers.Lambda(
        lambda s: tf.cast(tf.not_equal(s, 0), tf.float32), name="source_mask")(source)
    y = keras.layers.Embedding(vocab_size, units, mask_zero=True,
                               name="target_embedding")(target_in)
    attention_keys = keras.layers.Dense(units, use_bias=False, name="attention_keys")(memory)
    y = keras.layers.RNN(cell, return_sequences=True, name="decoder")(
        y, constants=[memory, attention_keys, source_mask])
    y = keras.layers.Dropout(dropout, name="softmax_dropout")(y)
    logits = keras.layers.Dense(vocab_size, name="softmax")(y)
    return keras.Model([source, target_in], logits, name=name)


def preset_parameters(name: str) -> int:
    """Builds a preset's model (untrained) and counts its parameters."""
    preset = PRESETS[name]
    return GNMT(preset.vocab_size, preset.encoder_layers, preset.decoder_layers, preset.units,
                preset.dropout, name=f"gnmt_{name}").count_params()


if __name__ == "__main__":  # python -m models.translation.gnmt
    for preset_name, preset in PRESETS.items():
        print(f"{preset_name}: {preset.encoder_layers} + {preset.decoder_layers} layers, "
              f"{preset.units} units, {preset.vocab_size} wordpieces: "
              f"{preset_parameters(preset_name):,} parameters")
