"""The bundled parallel corpus and the user's parallel files."""
from __future__ import annotations

import pytest

from pipelines.errors import ShipyardError
from pipelines.translation import data


@pytest.fixture(scope="module")
def corpus():
    return data.build_corpus("en", "fr", train_pairs=3000, eval_pairs=300)


def test_corpus_is_deterministic_and_sized(corpus):
    train, eval_ = corpus
    assert len(train) == 3000 and len(eval_) == 300
    assert data.build_corpus("en", "fr", train_pairs=3000, eval_pairs=300) == corpus


def test_eval_combinations_never_seen_in_training(corpus):
    train, eval_ = corpus
    train_sources = {s for s, _ in train}
    assert not train_sources & {s for s, _ in eval_}
    # Held-out numbers never occur in a training sentence, in digits or in words.
    assert "The number 42 is written forty-two." not in train_sources
    spelled = [int(s.split()[2]) for s in train_sources if s.startswith("The number ")]
    assert len(spelled) > 100 and not [n for n in spelled if n % 29 == 13]
    assert not [s for s in train_sources if "1984" in s or "2026" in s]
    assert sum("The number 42 " in s or "1984" in s for s, _ in eval_) >= 1


def test_cldr_and_num2words_translations(corpus):
    train, _ = corpus
    pairs = dict(train)
    # Real CLDR French: lower-case month and weekday names, "Pays : " with a plain space
    # (CLDR writes NBSP there), num2words French numbers.
    meeting = next(s for s in pairs if s.startswith("The meeting is on "))
    assert pairs[meeting].startswith("La réunion a lieu le ")
    assert all("\u00a0" not in t and "\u202f" not in t and "\u2019" not in t
               for t in pairs.values())
    form = next(s for s in pairs if s.startswith("Language: "))
    assert " Pays : " in pairs[form]


def test_german_corpus():
    train, _ = data.build_corpus("en", "de", train_pairs=200, eval_pairs=20)
    pairs = dict(train)
    books = next(s for s in pairs if s.startswith("There are "))
    assert pairs[books].startswith("Es gibt ") and pairs[books].endswith(" Bücher.")


def test_full_corpus_size_is_at_least_50000():
    assert data.TRAIN_PAIRS >= 50_000
    assert data.TRAIN_PAIRS + data.EVAL_PAIRS >= 50_000


def test_normalize():
    assert data.normalize("Pays\u00a0: France\u202f!  l\u2019été ") == "Pays : France ! l'été"


def test_unknown_language_is_one_line():
    with pytest.raises(ShipyardError, match="bundled corpus languages are en, fr, de"):
        data.build_corpus("en", "es")


def _tsv(tmp_path, content: bytes) -> str:
    path = tmp_path / "pairs.tsv"
    path.write_bytes(content)
    return str(path)


GOOD = b"".join(b"Hello %d.\tBonjour %d.\n" % (i, i) for i in range(40))


def test_read_tsv(tmp_path):
    pairs = data.read_tsv(_tsv(tmp_path, GOOD + b"\n"))
    assert pairs[3] == ("Hello 3.", "Bonjour 3.")
    assert len(pairs) == 40


@pytest.mark.parametrize("bad, message", [
    (b"one column only\n", r"pairs.tsv:41: expected 2 tab-separated columns "
                           r"\(source<TAB>target\), found 1$"),
    (b"a\tb\tc\n", r"pairs.tsv:41: expected 2 tab-separated columns .*found 3$"),
    (b"  \tBonjour\n", r"pairs.tsv:41: empty source sentence$"),
    (b"Hello\t\n", r"pairs.tsv:41: empty target sentence$"),
    (b"caf\xe9\tcaf\xc3\xa9\n", r"pairs.tsv:41: not valid UTF-8 \(byte 4 of the line\)$"),
])
def test_malformed_tsv_is_one_line(tmp_path, bad, message):
    with pytest.raises(ShipyardError, match=message) as error:
        data.read_tsv(_tsv(tmp_path, GOOD + bad))
    assert "\n" not in str(error.value)


def test_missing_and_tiny_files(tmp_path):
    with pytest.raises(ShipyardError, match="parallel file not found"):
        data.read_tsv(str(tmp_path / "nope.tsv"))
    with pytest.raises(ShipyardError, match="2 sentence pairs; at least 20 needed"):
        data.read_tsv(_tsv(tmp_path, b"a\tb\nc\td\n"))


def test_prepare_writes_presplit_tfrecords_and_reads_them_back(tmp_path):
    directory = data.prepare(_tsv(tmp_path, GOOD), str(tmp_path / "cache"))
    assert data.is_built(directory)
    pairs = sorted(data.read_presplit(directory, "train") + data.read_presplit(directory, "eval"))
    assert pairs == sorted(data.read_tsv(_tsv(tmp_path, GOOD)))
    # The same file again: the cached directory, not a new one.
    assert data.prepare(str(tmp_path / "pairs.tsv"), str(tmp_path / "cache")) == directory
