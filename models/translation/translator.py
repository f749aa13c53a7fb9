"""Raw strings in, translations out: wordpieces, the GNMT encoder, and beam search over the
decoder, all in one graph that a SavedModel serves."""
from __future__ import annotations

import tensorflow as tf

from models.keras2 import keras
from models.translation import beam_search
from models.translation.wordpieces import END_ID, PAD_ID, START_ID, Wordpieces

EMPTY_INPUT = "translation input must not be empty"


def too_long_message(max_input_tokens: int) -> str:
    return f"translation input longer than {max_input_tokens} wordpieces"


class Translator(tf.Module):
    """The trained GNMT `model` (gnmt.GNMT) with its `vocabulary`, decoding with beam search.

    `translate(sources)` takes a batch of strings and returns `translations` and their GNMT
    `scores`; an empty sentence or one longer than `max_input_tokens` wordpieces fails the
    request with an InvalidArgument error that names the problem. Without a `vocabulary` only
    `decode_ids` works (ids in, ids out: what the on-device model runs).
    """

    def __init__(self, model: keras.Model, vocabulary: list[str] | None, beam_width: int = 4,
                 alpha: float = 0.2, beta: float = 0.2, max_input_tokens: int = 100,
                 max_output_tokens: int = 200) -> None:
        super().__init__()
        self.model = model
        self.wordpieces = Wordpieces(vocabulary) if vocabulary is not None else None
        self.beam_width, self.alpha, self.beta = beam_width, alpha, beta
        self.max_input_tokens, self.max_output_tokens = max_input_tokens, max_output_tokens
        keys = model.get_layer("attention_keys")
        self.encoder = keras.Model(model.inputs[0], [keys.input, keys.output])
        self.target_embedding = model.get_layer("target_embedding")
        self.cell = model.get_layer("decoder").cell
        self.softmax = model.get_layer("softmax")
        # Never emitted: padding and the start token.
        forbidden = tf.one_hot([PAD_ID, START_ID], model.output_shape[-1])
        self.forbidden = tf.reduce_sum(forbidden, axis=0) * beam_search.NEG_INF

    def tokenize(self, sources: tf.Tensor) -> tf.Tensor:
        """[batch] strings → [batch, source_len] ids (0-padded), checked."""
        ids = self.wordpieces.tokenize(sources)
        lengths = ids.row_lengths()
        checks = [
            tf.debugging.assert_positive(lengths, message=EMPTY_INPUT),
            tf.debugging.assert_less_equal(
                lengths, tf.constant(self.max_input_tokens, tf.int64),
                message=too_long_message(self.max_input_tokens)),
        ]
        with tf.control_dependencies(checks):
            return tf.cast(ids.to_tensor(PAD_ID), tf.int32)

    def decode_ids(self, source_ids: tf.Tensor, beam_width: int | None = None,
                   alpha: float | None = None, beta: float | None = None,
                   max_length: tf.Tensor | int | None = None):
        """Beam search from source ids [batch, source_len]: (ids, lengths, scores)."""
        beam = beam_width or self.beam_width
        memory, keys = self.encoder(source_ids, training=False)
        mask = tf.cast(tf.not_equal(source_ids, PAD_ID), tf.float32)
        tiled = [beam_search.tile_beams(t, beam) for t in (memory, keys, mask)]
        batch = tf.shape(source_ids)[0]
        states = [tf.zeros([batch, size]) for size in self.cell.state_size]

        def step(tokens, states):
            embedded = self.target_embedding(tokens)
            output, states, alignments = self.cell.step(embedded, states, *tiled,
                                                        training=False)
            logp = tf.nn.log_softmax(self.softmax(output)) + self.forbidden
            return logp, states, alignments

        if max_length is None:
            # Room for a translation twice as long as its source, within the configured cap.
            longest = tf.shape(source_ids)[1]
            max_length = tf.minimum(self.max_output_tokens, 2 * longest + 10)
        return beam_search.beam_search(
            step, states, mask, beam, max_length,
            self.alpha if alpha is None else alpha, self.beta if beta is None else beta,
            START_ID, END_ID)

    def translate(self, sources: tf.Tensor, beam_width: int | None = None
                  ) -> dict[str, tf.Tensor]:
        ids, _, scores = self.decode_ids(self.tokenize(sources), beam_width)
        return {"translations": self.wordpieces.detokenize(ids), "scores": scores}
