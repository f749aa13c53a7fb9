"""The one tokenizer of Smart Reply: the same TensorFlow ops normalise training data, the
response set and serving requests, so a reply is split identically everywhere."""
from __future__ import annotations

import tensorflow as tf

PAD, OOV, EOS = 0, 1, 2  # reserved token ids; the vocabulary starts at RESERVED
RESERVED = 3
# Split off as a token of its own: anything but letters, digits, spaces, apostrophes and _.
PUNCTUATION = r"[^\pL\pN\s'’_]"


def tokenize(texts: tf.Tensor) -> tf.RaggedTensor:
    """Lower-cased words, punctuation split off as its own token ([batch, (tokens)]).
    Letters and digits of any script stay together (RE2's \\w would be ASCII only)."""
    lowered = tf.strings.lower(texts, encoding="utf-8")
    spaced = tf.strings.regex_replace(lowered, f"({PUNCTUATION})", r" \1 ")
    return tf.strings.split(spaced)


def tokens(texts: list[str]) -> list[list[str]]:
    """Python lists of tokens, from the same ops as serving."""
    if not texts:
        return []
    ragged = tokenize(tf.constant(texts))
    return [[t.decode() for t in row] for row in ragged.to_list()]


def lookup_table(vocabulary: list[str]) -> tf.lookup.StaticHashTable:
    """Token → id (vocabulary[i] → RESERVED + i, anything else → OOV)."""
    keys = tf.constant(vocabulary, tf.string)
    ids = tf.range(RESERVED, RESERVED + len(vocabulary), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, ids), OOV)


def to_ids(table: tf.lookup.StaticHashTable, texts: tf.Tensor, max_tokens: int) -> tf.Tensor:
    """[batch] strings → [batch, max_tokens] int32 ids, the last `max_tokens` tokens kept
    (the end of a message says most about the reply), PAD on the right."""
    return words_to_ids(table, tokenize(texts), max_tokens)


def words_to_ids(table: tf.lookup.StaticHashTable, words: tf.RaggedTensor,
                 max_tokens: int) -> tf.Tensor:
    """`to_ids` of messages already tokenized (`tokenize`)."""
    words = words[:, -max_tokens:]
    ids = tf.ragged.map_flat_values(table.lookup, words)
    return tf.cast(ids.to_tensor(default_value=PAD, shape=[None, max_tokens]), tf.int32)
