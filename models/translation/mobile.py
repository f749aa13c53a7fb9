"""The translation family's mobile hook (`HOOK`, for components/mobile.py): GNMT on a phone.

The .tflite holds what the phone runs on wordpiece ids: the encoder and the GNMT beam search
over the decoder (the Translator's own `decode_ids`, as a tf.function whose loop becomes a
TFLite WHILE), for one sentence at a time, TFLite builtin ops only. Tokenisation stays outside
it: the bundle ships `wordpieces.txt` (ids are line numbers) and `tokenizer.json` (how text is
normalised and split before the wordpiece lookup, and how ids become text again;
`models/translation/plain_text.py` is the reference detokeniser without TensorFlow).

The decoding settings (beam width, α, β, output cap) are the served model's; they travel with
the Keras model as the config of a `DecodingSettings` layer, so that the optimiser's .h5 copy
still says how to decode when the converter builds the loop.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from typing import Any

import numpy as np
import tensorflow as tf

from models import tflite
from models.artifacts import KERAS_DIR
from models.keras2 import keras
from models.mobile_hook import MobileHook
from models.translation import (
    gnmt,  # noqa: F401  registers the GNMT layers for .h5 loading
    plain_text,
)
from models.translation import wordpieces as wp
from models.translation.evaluation import bleu
from models.translation.preprocessing import SOURCE_KEY, TARGET_KEY
from models.translation.translator import Translator

METRIC = "bleu"
SETTINGS_FILE = "settings.json"
TOKENIZER_FILE = "tokenizer.json"
INPUT_NAME, OUTPUT_IDS, OUTPUT_SCORE = "source_ids", "ids", "score"
CONVERSIONS = ("float32", "float16", "dynamic")
DECODING_KEYS = ("beam_width", "alpha", "beta", "max_output_tokens")


@keras.utils.register_keras_serializable(package="shipyard")
class DecodingSettings(keras.layers.Layer):
    """Identity on the logits. Its config is how the model decodes (beam width, α, β, the
    longest translation), carried inside the Keras model to the TFLite converter."""

    def __init__(self, beam_width: int = 4, alpha: float = 0.2, beta: float = 0.2,
                 max_output_tokens: int = 200, **kwargs) -> None:
        super().__init__(**kwargs)
        self.beam_width, self.alpha, self.beta = int(beam_width), float(alpha), float(beta)
        self.max_output_tokens = int(max_output_tokens)

    def call(self, logits: tf.Tensor) -> tf.Tensor:
        return logits

    def get_config(self) -> dict:
        return {**super().get_config(), "beam_width": self.beam_width, "alpha": self.alpha,
                "beta": self.beta, "max_output_tokens": self.max_output_tokens}


@dataclasses.dataclass
class Sentences:
    """Source sentences as wordpiece ids (one int32 array each, tokenised outside the
    .tflite as an app would) and the vocabulary that turns decoded ids back into text."""

    ids: list[np.ndarray]
    vocabulary: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def _keras_dir(model_uri: str) -> str:
    return os.path.join(model_uri, KERAS_DIR)


def read_settings(model_uri: str) -> dict[str, Any]:
    path = os.path.join(_keras_dir(model_uri), SETTINGS_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no {SETTINGS_FILE} at {path}: the translation Trainer saves "
                                "the Keras weights and settings there for the mobile hook")
    with open(path) as f:
        return json.load(f)


def read_model_vocabulary(model_uri: str) -> list[str]:
    with open(os.path.join(_keras_dir(model_uri), wp.VOCABULARY_FILE), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.rstrip("\n")]


def load_model(model_uri: str) -> keras.Model:
    """The trained GNMT (ids in, next-wordpiece logits out) with its DecodingSettings."""
    settings = read_settings(model_uri)
    model = gnmt.GNMT(settings["vocab_size"], settings["encoder_layers"],
                      settings["decoder_layers"], settings["units"], settings["dropout"])
    model.load_weights(os.path.join(_keras_dir(model_uri), "weights")).expect_partial()
    decoding = DecodingSettings(
        **{k: settings[k] for k in DECODING_KEYS if k in settings}, name="decoding")
    return keras.Model(model.inputs, decoding(model.output), name="gnmt")


def decoding_settings(model: keras.Model) -> dict[str, Any]:
    config = model.get_layer("decoding").get_config()
    return {k: config[k] for k in DECODING_KEYS}


def with_decoding(model: keras.Model, **overrides: Any) -> keras.Model:
    """`model` (sharing its layers and weights) decoding with other settings, e.g. another
    beam width for a .tflite that searches wider or greedily (beam_width=1)."""
    unknown = sorted(set(overrides) - set(DECODING_KEYS))
    if unknown:
        raise ValueError(f"unknown decoding setting(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(DECODING_KEYS)}")
    decoding = DecodingSettings(**{**decoding_settings(model), **overrides}, name="decoding")
    return keras.Model(model.inputs, decoding(model.get_layer("decoding").input),
                       name=model.name)


def translator(model: keras.Model) -> Translator:
    """The served model's decoder (encoder + beam search) over `model`'s layers, ids only."""
    return Translator(model, None, **decoding_settings(model))


def load_split(transform_graph_uri: str | None, examples_uri: str, split: str,
               limit: int | None = None, model_uri: str | None = None
               ) -> tuple[Sentences, list[str]]:
    """(source sentences as wordpiece ids, reference translations) of Transform's output
    split, tokenised with Transform's vocabulary."""
    from models.examples import read_split
    from models.translation.trainer import read_vocabulary

    vocabulary = read_vocabulary(transform_graph_uri)
    rows = read_split(examples_uri, split, limit)
    sources = [row[SOURCE_KEY][0] for row in rows]
    references = [row[TARGET_KEY][0].decode() for row in rows]
    ids = wp.Wordpieces(vocabulary).tokenize(tf.constant(sources))
    return Sentences([np.asarray(row, np.int32) for row in ids.numpy()], vocabulary), references


def metric(translations: list[str], references: list[str]) -> float:
    """Corpus BLEU (sacrebleu), as the FamilyEvaluator scores the SavedModel."""
    return bleu(list(translations), list(references))


def agreement(translations: list[str], reference_translations: list[str]) -> float:
    """The share of sentences that the TFLite model translates exactly as the SavedModel."""
    pairs = list(zip(translations, reference_translations, strict=True))
    return sum(a == b for a, b in pairs) / max(len(pairs), 1)


def decode_function(model: keras.Model) -> tf.types.experimental.GenericFunction:
    """ids [1, source_len] → {ids [1, length], score [1]}: one sentence, as a phone runs it."""
    decoder = translator(model)

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32, name=INPUT_NAME)])
    def decode(source_ids):
        ids, _, scores = decoder.decode_ids(source_ids)
        return {OUTPUT_IDS: ids, OUTPUT_SCORE: scores}

    return decode


def convert(model: keras.Model, conversion: str, x_sample=None, io_type: str = "") -> bytes:
    """The decoder as TFLite builtins (WHILE, FULLY_CONNECTED, TOPK_V2, GATHER ...; no
    SELECT_TF_OPS): float32, float16 weights, or dynamic range (int8 weights, float
    activations). Converted from a SavedModel of the tf.function, because the converter
    cannot freeze variables read inside a loop of a concrete function."""
    if conversion not in CONVERSIONS:
        raise ValueError(f"translation converts {', '.join(CONVERSIONS)}; not {conversion!r} "
                         "(full-integer LSTM decoding loops are not supported)")
    decode = decode_function(model)
    root = tf.Module()
    root.weights = list(model.weights)
    root.decode = decode
    with tempfile.TemporaryDirectory() as directory:
        tf.saved_model.save(root, directory, signatures={"serving_default": decode})
        converter = tf.lite.TFLiteConverter.from_saved_model(directory)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if conversion != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if conversion == "float16":
            converter.target_spec.supported_types = [tf.float16]
        with tflite.quiet_native_logs():
            return converter.convert()


class TFLiteTranslator:
    """A .tflite decoder on LiteRT (one thread, as the gate measures), with the app's
    detokeniser."""

    def __init__(self, model: bytes, vocabulary: list[str]) -> None:
        interpreter = tflite.interpreter(model, threads=1)
        self.decode = interpreter.get_signature_runner("serving_default")
        self.vocabulary = vocabulary

    def ids(self, source_ids: np.ndarray) -> np.ndarray:
        return self.decode(**{INPUT_NAME: source_ids[np.newaxis].astype(np.int32)})[OUTPUT_IDS][0]

    def translate(self, source_ids: np.ndarray) -> str:
        return plain_text.detokenize(self.ids(source_ids), self.vocabulary)


def tflite_predict(model: bytes, x: Sentences) -> list[str]:
    """Translations of every sentence by the .tflite decoder, one sentence at a time."""
    runner = TFLiteTranslator(model, x.vocabulary)
    return [runner.translate(ids) for ids in x.ids]


def reference_predict(model: keras.Model, x: Sentences) -> list[str]:
    """The SavedModel's translations: the same Translator graph the Trainer exports, on one
    sentence at a time (as the phone decodes), detokenised in graph."""
    decode = decode_function(model)
    pieces = wp.Wordpieces(x.vocabulary)
    return [pieces.detokenize(decode(tf.constant(ids[np.newaxis]))[OUTPUT_IDS])[0]
            .numpy().decode() for ids in x.ids]


def latency(model: bytes, x: Sentences, runs: int) -> tflite.Latency:
    """Single-thread time to translate one sentence (ids in, ids out), over real held-out
    sentences in turn: a random input would say nothing about when decoding stops."""
    runner = TFLiteTranslator(model, x.vocabulary)
    for ids in x.ids[:3]:
        runner.ids(ids)  # warm-up
    times = []
    for i in range(max(runs, 1)):
        ids = x.ids[i % len(x.ids)]
        start = time.perf_counter()
        runner.ids(ids)
        times.append((time.perf_counter() - start) * 1e3)
    return tflite.Latency(float(np.percentile(times, 50)), float(np.percentile(times, 90)),
                          len(times))


def tokenizer_spec(vocabulary: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """What an app needs around the .tflite: text → ids before it, ids → text after it."""
    return {
        "vocabulary_file": wp.VOCABULARY_FILE, "vocabulary_size": len(vocabulary),
        "ids": {"pad": wp.PAD_ID, "unknown": wp.UNK_ID, "start": wp.START_ID,
                "end": wp.END_ID},
        "input": {"name": INPUT_NAME, "dtype": "int32", "shape": [1, "source_len"],
                  "max_tokens": settings.get("max_input_tokens")},
        "outputs": {OUTPUT_IDS: "int32 [1, length]: wordpiece ids, [END] then 0-padding",
                    OUTPUT_SCORE: "float32 [1]: GNMT score log P / lp + cp"},
        "decoding": {k: settings.get(k) for k in DECODING_KEYS},
        "tokenize": {
            "normalize": [["[\u2018\u2019]", "'"], ["[\\s\u00a0\u202f]+", " "], "strip"],
            "pretokenize": [[r"(\pL)-(\pL)", r"\1 [-] \2", 2], [r"(\pL)'(\pL)", r"\1 ['] \2", 2],
                            [r"([^\s\pL])(\pL)", r"\1 [G] \2", 1],
                            [r"([^\s\d])(\d)", r"\1 [G] \2", 1]],
            "pretokenize_note": "apply each [pattern, replacement, passes] in order (the "
                                "hyphen and apostrophe rules twice, alternating), then split "
                                "at spaces; each chunk: greedy longest-match wordpieces, "
                                "pieces after the first prefixed with the suffix indicator",
            "suffix_indicator": plain_text.SUFFIX, "unknown_token": wp.UNK},
        "detokenize": {
            "drop_after": wp.END, "drop": [wp.PAD, wp.START],
            "joiners": plain_text.JOINERS,
            "rule": "a suffix (##x → x), a joiner, or the token after a joiner sticks to the "
                    "text before it; any other token is preceded by a space"},
    }


def bundle_files(transform_graph_uri: str | None, model_uri: str) -> dict[str, bytes]:
    """`wordpieces.txt` (the model's vocabulary, ids are line numbers) and `tokenizer.json`."""
    vocabulary = read_model_vocabulary(model_uri)
    spec = tokenizer_spec(vocabulary, read_settings(model_uri))
    return {wp.VOCABULARY_FILE: "".join(t + "\n" for t in vocabulary).encode(),
            TOKENIZER_FILE: json.dumps(spec, indent=2, ensure_ascii=False).encode()}


class TranslationMobile(MobileHook):
    """The GNMT decoder loop as one .tflite per sentence (float conversions only), scored on
    BLEU and on agreeing translations with the SavedModel's decoder."""

    # The module's functions stay its API (tests, benchmarks and the README use them); the
    # class says which of them implement the hook.
    metric_name = METRIC
    conversions = CONVERSIONS
    load_model = staticmethod(load_model)
    load_split = staticmethod(load_split)
    metric = staticmethod(metric)
    convert = staticmethod(convert)
    bundle_files = staticmethod(bundle_files)
    reference_predict = staticmethod(reference_predict)
    tflite_predict = staticmethod(tflite_predict)
    latency = staticmethod(latency)
    agreement = staticmethod(agreement)


HOOK = TranslationMobile()
