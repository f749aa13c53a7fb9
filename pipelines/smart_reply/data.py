"""Conversation data for Smart Reply: (context, reply[, user]) pairs.

Bundled (English): the synthetic everyday-conversation corpus (pipelines/smart_reply/corpus.py),
the conversational files of the chatterbot-corpus package, each consecutive pair of turns one
(context, reply) example, and its knowledge files' question → fact pairs as negatives.
Users bring a TSV or JSONL file of (context, reply[, user]). Both are checked up front, so that
problems surface as one-line errors, and written as tf.Example TFRecords with a deterministic
held-out split: `<dir>/train/` and `<dir>/eval/`.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Iterable

from models.smart_reply.intents import NEGATIVE
from pipelines.errors import ShipyardError
from pipelines.smart_reply import corpus
from pipelines.tfrecords import find_shards, write_shuffled_shards

CONTEXT, REPLY, USER = "context", "reply", "user"
EVAL_PERCENT = 20
CONVERSATION_FILES = ("conversations", "greetings", "health")
BUNDLED = "everyday-v6"  # the cache directory's name: bump when the bundled corpus changes


def chatterbot_directory() -> str:
    import chatterbot_corpus

    return os.path.join(os.path.dirname(chatterbot_corpus.__file__), "data", "english")


def chatterbot_file_pairs(name: str) -> list[dict[str, str]]:
    """Every (previous turn, turn) pair of chatterbot-corpus' English `name`.yml, in file
    order, without exact duplicates (tech_support.yml repeats ten pairs a hundred times)."""
    import yaml

    with open(os.path.join(chatterbot_directory(), f"{name}.yml"), encoding="utf-8") as f:
        document = yaml.safe_load(f) or {}
    seen: set[tuple[str, str]] = set()
    pairs = []
    for conversation in document.get("conversations") or []:
        # One trivia entry is a bare string, not a list of turns: not a conversation.
        if not isinstance(conversation, list):
            continue
        turns = [str(t).strip() for t in conversation]
        for context, reply in zip(turns, turns[1:], strict=False):
            if context and reply and (context, reply) not in seen:
                seen.add((context, reply))
                pairs.append({CONTEXT: context, REPLY: reply})
    return pairs


def chatterbot_pairs() -> list[dict[str, str]]:
    """The pairs of every English chatterbot-corpus file (knowledge files included: the
    negatives' source and the tests' stress case), file by file in name order."""
    names = sorted(os.path.splitext(f)[0] for f in os.listdir(chatterbot_directory())
                   if f.endswith(".yml"))
    return [p for name in names for p in chatterbot_file_pairs(name)]


# The bot's talk about being software, which emotion.yml is mostly made of.
_BOT_TALK = re.compile(r"\b(software|program\w*|emotions?|human|robots?|bots?|computer|"
                       r"machine|feel\w*)\b", re.IGNORECASE)


def conversation_pairs() -> list[dict[str, str]]:
    """The conversational part of chatterbot-corpus: conversations.yml, greetings.yml and
    health.yml whole, and emotion.yml's pairs where neither side is about the bot being
    software. The other files are knowledge (trivia, history, science, computers, coding,
    tech support), the bot's profile, or one-line quips."""
    pairs = [p for name in CONVERSATION_FILES for p in chatterbot_file_pairs(name)]
    pairs += [p for p in chatterbot_file_pairs("emotion")
              if not _BOT_TALK.search(p[CONTEXT]) and not _BOT_TALK.search(p[REPLY])]
    return pairs


def knowledge_pairs() -> list[dict[str, str]]:
    """Question → fact pairs of chatterbot-corpus' knowledge files: negative examples (marked
    `NEGATIVE`, as the synthetic corpus' are)."""
    return [dict(p, **{NEGATIVE: "1"}) for name in corpus.KNOWLEDGE_FILES
            for p in chatterbot_file_pairs(name)]


def bundled_pairs() -> list[dict[str, str]]:
    """The bundled corpus: the synthetic everyday conversations (pipelines/smart_reply/
    corpus.py), chatterbot-corpus' conversations, and its knowledge pairs as negatives."""
    return corpus.pairs() + conversation_pairs() + knowledge_pairs()


def _decode(path: str) -> str:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ShipyardError(f"{path}: line {line}: not UTF-8 text (byte "
                            f"0x{raw[e.start]:02x} at offset {e.start})") from None


def read_pairs(path: str) -> list[dict[str, str]]:
    """The user's (context, reply[, user]) file: TSV with a header row, or JSONL of objects.

    A missing file or column, an empty reply or context, a bad line or a file that is not UTF-8
    stops with one line naming the file and the line.
    """
    if not os.path.isfile(path):
        raise ShipyardError(f"conversation file not found: {path}")
    text = _decode(path)
    if path.endswith((".jsonl", ".json")):
        rows = _jsonl_rows(path, text)
    elif path.endswith((".tsv", ".txt")):
        rows = _tsv_rows(path, text)
    else:
        raise ShipyardError(f"{path}: expected a .tsv or .jsonl file of (context, reply[, user])")
    pairs = []
    for line, row in rows:
        pair = {}
        for key in (CONTEXT, REPLY, USER):
            value = row.get(key)
            if value is None:
                if key == USER:
                    continue
                raise ShipyardError(f"{path}: line {line}: missing column {key!r}")
            if not isinstance(value, str):
                raise ShipyardError(f"{path}: line {line}: {key!r} must be a string, got "
                                    f"{type(value).__name__}")
            value = value.strip()
            if not value:
                raise ShipyardError(f"{path}: line {line}: empty {key}")
            pair[key] = value
        pairs.append(pair)
    if not pairs:
        raise ShipyardError(f"{path}: no (context, reply) pairs")
    has_user = {USER in p for p in pairs}
    if len(has_user) > 1:
        line = next(n for (n, _), p in zip(rows, pairs, strict=True) if USER not in p)
        raise ShipyardError(f"{path}: line {line}: missing column 'user' (other lines have it)")
    return pairs


def _tsv_rows(path: str, text: str) -> list[tuple[int, dict]]:
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if not header:
        raise ShipyardError(f"{path}: empty file")
    header = [h.strip().lower() for h in header]
    for key in (CONTEXT, REPLY):
        if key not in header:
            raise ShipyardError(f"{path}: line 1: missing column {key!r} in the header "
                                f"(found: {', '.join(header)})")
    rows = []
    for number, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise ShipyardError(f"{path}: line {number}: {len(fields)} fields, the header has "
                                f"{len(header)}")
        rows.append((number, dict(zip(header, fields, strict=True))))
    return rows


def _jsonl_rows(path: str, text: str) -> list[tuple[int, dict]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ShipyardError(f"{path}: line {number}: not JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise ShipyardError(f"{path}: line {number}: expected a JSON object")
        rows.append((number, row))
    return rows


def _context_hash(pair: dict[str, str]) -> int:
    return zlib.crc32(" ".join(pair.get(corpus.GROUP, pair[CONTEXT]).lower().split()).encode())


def is_eval(pair: dict[str, str]) -> bool:
    """Held out by a hash of the normalised context (of a synthetic pair: of its template),
    so that every reply to one message, and every rendering of one template, falls in the
    same split: evaluation asks about messages, and wording, the model has never seen."""
    return _context_hash(pair) % 100 < EVAL_PERCENT


def fold(pair: dict[str, str], folds: int) -> int:
    """The pair's cross-validation fold (0 .. folds - 1), by the same hash as `is_eval`."""
    return _context_hash(pair) % folds


def example_bytes(pair: dict[str, str]) -> bytes:
    import tensorflow as tf

    feature = {key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
               for key, value in sorted(pair.items())
               if key in (CONTEXT, REPLY, USER, NEGATIVE)}
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)


def write_split(pairs: Iterable[dict[str, str]], directory: str) -> str:
    """Writes `<directory>/train/pairs-*.tfrecord` and `<directory>/eval/pairs-*.tfrecord`
    (shuffled shards) and returns `directory`."""
    pairs = list(pairs)
    splits = {"train": [p for p in pairs if not is_eval(p)],
              "eval": [p for p in pairs if is_eval(p)]}
    for name, members in splits.items():
        if not members:
            raise ShipyardError(f"the {name} split is empty ({len(pairs)} pairs in all): "
                                "bring more conversations")
    for name, members in splits.items():
        write_shuffled_shards((example_bytes(p) for p in members),
                              os.path.join(directory, name), "pairs")
    return directory


def prepare(data_file: str | None, cache_dir: str) -> str:
    """The directory of split TFRecords for ExampleGen: the user's file (checked) or the
    bundled corpus. Cached under `cache_dir` by content, so a re-run reuses it."""
    if data_file:
        pairs = read_pairs(data_file)
        with open(data_file, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        directory = os.path.join(cache_dir, f"conversations-{digest}")
    else:
        pairs = None
        directory = os.path.join(cache_dir, BUNDLED)
    if all(find_shards(os.path.join(directory, s), "pairs") for s in ("train", "eval")):
        return directory
    return write_split(pairs if pairs is not None else bundled_pairs(), directory)
