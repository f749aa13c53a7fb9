"""The image-classification pipeline end to end on the bundled digits, with a tiny step budget:
a blessed MobileNet is pushed atomically, loads in a fresh process and classifies raw PNG bytes;
a re-run reuses every cached step; `shipyard runs` reads both runs back from ML Metadata."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from pipelines.cli import main
from pipelines.metadata import list_runs

pytestmark = pytest.mark.e2e
# The cheap TFLite variants here; QAT / pruning / clustering are covered by test_mobile.py.
# A 400-step model need not beat the logistic-regression baseline (--min-lift -1): the
# blessing rule has its own test below, with a crippled model.
ARGS = ["run", "image-classification", "--train-steps", "400", "--min-accuracy", "0.5",
        "--min-lift", "-1",
        "--variants", "float32", "dynamic", "int8", "--max-metric-drop", "0.1"]


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("shipyard")
    assert main([*ARGS, "--output-dir", str(out)]) == 0
    return out


def _versions(output_dir):
    base = output_dir / "serving" / "image_classification"
    return sorted(os.listdir(base))


def test_pushes_one_complete_numeric_version(output_dir):
    (version,) = _versions(output_dir)  # no staging directory left behind
    assert version.isdigit()
    model = output_dir / "serving" / "image_classification" / version
    assert (model / "saved_model.pb").is_file()
    assert (model / "assets.extra" / "tf_serving_warmup_requests").is_file()
    # Augmentation (on by default) runs in tf.data on the training split; the export has none.
    assert b"ImageProjectiveTransform" not in (model / "saved_model.pb").read_bytes()
    (run,) = list_runs(str(output_dir / "metadata.sqlite"), "image-classification")
    assert run.status == "COMPLETE" and run.blessed is True
    assert run.infra_blessed is True and "answered its warm-up requests" in run.infra_reason
    assert run.pushed_to == str(model)
    report_files = os.listdir(output_dir / "pipelines" / "image-classification" / "reports")
    report = json.loads((output_dir / "pipelines" / "image-classification" / "reports" /
                         report_files[0]).read_text())
    assert report["metrics"]["sparse_categorical_accuracy"] >= 0.5
    assert report["metrics"]["example_count"] > 300
    assert {f"label={d}" for d in range(10)} <= set(report["per_slice"])


def test_gates_tflite_variants_and_pushes_a_mobile_bundle(output_dir):
    base = output_dir / "mobile" / "image_classification"
    (version,) = os.listdir(base)
    (run,) = list_runs(str(output_dir / "metadata.sqlite"), "image-classification")
    assert run.mobile_pushed_to == str(base / version)
    gate = run.mobile_results
    assert set(gate["variants"]) == {"float32", "dynamic", "int8"}
    assert gate["eval_examples"] > 300
    float32 = gate["variants"]["float32"]
    assert float32["metric"] == pytest.approx(gate["reference_metric"], abs=0.01)
    assert float32["latency_runs"] >= 50
    assert gate["variants"]["int8"]["size_bytes"] < float32["size_bytes"] / 2.5
    blessed = sorted(n for n, r in gate["variants"].items() if r["blessed"])
    bundle = json.loads((base / version / "bundle.json").read_text())
    assert sorted(bundle["variants"]) == blessed and "float32" in blessed
    for name in blessed:
        files = sorted(os.listdir(base / version / name))
        assert files == ["labels.txt", "model.json", "model.tflite"]
        labels = (base / version / name / "labels.txt").read_text().split()
        assert sorted(labels) == [str(d) for d in range(10)]
        info = json.loads((base / version / name / "model.json").read_text())
        assert info["variant"] == name and info["size_bytes"] == \
            (base / version / name / "model.tflite").stat().st_size
    report_dir = output_dir / "pipelines" / "image-classification" / "reports"
    report = json.loads((report_dir / os.listdir(report_dir)[0]).read_text())
    assert report["mobile_pushed_to"] == str(base / version)


FRESH_PROCESS = textwrap.dedent("""
    import os, sys, io, json
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np, tensorflow as tf
    from PIL import Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    pngs, labels = [], []
    for image, target in list(zip(digits.images, digits.target))[::9]:
        buf = io.BytesIO()
        Image.fromarray(np.round(image * 255 / 16).astype(np.uint8), "L").save(buf, "PNG")
        pngs.append(buf.getvalue()); labels.append(str(target))
    model = tf.saved_model.load(sys.argv[1])
    out = model.signatures["serving_default"](image_bytes=tf.constant(pngs))
    top = [l.decode() for l in out["top_k_labels"].numpy()[:, 0]]
    example = tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[pngs[0]]))}))
    cls = model.signatures["classify"](inputs=tf.constant([example.SerializeToString()]))
    print(json.dumps({
        "accuracy": float(np.mean([t == l for t, l in zip(top, labels)])),
        "prob_shape": list(out["probabilities"].shape),
        "prob_sum": float(out["probabilities"].numpy().sum(axis=1).mean()),
        "top_k": list(out["top_k_ids"].shape),
        "classes": [c.decode() for c in cls["classes"].numpy()[0]],
        "serving_classes": [c.decode() for c in out["classes"].numpy()[0]],
        "scores_shape": list(cls["scores"].shape),
    }))
""")


def test_saved_model_classifies_png_bytes_in_a_fresh_process(output_dir):
    model = output_dir / "serving" / "image_classification" / _versions(output_dir)[0]
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(model)],
                            capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    n = len(range(0, 1797, 9))
    assert out["prob_shape"] == [n, 10] and out["top_k"] == [n, 3]
    assert out["prob_sum"] == pytest.approx(1.0, abs=1e-4)
    assert out["accuracy"] > 0.5
    # probabilities[:, i] is the i-th label in sorted order, in both signatures
    assert out["classes"] == out["serving_classes"] == [str(d) for d in range(10)]
    assert out["scores_shape"] == [1, 10]


# `shipyard runs` reads ML Metadata alone: importing TensorFlow took half a minute.
RUNS_WITHOUT_TENSORFLOW = textwrap.dedent("""
    import sys
    from pipelines.cli import main
    code = main(["runs", "--output-dir", sys.argv[1]])
    heavy = ("tensorflow", "tfx", "tensorflow_model_analysis", "apache_beam", "tf_keras")
    print("imported:", sorted(set(heavy) & set(sys.modules)))
    sys.exit(code)
""")


def test_runs_shows_the_metric_without_importing_tensorflow(output_dir):
    result = subprocess.run([sys.executable, "-c", RUNS_WITHOUT_TENSORFLOW, str(output_dir)],
                            capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "imported: []"
    report_dir = output_dir / "pipelines" / "image-classification" / "reports"
    report = json.loads((report_dir / os.listdir(report_dir)[0]).read_text())
    accuracy = report["metrics"]["sparse_categorical_accuracy"]
    baseline = report["metrics"]["baseline/logistic_regression/sparse_categorical_accuracy"]
    (row,) = [line for line in result.stdout.splitlines() if report["run_id"] in line]
    assert (f"| sparse_categorical_accuracy {accuracy:.4f} | logistic-regression "
            f"{baseline:.4f} | yes | {_versions(output_dir)[0]} |") in row


def test_rerun_reuses_cached_steps_and_runs_are_listed(output_dir, capsys):
    assert main([*ARGS, "--output-dir", str(output_dir)]) == 0
    first, second = list_runs(str(output_dir / "metadata.sqlite"), "image-classification")
    assert second.components["Trainer"] == "CACHED"
    assert second.components["Transform"] == "CACHED"
    assert len(_versions(output_dir)) == 1  # the cached Pusher pushed nothing new
    assert len(os.listdir(output_dir / "mobile" / "image_classification")) == 1
    capsys.readouterr()
    assert main(["runs", "--output-dir", str(output_dir)]) == 0
    out = capsys.readouterr().out
    assert first.run_id in out and second.run_id in out
    assert out.count("| image-classification |") == 2
    assert "| COMPLETE |" in out


CURATED_SCHEMA = """
feature { name: "image" type: BYTES presence { min_fraction: 1.0 min_count: 1 }
          shape { dim { size: 1 } } }
feature { name: "label" type: BYTES domain: "label"
          presence { min_fraction: 1.0 min_count: 1 } shape { dim { size: 1 } } }
string_domain { name: "label" value: "0" value: "1" value: "2" value: "3" value: "4"
                value: "5" value: "6" value: "7" value: "8" }
"""


def test_anomalies_stop_the_run_before_training(output_dir, tmp_path, capsys):
    schema = tmp_path / "schema.pbtxt"
    schema.write_text(CURATED_SCHEMA)  # a curated schema that has never seen the digit 9
    versions = _versions(output_dir)
    capsys.readouterr()
    code = main([*ARGS, "--output-dir", str(output_dir), "--schema", str(schema)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: data validation failed: eval split: feature 'label': ")
    assert "values missing from the schema: 9" in err
    last = list_runs(str(output_dir / "metadata.sqlite"), "image-classification")[-1]
    assert last.status == "FAILED" and last.components["DataGate"] == "FAILED"
    assert "Trainer" not in last.components and "Transform" not in last.components
    assert _versions(output_dir) == versions


def test_a_model_that_loses_to_its_baseline_is_not_blessed(output_dir, capsys):
    """A crippled model (one training step) against the logistic regression at the default
    lift: not blessed, one line saying why, nothing pushed."""
    versions = _versions(output_dir)
    capsys.readouterr()
    code = main(["run", "image-classification", "--train-steps", "1", "--min-accuracy", "0",
                 "--variants", "none", "--output-dir", str(output_dir)])
    out = capsys.readouterr().out
    assert code == 0
    run = list_runs(str(output_dir / "metadata.sqlite"), "image-classification")[-1]
    assert run.blessed is False and run.pushed_to is None
    assert "does not beat the logistic-regression baseline's" in run.blessing_message
    (line,) = [x for x in out.splitlines() if x.startswith("blessed: NO: ")]
    assert "sparse_categorical_accuracy" in line and "by 0.005" in line
    assert _versions(output_dir) == versions
