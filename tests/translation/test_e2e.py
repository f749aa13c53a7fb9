"""The translation pipeline end to end on a small parallel file with a tiny budget: Transform
learns the wordpieces (an artifact), the Trainer exports a translator of raw strings, the
shared evaluator scores BLEU on the held-out split, the server infra-validates it and it is
pushed; the GNMT decoder becomes a dynamic-range .tflite (qat_int8, int8 fall back to it),
gated on LiteRT and pushed in a mobile bundle with its wordpieces; `shipyard translate` uses
the served model, with one-line errors."""
from __future__ import annotations

import json
import os

import pytest

from pipelines.cli import main
from pipelines.metadata import list_runs
from pipelines.translation import data as translation_data

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("shipyard")
    train, _ = translation_data.build_corpus("en", "fr", train_pairs=1500, eval_pairs=10)
    pairs = [p for p in train if p[0].startswith(("She speaks ", "This is the "))][:400]
    data = out / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    args = ["run", "translation", "--data", str(data), "--train-steps", "40",
            "--eval-steps", "2", "--batch-size", "32", "--units", "16", "--encoder-layers", "2",
            "--decoder-layers", "2", "--vocab-size", "400", "--beam-width", "2",
            "--eval-limit", "16", "--min-bleu", "0", "--max-input-tokens", "40",
            # A 40-step model's translations are fragile: gate on nothing but a working model.
            "--variants", "dynamic", "qat_int8", "int8", "--mobile-eval-limit", "8",
            "--max-metric-drop", "100", "--min-agreement", "0",
            # Nor on beating the copy / dictionary baselines (tested on their own).
            "--min-lift", "-100",
            "--output-dir", str(out)]
    assert main(args) == 0
    return out


def test_pushes_a_blessed_translator_with_its_bleu(output_dir):
    base = output_dir / "serving" / "translation"
    (version,) = os.listdir(base)
    assert (base / version / "saved_model.pb").is_file()
    (run,) = list_runs(str(output_dir / "metadata.sqlite"), "translation")
    assert run.status == "COMPLETE" and run.blessed is True and run.infra_blessed is True
    reports = output_dir / "pipelines" / "translation" / "reports"
    report = json.loads((reports / os.listdir(reports)[0]).read_text())
    assert 0 <= report["metrics"]["bleu"] <= 100
    # The vocabulary is Transform's artifact.
    transform = output_dir / "pipelines" / "translation" / "Transform"
    found = [f for root, _, files in os.walk(transform) for f in files
             if f == "wordpieces.txt"]
    assert found


def test_translate_command(output_dir, capsys):
    model = str(output_dir / "serving" / "translation")
    assert main(["translate", "She speaks French and German.", "--model", model,
                 "--scores"]) == 0
    (line,) = capsys.readouterr().out.rstrip("\n").split("\n")
    translation, score = line.split("\t")  # 40 steps of training: possibly empty
    assert float(score) < 0
    assert main(["translate", "  ", "--model", model]) == 2
    assert capsys.readouterr().err == "error: sentence 1 is empty: nothing to translate\n"
    assert main(["translate", " ".join(["French"] * 41), "--model", model]) == 2
    assert capsys.readouterr().err == ("error: translation input longer than 40 "
                                       "wordpieces\n")


def test_pushes_a_mobile_bundle_with_the_vocabulary(output_dir):
    base = output_dir / "mobile" / "translation"
    (version,) = os.listdir(base)
    bundle = base / version
    assert json.loads((bundle / "bundle.json").read_text()) == {"variants": ["dynamic"],
                                                                "recommended": "dynamic"}
    model = (bundle / "dynamic" / "model.tflite").read_bytes()
    assert model[4:8] == b"TFL3"
    info = json.loads((bundle / "dynamic" / "model.json").read_text())
    assert info["metric_name"] == "bleu" and 0 <= info["agreement_with_saved_model"] <= 1
    # The vocabulary the model was trained with, and the tokenizer spec around the .tflite.
    transform = output_dir / "pipelines" / "translation" / "Transform"
    (learned,) = [os.path.join(root, f) for root, _, files in os.walk(transform)
                  for f in files if f == "wordpieces.txt"][:1]
    shipped = (bundle / "dynamic" / "wordpieces.txt").read_text(encoding="utf-8")
    assert shipped.split() == open(learned, encoding="utf-8").read().split()
    spec = json.loads((bundle / "dynamic" / "tokenizer.json").read_text(encoding="utf-8"))
    assert spec["ids"] == {"pad": 0, "unknown": 1, "start": 2, "end": 3}
    assert spec["input"]["max_tokens"] == 40
    # The qat_int8 and int8 requests fell back to dynamic range with one line each.
    gate = output_dir / "pipelines" / "translation" / "FidelityGate"
    (results,) = [os.path.join(root, f) for root, _, files in os.walk(gate)
                  for f in files if f == "results.json"]
    qat, int8 = json.loads(open(results).read())["messages"]
    assert qat.startswith("qat_int8: QAT does not apply to LSTM/GRU models")
    assert int8 == ("int8: this model converts to float32, float16, dynamic only, not int8; "
                    "using dynamic-range quantization")
