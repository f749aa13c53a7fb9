"""The exported translator: raw strings in a fresh process, scores, errors, warm-up, BLEU hook."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from models.translation import evaluation, trainer
from models.translation import wordpieces as wp
from pipelines.translation import data as translation_data

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = {"encoder_layers": 2, "decoder_layers": 2, "units": 32, "dropout": 0.0,
          "learning_rate": 5e-3, "beam_width": 3, "alpha": 0.2, "beta": 0.2,
          "max_input_tokens": 40, "max_output_tokens": 60}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny GNMT trained 60 steps on 300 pairs of one template, exported."""
    train, _ = translation_data.build_corpus("en", "fr", train_pairs=3000, eval_pairs=10)
    pairs = [p for p in train if p[0].startswith("She speaks ")][:300]
    vocabulary = wp.learn_vocabulary([t for p in pairs for t in p], 500)
    pieces = wp.Wordpieces(vocabulary)
    texts = tf.data.Dataset.from_tensor_slices({"source": [s for s, _ in pairs],
                                                "target": [t for _, t in pairs]})
    dataset = trainer.token_dataset(texts, pieces, batch_size=32, max_tokens=40, shuffle=True)
    model = trainer.build_model(CONFIG, len(vocabulary))
    model.fit(dataset, steps_per_epoch=60, epochs=1, verbose=0)
    directory = tmp_path_factory.mktemp("model")
    serving = str(directory / "Format-Serving")
    trainer.export(model, vocabulary, CONFIG, serving)
    return serving, pairs


def test_export_translates_raw_strings_in_a_fresh_process(exported):
    serving, pairs = exported
    script = (
        "import json, os, sys\n"
        "import tensorflow as tf\n"
        "import tensorflow_text\n"
        "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "out = serve(sources=tf.constant(json.loads(sys.argv[2])))\n"
        "print(json.dumps({'translations': [t.decode() for t in out['translations'].numpy()],"
        " 'scores': out['scores'].numpy().tolist()}))\n")
    sources = [pairs[0][0], "She speaks  French\u00a0and German."]
    done = subprocess.run([sys.executable, "-c", script, serving, json.dumps(sources)],
                          capture_output=True, text=True, timeout=400, cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["translations"]) == 2 and all(out["translations"])
    assert all(-1e6 < s < 0 for s in out["scores"])
    # The same SavedModel in this process gives the same translations and scores.
    serve = tf.saved_model.load(serving).signatures["serving_default"]
    here = serve(sources=tf.constant(sources))
    assert [t.decode() for t in here["translations"].numpy()] == out["translations"]
    assert here["scores"].numpy().tolist() == pytest.approx(out["scores"], abs=1e-4)
    # Settings for the mobile hook sit beside the export.
    settings = json.loads(open(os.path.join(os.path.dirname(serving), "Format-Keras",
                                            "settings.json")).read())
    assert settings["units"] == 32 and settings["beam_width"] == 3


def test_bad_inputs_fail_with_a_message(exported):
    serving, _ = exported
    serve = tf.saved_model.load(serving).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="translation input must not be "
                                                             "empty"):
        serve(sources=tf.constant(["She speaks French.", "   "]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="translation input longer than 40 wordpieces"):
        serve(sources=tf.constant([" ".join(["French"] * 41)]))


def test_warmup_records_replay(exported):
    serving, _ = exported
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(serving, "assets.extra", "tf_serving_warmup_requests")
    records = list(tf.data.TFRecordDataset([path]))
    log = prediction_log_pb2.PredictionLog.FromString(records[0].numpy())
    request = log.predict_log.request
    assert request.model_spec.signature_name == "serving_default"
    sources = tf.make_ndarray(request.inputs["sources"])
    serve = tf.saved_model.load(serving).signatures["serving_default"]
    assert serve(sources=tf.constant(sources))["translations"].shape == [2]


def test_evaluation_hook_reports_bleu(exported, tmp_path):
    serving, pairs = exported
    split = tmp_path / "Split-eval"
    split.mkdir()
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for source, target in pairs[:20]:
            writer.write(translation_data.example_bytes(source, target))
    metrics = evaluation.evaluate(serving, str(tmp_path), "eval", {"metric": "bleu",
                                                                   "limit": 16})
    assert metrics["sentences"] == 16
    assert 0 <= metrics["bleu"] <= 100 and metrics["sentences_per_second"] > 0
    # The hook's BLEU is sacrebleu's corpus BLEU of the same translations.
    serve = tf.saved_model.load(serving).signatures["serving_default"]
    hypotheses, _ = evaluation.translate_all(serve, [s for s, _ in pairs[:16]])
    assert metrics["bleu"] == pytest.approx(
        evaluation.bleu(hypotheses, [t for _, t in pairs[:16]]))


# --- On the phone: the GNMT decoder as TFLite, through the mobile hook ------------------------

@pytest.fixture(scope="module")
def gated(exported, tmp_path_factory):
    """The mobile components' steps on the tiny export: Transform's vocabulary and 12 held-out
    sentences, the float32 variant (the e2e test builds dynamic range, and sees qat_int8 fall
    back to it)."""
    from components import mobile as components

    serving, pairs = exported
    model_uri = os.path.dirname(serving)
    root = tmp_path_factory.mktemp("mobile")
    assets = root / "transform" / "transform_fn" / "assets"
    assets.mkdir(parents=True)
    vocabulary = open(os.path.join(model_uri, "Format-Keras", wp.VOCABULARY_FILE),
                      encoding="utf-8").read()
    (assets / wp.VOCABULARY_FILE).write_text(vocabulary, encoding="utf-8")
    split = root / "examples" / "Split-eval"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for source, target in pairs[-12:]:
            writer.write(translation_data.example_bytes(source, target))
    config = {"module": "models.translation.mobile", "variants": ["float32"],
              "latency_runs": 5, "budgets": {"min_agreement": 0.9, "max_metric_drop": 1.0}}
    dirs = {name: str(root / name) for name in ("optimized", "tflite", "gate")}
    transform, examples = str(root / "transform"), str(root / "examples")
    components.optimize_variants(model_uri, transform, examples, config, dirs["optimized"])
    converted = components.convert_variants(dirs["optimized"], transform, examples, config,
                                            dirs["tflite"], model_uri=model_uri)
    results = components.gate_variants(dirs["tflite"], model_uri, transform, examples, config,
                                       dirs["gate"])
    return converted, results, dirs, [s for s, _ in pairs[-12:]]


def test_tflite_decoder_agrees_with_the_saved_model(exported, gated):
    """The .tflite (ids in, ids out; tokenisation outside it, as an app does) translates
    every held-out sentence exactly as the exported SavedModel, with the same GNMT score."""
    from models.translation import mobile

    serving, _ = exported
    _, _, dirs, sources = gated
    with open(os.path.join(dirs["tflite"], "float32", "model.tflite"), "rb") as f:
        runner = mobile.TFLiteTranslator(f.read(), mobile.read_model_vocabulary(
            os.path.dirname(serving)))
    pieces = wp.Wordpieces(runner.vocabulary)
    serve = tf.saved_model.load(serving).signatures["serving_default"]
    for source in sources:
        ids = pieces.tokenize(tf.constant([source])).numpy()[0].astype("int32")
        out = runner.decode(source_ids=ids[None])
        expected = serve(sources=tf.constant([source]))
        assert runner.translate(ids) == expected["translations"].numpy()[0].decode()
        assert out["score"][0] == pytest.approx(float(expected["scores"][0]), abs=1e-3)


def test_mobile_hook_gates_bleu_and_agreement(gated):
    converted, results, dirs, _ = gated
    assert [v["name"] for v in converted["variants"]] == ["float32"]
    assert converted["assets"] == ["tokenizer.json", "wordpieces.txt"]
    spec = json.loads(open(os.path.join(dirs["tflite"], "assets", "tokenizer.json")).read())
    assert spec["decoding"] == {"beam_width": 3, "alpha": 0.2, "beta": 0.2,
                                "max_output_tokens": 60}
    assert results["metric_name"] == "bleu" and results["eval_examples"] == 12
    float32 = results["variants"]["float32"]
    # float32 is the SavedModel's computation: every sentence the same, the same BLEU.
    assert float32["agreement"] == 1.0 and float32["blessed"] and float32["reasons"] == []
    assert float32["metric"] == pytest.approx(results["reference_metric"])
    assert float32["latency_runs"] == 5 and float32["latency_p50_ms"] > 0
    # Builtins only (LiteRT without the Flex delegate ran it).
    assert b"Flex" not in open(os.path.join(dirs["tflite"], "float32", "model.tflite"),
                               "rb").read()
    # A budget the model cannot meet refuses it, with the reason.
    from components.mobile import Budgets, judge

    assert judge({**float32, "agreement": 0.5}, results["reference_metric"],
                 Budgets(min_agreement=0.9)) == ["agreement 0.5000 < 0.9"]


def test_with_decoding_changes_only_how_the_same_weights_decode(exported):
    """The benchmark's greedy / wider .tflite decoders: the same weights, other settings."""
    from models.translation import mobile

    serving, pairs = exported
    model = mobile.load_model(os.path.dirname(serving))
    greedy = mobile.with_decoding(model, beam_width=1)
    assert mobile.decoding_settings(greedy) == {**mobile.decoding_settings(model),
                                                "beam_width": 1}
    assert mobile.decoding_settings(model)["beam_width"] == 3
    assert greedy.count_params() == model.count_params()
    ids = wp.Wordpieces(mobile.read_model_vocabulary(os.path.dirname(serving))).tokenize(
        tf.constant([pairs[0][0]])).numpy()[0].astype("int32")[None]
    expected, _, expected_score = mobile.translator(model).decode_ids(tf.constant(ids),
                                                                      beam_width=1)
    out = mobile.decode_function(greedy)(tf.constant(ids))
    assert out["ids"].numpy().tolist() == expected.numpy().tolist()
    assert out["score"].numpy() == pytest.approx(expected_score.numpy())
    with pytest.raises(ValueError, match="unknown decoding setting.*beam_size"):
        mobile.with_decoding(model, beam_size=2)


# --- On the server: bad requests are 4xx with a message, never a crash ------------------------

def test_model_server_answers_bad_translation_requests_with_4xx(exported, tmp_path):
    from tests.serving.helpers import copy_version, http, running_server

    serving, _ = exported
    copy_version(serving, str(tmp_path / "translation"), 1)
    url = "/v1/models/translation:predict"
    with running_server(model_name="translation",
                        model_base_path=str(tmp_path / "translation")) as server:
        status, body = http(server, "POST", url, {"instances": ["She speaks French."]})
        assert status == 200 and isinstance(body["predictions"][0]["translations"], str)
        bad = {
            "a number, not a string": {"instances": [3.5]},
            "a nested list": {"instances": [["She", "speaks"]]},
            "a wrong input name": {"inputs": {"text": ["She speaks French."]}},
            "no input": {"inputs": {}},
            "an empty sentence": {"instances": [""]},
        }
        for case, request in bad.items():
            status, body = http(server, "POST", url, request)
            assert 400 <= status < 500, (case, status, body)
            assert body["error"], case
            print(case, "→", status, body["error"])
        status, body = http(server, "POST", url, {"instances": [""]})
        assert "translation input must not be empty" in body["error"]
        # Still serving.
        assert http(server, "POST", url, {"instances": ["She speaks French."]})[0] == 200
