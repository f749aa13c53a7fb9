"""Parallel text for the translation pipeline: the bundled corpus and the user's files.

The bundled corpus is built deterministically from what installed packages ship: numbers,
ordinals and amounts written out by num2words, and dates, times, country, language, month,
weekday, currency and unit names and patterns from Babel's CLDR data (human translations of
short phrases), combined in short sentence templates rendered in English, French and German.

The eval split holds combinations never seen in training: every sentence that contains a
held-out number or year goes there, and so does a hashed share of the other combinations;
no eval source sentence occurs in training. Both splits are written as tf.Examples
(`source`, `target` bytes) under `<dir>/train/` and `<dir>/eval/`.
"""
from __future__ import annotations

import datetime
import glob
import hashlib
import os
import random
import re
from collections.abc import Callable, Iterable, Iterator

from pipelines.errors import ShipyardError

LANGUAGES = ("en", "fr", "de")
SOURCE_KEY = "source"
TARGET_KEY = "target"
TRAIN_PAIRS = 60_000
EVAL_PAIRS = 2_000
EVAL_SHARE = 0.02  # of combinations without held-out atoms that go to eval
MIN_PAIRS = 20  # a user file with fewer pairs cannot train or be evaluated

Sentence = dict[str, str]  # language → text
Pair = tuple[str, str]


def normalize(text: str) -> str:
    """CLDR French puts NBSP / NNBSP before ':' and in '3:45 PM', and writes ’: one plain
    space and one apostrophe, so the same word is always the same wordpieces."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


# ---------------------------------------------------------------------------------------------
# Entities from num2words and CLDR


def _cardinal(n: int, lang: str) -> str:
    from num2words import num2words

    # English num2words writes "one thousand, one hundred and seventy-nine"; drop the commas
    # (the only punctuation inside a number) so numbers are plain word sequences.
    return num2words(n, lang=lang).replace(",", "")


def _ordinal(n: int, lang: str) -> str:
    from num2words import num2words

    return num2words(n, lang=lang, to="ordinal")


def _amount(units: int, cents: int, currency: str, lang: str) -> str:
    from num2words import num2words

    # A float: num2words reads an int as a number of cents.
    return num2words(units + cents / 100, lang=lang, to="currency", currency=currency)


class _Cldr:
    """The CLDR names the templates draw from, keyed so that all languages line up."""

    UNITS = ("length-kilometer", "length-meter", "length-centimeter", "mass-kilogram",
             "mass-gram", "duration-hour", "duration-minute", "duration-day", "duration-week",
             "volume-liter", "temperature-celsius", "speed-kilometer-per-hour", "area-hectare",
             "energy-kilowatt-hour", "length-mile")
    CURRENCIES = ("EUR", "USD", "GBP", "JPY", "CHF", "CAD", "AUD", "CNY", "INR", "SEK",
                  "NOK", "DKK", "PLN", "BRL", "MXN", "RUB", "ZAR", "KRW", "TRY", "NZD")
    # Not countries: the EU, the euro zone, the UN, CLDR's unknown and pseudo regions.
    NOT_COUNTRIES = {"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"}

    def __init__(self) -> None:
        from babel import Locale

        self.locales = {lang: Locale.parse(lang) for lang in LANGUAGES}
        en = self.locales["en"]
        self.countries = sorted(code for code in en.territories
                                if len(code) == 2 and code.isalpha()
                                and code not in self.NOT_COUNTRIES
                                and all(code in loc.territories for loc in self.locales.values()))
        self.languages = sorted(code for code in en.languages
                                if len(code) == 2
                                and all(code in loc.languages for loc in self.locales.values()))

    def country(self, code: str, lang: str) -> str:
        return normalize(self.locales[lang].territories[code])

    def language(self, code: str, lang: str) -> str:
        return normalize(self.locales[lang].languages[code])

    def month(self, month: int, lang: str) -> str:
        return self.locales[lang].months["format"]["wide"][month]

    def weekday(self, day: int, lang: str) -> str:
        return self.locales[lang].days["format"]["wide"][day]  # 0 = Monday

    def date(self, value: datetime.date, lang: str, form: str) -> str:
        from babel.dates import format_date

        return normalize(format_date(value, form, locale=lang))

    def time(self, value: datetime.time, lang: str) -> str:
        from babel.dates import format_time

        return normalize(format_time(value, "short", locale=lang))

    def quantity(self, n: int, unit: str, lang: str) -> str:
        locale = self.locales[lang]
        patterns = locale._data["unit_patterns"][unit]["long"]
        pattern = patterns.get(locale.plural_form(n), patterns["other"])
        return normalize(pattern.replace("{0}", _cardinal(n, lang)))

    def currency_amount(self, n: int, currency: str, lang: str) -> str:
        from babel.numbers import get_currency_name

        name = get_currency_name(currency, count=n, locale=lang)
        return normalize(f"{_cardinal(n, lang)} {name}")


# ---------------------------------------------------------------------------------------------
# Templates: each draws its slots from `rng` and renders the sentence in every language. The
# atoms it returns (numbers, years) decide the held-out split.

Template = Callable[[random.Random, _Cldr], tuple[Sentence, tuple]]


def _number(rng: random.Random) -> int:
    # Mostly small numbers (as in text), some up to 9,999.
    return rng.randint(2, 100) if rng.random() < 0.5 else rng.randint(2, 9999)


def _day(rng: random.Random) -> datetime.date:
    return datetime.date(rng.randint(1950, 2035), rng.randint(1, 12), rng.randint(1, 28))


def _clock(rng: random.Random) -> datetime.time:
    return datetime.time(rng.randint(0, 23), rng.choice(range(0, 60, 5)))


def _meeting(rng, cldr):
    day = _day(rng)
    return ({"en": f"The meeting is on {cldr.date(day, 'en', 'full')}.",
             "fr": f"La réunion a lieu le {cldr.date(day, 'fr', 'full')}.",
             "de": f"Die Besprechung ist am {cldr.date(day, 'de', 'full')}."},
            (("year", day.year),))


def _train(rng, cldr):
    at = _clock(rng)
    return ({"en": f"The train leaves at {cldr.time(at, 'en')}.",
             "fr": f"Le train part à {cldr.time(at, 'fr')}.",
             "de": f"Der Zug fährt um {cldr.time(at, 'de')} ab."},
            (("time", at.hour * 60 + at.minute),))


def _ticket(rng, cldr):
    units, cents = rng.randint(2, 999), rng.randint(1, 99)
    currency = rng.choice(("EUR", "USD", "GBP"))  # the currencies num2words writes in French
    return ({lang: f"{start} {_amount(units, cents, currency, lang)}."
             for lang, start in (("en", "The ticket costs"), ("fr", "Le billet coûte"),
                                 ("de", "Die Fahrkarte kostet"))},
            (("number", units),))


def _value(rng, cldr):
    n, unit = _number(rng), rng.choice(cldr.UNITS)
    return ({"en": f"The value is {cldr.quantity(n, unit, 'en')}.",
             "fr": f"La valeur est de {cldr.quantity(n, unit, 'fr')}.",
             "de": f"Der Wert beträgt {cldr.quantity(n, unit, 'de')}."},
            (("number", n),))


def _trip(rng, cldr):
    country, day, at = rng.choice(cldr.countries), _day(rng), _clock(rng)
    return ({"en": f"Destination: {cldr.country(country, 'en')}, departure on "
                   f"{cldr.date(day, 'en', 'long')} at {cldr.time(at, 'en')}.",
             "fr": f"Destination : {cldr.country(country, 'fr')}, départ le "
                   f"{cldr.date(day, 'fr', 'long')} à {cldr.time(at, 'fr')}.",
             "de": f"Reiseziel: {cldr.country(country, 'de')}, Abreise am "
                   f"{cldr.date(day, 'de', 'long')} um {cldr.time(at, 'de')}."},
            (("year", day.year),))


def _form(rng, cldr):
    language, country = rng.choice(cldr.languages), rng.choice(cldr.countries)
    return ({"en": f"Language: {cldr.language(language, 'en')}. "
                   f"Country: {cldr.country(country, 'en')}.",
             "fr": f"Langue : {cldr.language(language, 'fr')}. "
                   f"Pays : {cldr.country(country, 'fr')}.",
             "de": f"Sprache: {cldr.language(language, 'de')}. "
                   f"Land: {cldr.country(country, 'de')}."}, ())


def _travel(rng, cldr):
    month, year = rng.randint(1, 12), rng.randint(1950, 2035)
    return ({"en": f"We will travel in {cldr.month(month, 'en')} {year}.",
             "fr": f"Nous voyagerons en {cldr.month(month, 'fr')} {year}.",
             "de": f"Wir reisen im {cldr.month(month, 'de')} {year}."},
            (("year", year),))


def _shop(rng, cldr):
    day, opens = rng.randint(0, 6), _clock(rng)
    return ({"en": f"The shop is closed on {cldr.weekday(day, 'en')} until "
                   f"{cldr.time(opens, 'en')}.",
             "fr": f"Le magasin est fermé le {cldr.weekday(day, 'fr')} jusqu'à "
                   f"{cldr.time(opens, 'fr')}.",
             "de": f"Das Geschäft ist am {cldr.weekday(day, 'de')} bis "
                   f"{cldr.time(opens, 'de')} geschlossen."},
            (("time", opens.hour * 60 + opens.minute),))


def _books(rng, cldr):
    n = _number(rng)
    return ({"en": f"There are {_cardinal(n, 'en')} books.",
             "fr": f"Il y a {_cardinal(n, 'fr')} livres.",
             "de": f"Es gibt {_cardinal(n, 'de')} Bücher."}, (("number", n),))


def _times(rng, cldr):
    n = rng.randint(2, 120)
    return ({"en": f"This is the {_ordinal(n, 'en')} time.",
             "fr": f"C'est la {_ordinal(n, 'fr')} fois.",
             "de": f"Das ist das {_ordinal(n, 'de')} Mal."}, (("number", n),))


def _spelled(rng, cldr):
    n = _number(rng)
    return ({"en": f"The number {n} is written {_cardinal(n, 'en')}.",
             "fr": f"Le nombre {n} s'écrit {_cardinal(n, 'fr')}.",
             "de": f"Die Zahl {n} schreibt man {_cardinal(n, 'de')}."}, (("number", n),))


def _paid(rng, cldr):
    n, currency = _number(rng), rng.choice(cldr.CURRENCIES)
    return ({"en": f"I paid {cldr.currency_amount(n, currency, 'en')}.",
             "fr": f"J'ai payé {cldr.currency_amount(n, currency, 'fr')}.",
             "de": f"Ich habe {cldr.currency_amount(n, currency, 'de')} bezahlt."},
            (("number", n),))


def _speaks(rng, cldr):
    first, second = rng.sample(cldr.languages, 2)
    return ({"en": f"She speaks {cldr.language(first, 'en')} and "
                   f"{cldr.language(second, 'en')}.",
             "fr": f"Elle parle {cldr.language(first, 'fr')} et "
                   f"{cldr.language(second, 'fr')}.",
             "de": f"Sie spricht {cldr.language(first, 'de')} und "
                   f"{cldr.language(second, 'de')}."}, ())


def _birthday(rng, cldr):
    day = _day(rng)
    return ({"en": f"Her birthday is {cldr.date(day, 'en', 'long')}.",
             "fr": f"Son anniversaire est le {cldr.date(day, 'fr', 'long')}.",
             "de": f"Ihr Geburtstag ist am {cldr.date(day, 'de', 'long')}."},
            (("year", day.year),))


TEMPLATES: tuple[Template, ...] = (_meeting, _train, _ticket, _value, _trip, _form, _travel,
                                   _shop, _books, _times, _spelled, _paid, _speaks, _birthday)
# Held out of training: every 29th number from 13 (≈ 3.4 % of numbers, ~340 of them) and four
# years; a sentence holding any of them is eval-only, so the model must compose them.
HELD_OUT_YEARS = frozenset({1957, 1984, 2003, 2026})


def _held_out(atoms: tuple) -> bool:
    for kind, value in atoms:
        if kind == "number" and value % 29 == 13:
            return True
        if kind == "year" and value in HELD_OUT_YEARS:
            return True
    return False


def _bucket(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def build_corpus(src: str = "en", tgt: str = "fr", train_pairs: int = TRAIN_PAIRS,
                 eval_pairs: int = EVAL_PAIRS, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, eval) lists of (source, target) sentences; the same for the same arguments."""
    if src not in LANGUAGES or tgt not in LANGUAGES or src == tgt:
        raise ShipyardError(f"bundled corpus languages are {', '.join(LANGUAGES)}; "
                            f"got --src {src} --tgt {tgt}")
    rng, cldr = random.Random(seed), _Cldr()
    train: dict[str, str] = {}
    held: dict[str, str] = {}
    # Round-robin over templates so every template is equally represented in both splits.
    attempts = 0
    while len(train) < train_pairs or len(held) < eval_pairs:
        attempts += 1
        if attempts > 20 * (train_pairs + eval_pairs):
            raise RuntimeError("templates cannot produce that many distinct sentences")
        template = TEMPLATES[attempts % len(TEMPLATES)]
        sentence, atoms = template(rng, cldr)
        source, target = normalize(sentence[src]), normalize(sentence[tgt])
        if source in train or source in held:
            continue
        if _held_out(atoms) or _bucket(source) < EVAL_SHARE:
            if len(held) < eval_pairs:
                held[source] = target
        elif len(train) < train_pairs:
            train[source] = target
    return list(train.items()), list(held.items())


# ---------------------------------------------------------------------------------------------
# tf.Example files


def example_bytes(source: str, target: str) -> bytes:
    import tensorflow as tf

    feature = {key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))
               for key, text in ((SOURCE_KEY, source), (TARGET_KEY, target))}
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)


def _write_split(pairs: Iterable[Pair], directory: str, split: str) -> None:
    from pipelines.tfrecords import write_shuffled_shards

    write_shuffled_shards((example_bytes(s, t) for s, t in pairs),
                          os.path.join(directory, split), "data")


def _split_files(directory: str, split: str) -> list[str] | None:
    from pipelines.tfrecords import find_shards

    return find_shards(os.path.join(directory, split), "data")


def write_presplit(train: list[Pair], eval_: list[Pair], directory: str) -> str:
    """`<directory>/train/data-*.tfrecord` and `<directory>/eval/data-*.tfrecord`, shuffled."""
    _write_split(eval_, directory, "eval")
    # The train shards last: their presence marks a finished directory.
    _write_split(train, directory, "train")
    return directory


def is_built(directory: str) -> bool:
    return all(_split_files(directory, split) for split in ("train", "eval"))


def build_bundled(directory: str, src: str = "en", tgt: str = "fr",
                  train_pairs: int = TRAIN_PAIRS, eval_pairs: int = EVAL_PAIRS) -> str:
    """The bundled corpus as presplit tf.Examples under `directory` (cached)."""
    if not is_built(directory):
        train, eval_ = build_corpus(src, tgt, train_pairs, eval_pairs)
        write_presplit(train, eval_, directory)
    return directory


# ---------------------------------------------------------------------------------------------
# The user's parallel files


def read_tsv(path: str) -> list[Pair]:
    """(source, target) pairs of a UTF-8 file of `source<TAB>target` lines (blank lines are
    skipped). A malformed line stops with a one-line error naming the file and line."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ShipyardError(f"parallel file not found: {path}") from None
    except IsADirectoryError:
        raise ShipyardError(f"{path} is a directory; give a .tsv file or a folder of "
                            "TFRecords") from None
    pairs = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as e:
            raise ShipyardError(f"{path}:{number}: not valid UTF-8 (byte {e.start + 1} of the "
                                "line)") from None
        if not text.strip():
            continue
        columns = text.split("\t")
        if len(columns) != 2:
            raise ShipyardError(f"{path}:{number}: expected 2 tab-separated columns "
                                f"(source<TAB>target), found {len(columns)}")
        source, target = normalize(columns[0]), normalize(columns[1])
        if not source or not target:
            side = "source" if not source else "target"
            raise ShipyardError(f"{path}:{number}: empty {side} sentence")
        pairs.append((source, target))
    if len(pairs) < MIN_PAIRS:
        raise ShipyardError(f"{path}: {len(pairs)} sentence pairs; at least {MIN_PAIRS} needed")
    return pairs


def _records(files: list[str]) -> Iterator[tuple[str, dict[str, list[bytes]]]]:
    import tensorflow as tf

    for path in files:
        compression = "GZIP" if path.endswith(".gz") else ""
        try:
            for record in tf.data.TFRecordDataset([path], compression_type=compression):
                example = tf.train.Example.FromString(record.numpy())
                yield path, {key: list(feature.bytes_list.value)
                             for key, feature in example.features.feature.items()}
        except tf.errors.OpError as e:
            raise ShipyardError(f"{path}: not a readable TFRecord file ({e.message})") from None


def read_tfrecords(data_dir: str) -> list[Pair]:
    """(source, target) pairs of a folder of TFRecords of tf.Examples with bytes features
    `source` and `target`."""
    from pipelines.tfrecords import find_tfrecords

    files = find_tfrecords(data_dir)
    if not files:
        raise ShipyardError(f"{data_dir}: no TFRecord files (*.tfrecord[.gz])")
    pairs = _read_pairs(files)
    if len(pairs) < MIN_PAIRS:
        raise ShipyardError(f"{data_dir}: {len(pairs)} sentence pairs; at least {MIN_PAIRS} "
                            "needed")
    return pairs


def read_presplit(directory: str, split: str) -> list[Pair]:
    """The pairs of one split of a directory `write_presplit` wrote."""
    return _read_pairs(_split_files(directory, split) or [])


def _read_pairs(files: list[str]) -> list[Pair]:
    pairs = []
    for path, features in _records(files):
        texts = []
        for key in (SOURCE_KEY, TARGET_KEY):
            values = features.get(key)
            if not values or len(values) != 1:
                raise ShipyardError(f"{path}: every tf.Example needs one bytes feature "
                                    f"'{key}'")
            try:
                texts.append(normalize(values[0].decode("utf-8")))
            except UnicodeDecodeError:
                raise ShipyardError(f"{path}: feature '{key}' is not valid UTF-8") from None
            if not texts[-1]:
                raise ShipyardError(f"{path}: empty {key} sentence")
        pairs.append((texts[0], texts[1]))
    return pairs


def split_pairs(pairs: list[Pair], eval_share: float = 0.05) -> tuple[list[Pair], list[Pair]]:
    """A deterministic split of the user's pairs: one source sentence is in one split only."""
    train, eval_ = [], []
    for pair in dict(pairs).items():  # the last target of a repeated source wins
        (eval_ if _bucket(pair[0]) < eval_share else train).append(pair)
    if not eval_ or not train:
        raise ShipyardError(f"{len(pairs)} sentence pairs are too few to hold out an eval split")
    return train, eval_


def prepare(data: str, cache_dir: str) -> str:
    """The user's TSV file or TFRecord folder, checked and written as presplit tf.Examples
    under a cache directory named by their content. Returns that directory."""
    paths = sorted(glob.glob(os.path.join(data, "*"))) if os.path.isdir(data) else [data]
    digest = hashlib.sha256()
    for path in paths:
        if os.path.isfile(path):
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    directory = os.path.join(cache_dir, f"parallel-{digest.hexdigest()[:16]}")
    if is_built(directory):
        return directory
    pairs = read_tfrecords(data) if os.path.isdir(data) else read_tsv(data)
    train, eval_ = split_pairs(pairs)
    return write_presplit(train, eval_, directory)
