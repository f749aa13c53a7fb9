"""TFX Transform module of Smart Reply: the token vocabulary (and the user vocabulary when
the data has users), learned over the train split in Beam. Strings pass through: the
response set is built from them in the Trainer, and serving tokenizes raw messages in graph
with the same ops (models/smart_reply/text.py)."""
from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from models.features import one_per_example
from models.smart_reply.intents import NEGATIVE
from models.smart_reply.text import tokenize

CONTEXT, REPLY, USER = "context", "reply", "user"
TOKEN_VOCABULARY, USER_VOCABULARY = "tokens", "users"


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, Any]:
    """{context, reply[, user][, negative]} strings → the same strings, plus `known_tokens`:
    how many of the message's tokens the vocabulary covers (a statistic, and what makes
    Transform compute the vocabulary)."""
    context, reply = one_per_example(inputs[CONTEXT]), one_per_example(inputs[REPLY])
    context_tokens = tokenize(context)
    words = tf.concat([context_tokens.flat_values, tokenize(reply).flat_values], axis=0)
    # Words seen once are mostly names and typos; the decoder learns nothing useful from them.
    vocabulary = tft.vocabulary(words, top_k=custom_config["vocab_size"],
                                frequency_threshold=custom_config["min_token_count"],
                                vocab_filename=TOKEN_VOCABULARY)
    ids = tft.apply_vocabulary(context_tokens, vocabulary, default_value=-1)
    outputs = {CONTEXT: context, REPLY: reply,
               "known_tokens": tf.reduce_sum(tf.cast(ids >= 0, tf.int64), axis=1)}
    if NEGATIVE in inputs:  # explicit negative examples: "1", else empty
        outputs[NEGATIVE] = one_per_example(inputs[NEGATIVE])
    if USER in inputs:
        user = one_per_example(inputs[USER])
        users = tft.vocabulary(user, vocab_filename=USER_VOCABULARY)
        outputs[USER] = user
        outputs["user_index"] = tft.apply_vocabulary(user, users, default_value=-1)
    return outputs
