"""The exported translator: raw strings in a fresh process, scores, errors, warm-up, BLEU hook."""
from __future__ import annotations

import json
import os
import subprocess
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import pytest
import tensorflow as tf

from models.translation import evaluation, trainer
from models.translation import wordpieces as wp
from pipelines import translation_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
        "os.environ['TF_USE_LEGACY_KERAS'] = '1'\n"
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
