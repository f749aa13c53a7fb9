"""Smart Reply data: the bundled corpus, users' TSV / JSONL, the split and the response set."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from models.smart_reply import response_set, text
from pipelines.errors import ShipyardError
from pipelines.smart_reply import data as reply_data
from pipelines.tfrecords import find_shards


@pytest.fixture(scope="module")
def english():
    return reply_data.chatterbot_pairs("english")


def test_bundled_english_pairs_and_split(english):
    # 2,393 consecutive-turn pairs in the English files, 1,176 once exact repeats are dropped.
    assert len(english) == 1176
    assert len(set((p["context"], p["reply"]) for p in english)) == 1176
    assert all(p["context"] and p["reply"] for p in english)
    assert {"context": "Hi, How is it going?", "reply": "Could be better."} in english
    held_out = [p for p in english if reply_data.is_eval(p)]
    assert len(held_out) == 222
    # Every reply to one message is on the same side of the split.
    eval_contexts = {p["context"].lower() for p in held_out}
    assert not any(p["context"].lower() in eval_contexts
                   for p in english if not reply_data.is_eval(p))


def test_other_languages_and_unknown_language():
    assert "spanish" in reply_data.chatterbot_languages()
    assert len(reply_data.chatterbot_pairs("spanish")) > 100
    with pytest.raises(ShipyardError, match="^chatterbot-corpus has no language 'klingon'"):
        reply_data.chatterbot_pairs("klingon")


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


@pytest.fixture(scope="module")
def bundled_set(english):
    train = [p for p in english if not reply_data.is_eval(p)]
    contexts = text.tokens([p["context"] for p in train])
    replies = text.tokens([p["reply"] for p in train])
    build = dict(num_clusters=30, max_responses=500, max_tokens=16)
    first = response_set.build(contexts, replies, [p["reply"] for p in train], **build)
    # Determinism on a part of the data (a second full build costs test time, not coverage).
    part = dict(num_clusters=8, max_responses=80, max_tokens=16)
    again = [response_set.build(contexts[:300], replies[:300],
                                [p["reply"] for p in train[:300]], **part) for _ in range(2)]
    return first, again, replies


def test_response_set_is_deterministic_and_clustered(bundled_set):
    first, again, _ = bundled_set
    assert again[0].to_json() == again[1].to_json()
    assert len(first.texts) == 500 and first.num_clusters == 30
    assert sorted(set(first.clusters)) == list(range(30))
    assert first.clusters[0] == 0  # clusters are numbered in frequency order
    assert all(len(t) <= 16 for t in first.tokens)
    # The most frequent replies come first; normalisation merged case and spacing variants.
    assert first.texts[0] == "No." and first.counts[0] == 4
    assert len({tuple(t) for t in first.tokens}) == 500
    # Replies to the same question ("Hi, How is it going?") share a cluster.
    cluster = {t: c for t, c in zip(first.texts, first.clusters, strict=True)}
    assert cluster["Fine"] == cluster["Good"] == cluster["Great"] == cluster["Okay"]
    assert first.fallback[:3] == ["Ok", "Thanks!", "Sounds good"]


def test_response_set_round_trip_and_labels(bundled_set, tmp_path):
    first, _, replies = bundled_set
    path = str(tmp_path / "response_set.json")
    first.save(path)
    loaded = response_set.ResponseSet.load(path)
    assert loaded.to_json() == first.to_json()
    trigger, clusters = loaded.labels(text.tokens([
        "No.", "Fine", "Thank you!", "Here's a long explanation of how the memory allocator "
        "works in detail, with every step spelled out for you.", "zzzz qqqq"]))
    assert trigger.tolist() == [1, 1, 1, 0, 0]
    cluster = {t: c for t, c in zip(first.texts, first.clusters, strict=True)}
    assert clusters.tolist()[:2] == [cluster["No."], cluster["Fine"]]
    assert clusters.tolist()[3:] == [-1, -1]
    # Honest labels: about 58 % of training replies are short and close to the set.
    rate = float(np.mean(loaded.labels(replies)[0]))
    assert 0.55 < rate < 0.62
