"""Smart Reply data: the bundled corpus, users' TSV / JSONL, the split and the response set."""
import json
import os
import random
import re

import pytest
import tensorflow as tf

from models.smart_reply import intents, response_set, text
from pipelines.errors import ShipyardError
from pipelines.smart_reply import corpus
from pipelines.smart_reply import data as reply_data
from pipelines.tfrecords import find_shards


@pytest.fixture(scope="module")
def bundled():
    return reply_data.bundled_pairs()


def test_bundled_corpus_is_deterministic_conversation_and_split(bundled):
    assert reply_data.bundled_pairs() == bundled
    synthetic = corpus.pairs()
    conversations = reply_data.conversation_pairs()
    knowledge = reply_data.knowledge_pairs()
    assert bundled == synthetic + conversations + knowledge
    assert (len(synthetic), len(conversations), len(knowledge)) == (8713, 220, 331)
    # Every template and every intent's phrasing is used; slots are filled.
    assert not any("{" in p["context"] or "{" in p["reply"] for p in synthetic)
    replies = {p["reply"] for p in synthetic}
    assert all(set(corpus.reply_phrasings(i)) & replies for i in intents.INTENTS)
    # Only the conversational chatterbot files; the bot's talk about itself left out.
    assert {"context": "Hi, How is it going?", "reply": "Could be better."} in conversations
    assert not any("software" in p["reply"] for p in conversations)
    assert {"context": "Who was the 26th president of the United States?",
            "reply": "Theodore Roosevelt"} not in conversations + synthetic
    held_out = [p for p in bundled if reply_data.is_eval(p)]
    eval_contexts = {p["context"].lower() for p in held_out}
    assert not any(p["context"].lower() in eval_contexts
                   for p in bundled if not reply_data.is_eval(p))
    # Every rendering of a template is on its template's side: the held-out split asks
    # about wording the model never saw (181 of the 799 everyday templates).
    sides = {}
    for pair in synthetic:
        if corpus.GROUP in pair:
            sides.setdefault(pair[corpus.GROUP], set()).add(reply_data.is_eval(pair))
    negative_templates = (corpus.LONG_SENTENCES, corpus.LONG_ENDINGS, corpus.CODE,
                          corpus.SENSITIVE, corpus.KNOWLEDGE, corpus.FACTS,
                          corpus.LANGUAGE_QUESTIONS, corpus.ARITHMETIC, corpus.NUMBER_QUESTIONS,
                          corpus.ZONE_QUESTIONS, corpus.CONVERSIONS, corpus.LANDMARK_QUESTIONS)
    assert len(sides) == len(corpus.all_templates()) - sum(map(len, negative_templates))
    assert all(len(side) == 1 for side in sides.values())
    assert (len(sides), sum(True in side for side in sides.values())) == (799, 181)
    # The split's TFRecords carry the pair, not its template.
    assert b"template" not in reply_data.example_bytes(synthetic[0])


def test_negative_examples_are_long_code_sensitive_or_knowledge(bundled):
    negatives = corpus.negative_pairs(corpus.slot_values(), corpus.random.Random(0))
    assert not any(response_set.is_generic(p["reply"]) and len(p["reply"]) < 40
                   for p in negatives)
    kinds = {"long": 0, "code": 0, "sensitive": 0, "knowledge": 0}
    for pair in negatives:
        if pair["reply"] == corpus.LONG_REPLY:
            kinds["long"] += 1
            assert pair["context"].count(".") + pair["context"].count("?") >= 3
        elif pair["reply"] == corpus.SENSITIVE_REPLY:
            kinds["sensitive"] += 1
        elif any(corpus.template_pattern(c, {}).match(" ".join(pair["context"].lower().split()))
                 for c, _ in corpus.CODE):
            kinds["code"] += 1
        else:
            kinds["knowledge"] += 1
    assert kinds == {"long": 96, "code": 144, "sensitive": 168, "knowledge": 315}


def test_reference_negatives_are_answered_from_installed_data():
    """Number words come from num2words, time zones from CLDR, conversions are computed."""
    from babel import Locale
    from num2words import num2words

    languages = {name: code for code, name in Locale("en").languages.items()}
    negatives = corpus._reference_pairs(corpus.random.Random(0))
    assert len(negatives) == 150 and all(p[intents.NEGATIVE] == "1" for p in negatives)
    numbers = [p for p in negatives if p["context"].startswith(("How do you say", "What's the "
                                                                "number", "How is"))]
    assert len(numbers) == 36
    for pair in numbers:
        n, language = re.search(r"(\d+) (?:written )?in (\w+)\?$", pair["context"]).groups()
        assert num2words(int(n), lang=languages[language]) in pair["reply"]
    assert corpus._reference_pairs(corpus.random.Random(0)) == negatives  # deterministic
    conversions = [p for p in negatives if re.match(r"How many \w+ is \d+ \w+\?$",
                                                    p["context"])]
    assert conversions
    factors = {(u, o): f for u, o, f in corpus.UNITS}
    for pair in conversions:
        other, n, unit = re.match(r"How many (\w+) is (\d+) (\w+)\?$", pair["context"]).groups()
        assert pair["reply"] == f"{int(n) * factors[unit, other]:,.1f} {other}."


def test_templates_match_their_renderings():
    pattern = corpus.template_pattern("Running {minutes} minutes late, sorry!",
                                      corpus.slot_values())
    assert pattern.match("running ten minutes late, sorry!")
    assert pattern.match("running 15 minutes late, sorry!")
    assert not pattern.match("running eleven minutes late, sorry!")
    assert not pattern.match("running ten minutes late")
    assert corpus.template_pattern("Hi {n}!", {}).match("hi there!")


def test_slot_values_may_hold_slots():
    values = {"news": ["{name} shaved his head", "the shop closed"], "name": ["Ann", "Bo"]}
    rendered = {corpus.render("omg {news}!", values, random.Random(seed)) for seed in range(40)}
    assert rendered == {"Omg Ann shaved his head!", "Omg Bo shaved his head!",
                        "Omg the shop closed!"}
    pattern = corpus.template_pattern("omg {news}!", values)
    assert all(pattern.match(m.lower()) for m in rendered)
    assert not pattern.match("omg cy shaved his head!")
    assert not pattern.match("omg {name} shaved his head!")


def _write(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def test_reads_tsv_and_jsonl(tmp_path):
    tsv = _write(tmp_path, "a.tsv", b"context\treply\tuser\nAre you coming?\tYes!\tu1\n"
                                   b"\nLunch?\tSounds good\tu2\n")
    assert reply_data.read_pairs(tsv) == [
        {"context": "Are you coming?", "reply": "Yes!", "user": "u1"},
        {"context": "Lunch?", "reply": "Sounds good", "user": "u2"}]
    jsonl = _write(tmp_path, "a.jsonl", b'{"context": "Merci ?", "reply": "De rien"}\n')
    assert reply_data.read_pairs(jsonl) == [{"context": "Merci ?", "reply": "De rien"}]


@pytest.mark.parametrize("name, content, message", [
    ("a.tsv", b"context\tanswer\nHi\tHello\n",
     r"a.tsv: line 1: missing column 'reply' in the header \(found: context, answer\)$"),
    ("a.jsonl", b'{"context": "Hi", "reply": "Hello"}\n{"context": "Hi"}\n',
     r"a.jsonl: line 2: missing column 'reply'$"),
    ("a.tsv", b"context\treply\nHi\t  \n", r"a.tsv: line 2: empty reply$"),
    ("a.jsonl", b'{"context": "Hi", "reply": ""}\n', r"a.jsonl: line 1: empty reply$"),
    ("a.tsv", b"context\treply\nHi\tHello\nCaf\xe9?\tOui\n",
     r"a.tsv: line 3: not UTF-8 text \(byte 0xe9 at offset 26\)$"),
    ("a.jsonl", b'{"context": "Hi", "reply": "Hello"\n', r"a.jsonl: line 1: not JSON"),
    ("a.tsv", b"context\treply\nHi\tHello\textra\n", r"a.tsv: line 2: 3 fields, the header has 2$"),
    ("a.csv", b"context,reply\n", r"a.csv: expected a .tsv or .jsonl file"),
])
def test_bad_files_stop_with_one_line(tmp_path, name, content, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(ShipyardError, match=message) as error:
        reply_data.read_pairs(path)
    assert "\n" not in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(ShipyardError, match="^conversation file not found: "):
        reply_data.prepare(str(tmp_path / "nope.tsv"), str(tmp_path / "cache"))


def test_prepare_writes_split_tfrecords(tmp_path):
    rows = [{"context": f"message {i}", "reply": f"reply {i % 7}", "user": f"u{i % 3}"}
            for i in range(60)]
    path = _write(tmp_path, "c.jsonl", "\n".join(json.dumps(r) for r in rows).encode())
    directory = reply_data.prepare(path, str(tmp_path / "cache"))
    seen = []
    for split in ("train", "eval"):
        shards = find_shards(os.path.join(directory, split), "pairs")
        for record in tf.data.TFRecordDataset(shards):
            features = tf.train.Example.FromString(record.numpy()).features.feature
            pair = {k: features[k].bytes_list.value[0].decode() for k in features}
            assert reply_data.is_eval(pair) == (split == "eval")
            seen.append(pair)
    assert sorted(seen, key=lambda p: p["context"]) == sorted(rows, key=lambda p: p["context"])
    assert reply_data.prepare(path, str(tmp_path / "cache")) == directory  # cached


def test_tokenizer_splits_punctuation_keeps_words():
    assert text.tokens(["Sounds GOOD!", "I'm fine, thanks.", "Ça va ?"]) == [
        ["sounds", "good", "!"], ["i'm", "fine", ",", "thanks", "."], ["ça", "va", "?"]]


def test_negative_examples_are_marked_and_survive_tfrecords(bundled, tmp_path):
    """Every negative example, and only those, carries the NEGATIVE mark the Trainer's
    trigger labels read, through tf.Example and back."""
    import tensorflow as tf

    from models.smart_reply import trainer
    from models.smart_reply.intents import NEGATIVE

    marked = [p for p in bundled if NEGATIVE in p]
    assert len(marked) == 723 + len(reply_data.knowledge_pairs()) == 723 + 331
    assert {p[NEGATIVE] for p in marked} == {"1"}
    assert not any(NEGATIVE in p for p in reply_data.conversation_pairs())
    assert not any(NEGATIVE in p for p in corpus.pairs() if corpus.GROUP in p)
    path = str(tmp_path / "pairs.tfrecord")
    chosen = [marked[0], bundled[0]]
    with tf.io.TFRecordWriter(path) as writer:
        for pair in chosen:
            writer.write(reply_data.example_bytes(pair))
    assert trainer.read_pairs(path) == [
        {k: v for k, v in p.items() if k != corpus.GROUP} for p in chosen]


def test_transform_passes_the_negative_mark_through(tmp_path):
    """Transform keeps the mark, as "1" or empty, also for a batch where no example has it
    (a sparse feature of width 0 there)."""
    import tensorflow as tf
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    from models.smart_reply.intents import NEGATIVE
    from models.smart_reply.preprocessing import preprocessing_fn

    spec = {"context": tf.io.FixedLenFeature([], tf.string),
            "reply": tf.io.FixedLenFeature([], tf.string),
            NEGATIVE: tf.io.VarLenFeature(tf.string)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    config = {"vocab_size": 100, "min_token_count": 1}
    for marks in ([[], ["1"], []], [[], []]):
        rows = [{"context": f"hi {i}", "reply": "hello", NEGATIVE: m}
                for i, m in enumerate(marks)]
        with tft_beam.Context(temp_dir=str(tmp_path / str(len(marks)))):
            (out, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
                lambda x: preprocessing_fn(x, config))
        assert [r[NEGATIVE] for r in out] == [m[0].encode() if m else b"" for m in marks]
