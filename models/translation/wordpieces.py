"""Shared source/target wordpieces (Wu et al. 2016, §4.1), learned with tensorflow-text's
vocabulary learner, and in-graph tokenisation / detokenisation that give back the exact text
(case, accents, punctuation and spacing).

BERT-style pre-tokenisation drops the spaces, so the text could not be rebuilt. Here a text is
split at whitespace only, and inside a whitespace-delimited chunk every piece after the first
is marked as glued to the one before: punctuation and digits through the learner's `##x`
suffix tokens (it adds one for every character it saw), a letter run or digit after
punctuation through a `[G]` token, and the hyphen / apostrophe inside words ("quatre-vingt",
"s'écrit") through their own joiner tokens `[-]` and `[']`, which cost one token as BERT's
split would. Digits are split before the vocabulary is learned, so numbers are digit
sequences rather than thousands of whole-number tokens.
"""
from __future__ import annotations

from collections.abc import Iterable

import tensorflow as tf
import tensorflow_text as tf_text

# The reserved tokens live with the TensorFlow-free detokeniser (what an app needs too).
from models.translation.plain_text import (  # noqa: F401  re-exported
    APOSTROPHE,
    END,
    END_ID,
    GLUE,
    HYPHEN,
    PAD,
    PAD_ID,
    RESERVED_TOKENS,
    START,
    START_ID,
    UNK,
    UNK_ID,
)

VOCABULARY_FILE = "wordpieces.txt"


def _normalize(text: tf.Tensor) -> tf.Tensor:
    """The corpus builder's normalisation, in graph: NBSP / NNBSP and runs of whitespace → one
    space, typographic apostrophes → '."""
    text = tf.strings.regex_replace(text, "[\u2018\u2019]", "'")
    text = tf.strings.regex_replace(text, "[\\s\u00a0\u202f]+", " ")
    return tf.strings.strip(text)


def pretokenize(text: tf.Tensor) -> tf.Tensor:
    """Strings → strings whose whitespace-separated chunks the wordpiece tokenizer reads, with
    the glue and joiner tokens in place."""
    text = _normalize(text)
    for _ in range(2):  # a match consumes the next letter: "a-b-c" needs two passes
        text = tf.strings.regex_replace(text, r"(\pL)-(\pL)", r"\1 [-] \2")
        text = tf.strings.regex_replace(text, r"(\pL)'(\pL)", r"\1 ['] \2")
    text = tf.strings.regex_replace(text, r"([^\s\pL])(\pL)", r"\1 [G] \2")
    return tf.strings.regex_replace(text, r"([^\s\d])(\d)", r"\1 [G] \2")


def learn_vocabulary(texts: Iterable[str], vocab_size: int) -> list[str]:
    """Wordpieces learned from `texts` (both languages: the vocabulary is shared) with
    `bert_vocab_from_dataset`, cased (lower-casing would also strip French accents). Returns
    fewer than `vocab_size` tokens when the corpus is small."""
    from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as learner

    texts = list(texts)
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).batch(1024)
    # Digits split, so that the learner sees single digits and never whole numbers.
    dataset = dataset.map(lambda t: tf.strings.regex_replace(_normalize(t), r"(\d)", r" \1 "))
    return learner.bert_vocab_from_dataset(
        dataset, vocab_size=vocab_size, reserved_tokens=RESERVED_TOKENS,
        bert_tokenizer_params={"lower_case": False})


class Wordpieces(tf.Module):
    """Text ⇄ wordpiece ids in graph, for one vocabulary (ids are line numbers)."""

    def __init__(self, vocabulary: list[str]) -> None:
        super().__init__()
        if vocabulary[:len(RESERVED_TOKENS)] != RESERVED_TOKENS:
            raise ValueError(f"the vocabulary must start with {RESERVED_TOKENS}")
        self.vocabulary = list(vocabulary)
        self.size = len(vocabulary)
        self.tokens = tf.constant(vocabulary)
        self.tokenizer = tf_text.FastWordpieceTokenizer(
            vocabulary, suffix_indicator="##", unknown_token=UNK, no_pretokenization=True,
            token_out_type=tf.int64)

    def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        """[batch] strings → [batch, (tokens)] int64 ids, without start / end tokens."""
        chunks = tf.strings.split(pretokenize(text))
        return self.tokenizer.tokenize(chunks).merge_dims(-2, -1)

    def detokenize(self, ids: tf.RaggedTensor | tf.Tensor) -> tf.Tensor:
        """[batch, (tokens)] ids → [batch] strings. Reserved tokens other than the glue and
        joiners (padding, start, end) are dropped; so is everything after the first end."""
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        ids = tf.cast(ids, tf.int64)
        # Keep only what precedes the first [END].
        ended = tf.cast(tf.math.cumsum(tf.cast(tf.equal(ids, END_ID), tf.int32), axis=1), bool)
        ids = tf.ragged.boolean_mask(ids, tf.logical_not(ended))
        ids = tf.ragged.boolean_mask(ids, tf.logical_and(tf.not_equal(ids, PAD_ID),
                                                         tf.not_equal(ids, START_ID)))
        tokens = tf.gather(self.tokens, ids)
        suffix = tf.strings.regex_full_match(tokens, "##.+")
        glue = tf.equal(tokens, GLUE)
        hyphen, apostrophe = tf.equal(tokens, HYPHEN), tf.equal(tokens, APOSTROPHE)
        joins_next = glue | hyphen | apostrophe
        # A token sticks to the one before when it is a suffix, a glue or a joiner, or follows a
        # glue or a joiner; the first token of a text has no space before it either.
        follows_join = tf.concat([tf.ones_like(joins_next[:, :1]), joins_next[:, :-1]], axis=1)
        stick = suffix | joins_next | follows_join

        def piece(token, glue, hyphen, apostrophe, stick):
            text = tf.strings.regex_replace(token, "^##(.)", r"\1")
            text = tf.where(glue, "", tf.where(hyphen, "-", tf.where(apostrophe, "'", text)))
            return tf.where(stick, text, tf.strings.join([" ", text]))

        pieces = tf.ragged.map_flat_values(piece, tokens, glue, hyphen, apostrophe, stick)
        return tf.strings.reduce_join(pieces, axis=1)
