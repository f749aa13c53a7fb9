"""The Smart Reply pipeline end to end on a small conversation file with a tiny budget:
Transform's vocabulary, the Trainer's response set, the shared FamilyEvaluator with the
family's recall@3 / MRR / trigger metrics and baselines, infra validation, the push, and
`shipyard reply` on the pushed model; the on-device model converted, gated on LiteRT (top-3
agreement with the SavedModel) and pushed as a mobile bundle with its response set."""
import json
import os
import subprocess
import sys

import pytest

from pipelines.cli import main
from pipelines.metadata import list_runs
from pipelines.smart_reply import data as reply_data

pytestmark = pytest.mark.e2e
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--units", "16", "--embedding-dim", "16", "--max-responses", "100",
        "--max-reply-tokens", "8", "--context-tokens", "12", "--beam-width", "16",
        "--train-steps", "30", "--eval-steps", "2", "--min-sensible", "0.0",
        # A 30-step model need not beat the baselines: the blessing rule is tested on its own.
        "--min-lift", "-1", "--min-trigger-recall", "0", "--min-silence", "0",
        # One TFLite variant keeps the test cheap; the others are covered by
        # test_smart_reply_mobile.py.
        "--variants", "float32"]


def _user_pairs():
    """Every 9th bundled pair as a user's file has it (context and reply only)."""
    return [{"context": p["context"], "reply": p["reply"]}
            for p in reply_data.bundled_pairs()[::9]]


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("shipyard")
    data = out / "conversations.jsonl"
    data.write_text("\n".join(json.dumps(p) for p in _user_pairs()), encoding="utf-8")
    assert main(["run", "smart-reply", "--data-file", str(data), *TINY,
                 "--output-dir", str(out)]) == 0
    return out


def test_pushes_a_blessed_model_with_its_response_set(output_dir):
    base = output_dir / "serving" / "smart_reply"
    (version,) = os.listdir(base)
    model = base / version
    assert (model / "assets" / "response_set.json").is_file()
    assert (model / "assets.extra" / "tf_serving_warmup_requests").is_file()
    (run,) = list_runs(str(output_dir / "metadata.sqlite"), "smart-reply")
    assert run.status == "COMPLETE" and run.blessed is True and run.infra_blessed is True
    reports = output_dir / "pipelines" / "smart-reply" / "reports"
    report = json.loads((reports / os.listdir(reports)[0]).read_text())
    metrics = report["metrics"]
    for key in ("sensible_at_3", "eval_trigger_recall", "silent_rate", "recall_at_3", "mrr",
                "trigger_precision", "trigger_recall", "diversity_rate",
                "baseline/frequency/sensible_at_3", "baseline/bag_of_words/sensible_at_3"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["diversity_rate"] == 1.0
    held_out = sum(reply_data.is_eval(p) for p in _user_pairs())
    assert metrics["examples"] == held_out == 214


def test_reply_command_uses_the_latest_pushed_model(output_dir):
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "reply", "Hi, how are you?",
                          "--output-dir", str(output_dir), "--json"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert len(result["replies"]) == 3
    assert len(set(result["cluster_ids"])) == 3


def test_pushes_the_mobile_bundle_with_its_response_set(output_dir):
    base = output_dir / "mobile" / "smart_reply"
    (version,) = os.listdir(base)
    (run,) = list_runs(str(output_dir / "metadata.sqlite"), "smart-reply")
    assert run.mobile_pushed_to == str(base / version)
    gate = run.mobile_results
    float32 = gate["variants"]["float32"]
    assert float32["blessed"] and float32["agreement"] >= 0.95
    assert gate["budgets"]["min_agreement"] == 0.95
    assert float32["metric"] == pytest.approx(gate["reference_metric"], abs=0.02)
    bundle = base / version / "float32"
    assert sorted(os.listdir(bundle)) == ["model.json", "model.tflite", "response_set.json",
                                          "smart_reply.json", "vocabulary.txt"]
    served = base.parent.parent / "serving" / "smart_reply"
    (served_version,) = os.listdir(served)
    assert json.loads((bundle / "response_set.json").read_text()) == json.loads(
        (served / served_version / "assets" / "response_set.json").read_text())
    info = json.loads((bundle / "model.json").read_text())
    assert info["agreement_with_saved_model"] == float32["agreement"]
