"""Wordpiece ids → text without TensorFlow: what a phone app runs after the .tflite decoder
(the same rules as `Wordpieces.detokenize` in graph, which the tests hold it to)."""
from __future__ import annotations

from collections.abc import Sequence

PAD, UNK, START, END = "[PAD]", "[UNK]", "[START]", "[END]"
GLUE, HYPHEN, APOSTROPHE = "[G]", "[-]", "[']"
RESERVED_TOKENS = [PAD, UNK, START, END, GLUE, HYPHEN, APOSTROPHE]
PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
SUFFIX = "##"
JOINERS = {GLUE: "", HYPHEN: "-", APOSTROPHE: "'"}


def detokenize(ids: Sequence[int], vocabulary: Sequence[str]) -> str:
    """The text of one decoded sentence: everything up to the first [END], padding and
    [START] dropped; a `##` suffix, a glue or joiner token, and the token after a glue or
    joiner stick to what precedes them, every other token follows a space."""
    text: list[str] = []
    follows_join = True  # the first token has no space before it either
    for token_id in ids:
        token_id = int(token_id)
        if token_id == END_ID:
            break
        if token_id in (PAD_ID, START_ID):
            continue
        token = vocabulary[token_id]
        suffix = token.startswith(SUFFIX) and len(token) > len(SUFFIX)
        joiner = token in JOINERS
        piece = JOINERS[token] if joiner else (token[len(SUFFIX):] if suffix else token)
        text.append(piece if suffix or joiner or follows_join else " " + piece)
        follows_join = joiner
    return "".join(text)
