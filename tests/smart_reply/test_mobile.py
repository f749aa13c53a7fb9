"""Smart Reply on the phone: the on-device model through the shared mobile components
(Optimizer → TFLiteConverter → FidelityGate → bundle) on a tiny trained model; its TFLite
top-3 replies agree with the SavedModel's; the gate refuses a variant below min_agreement."""
import json
import os

import numpy as np
import pytest

from components import mobile as components
from models.smart_reply import device, sensitive, text, trainer
from models.smart_reply import mobile as hook
from models.smart_reply.response_set import ResponseSet


@pytest.fixture(scope="module")
def trained(smart_reply_model):
    """The shared tiny model (tests/smart_reply/conftest.py) and its ExampleGen-like splits."""
    m = smart_reply_model
    return m.model_uri, m.examples, m.root, m.held_out


@pytest.fixture(scope="module")
def gated(trained):
    model_uri, examples, root, _ = trained
    config = {"module": "models.smart_reply.mobile", "variants": ["float32", "qat_int8"],
              "latency_runs": 20, "budgets": {"max_metric_drop": 0.02, "min_agreement": 0.95}}
    optimized = components.optimize_variants(model_uri, None, examples, config,
                                             str(root / "optimized"))
    components.convert_variants(str(root / "optimized"), None, examples, config,
                                str(root / "tflite"), model_uri=model_uri)
    results = components.gate_variants(str(root / "tflite"), model_uri, None, examples, config,
                                       str(root / "gate"))
    return optimized, results


def test_tflite_top3_agrees_with_the_saved_model(gated):
    optimized, results = gated
    # QAT has no 8-bit LSTM: the shared plan falls back to dynamic range, in one line.
    assert [v["name"] for v in optimized["variants"]] == ["float32", "dynamic"]
    assert optimized["messages"] == [
        "qat_int8: QAT does not apply to LSTM/GRU models (TFMO has no 8-bit scheme for layer "
        "'context_encoder'); using dynamic-range quantization"]
    assert results["eval_examples"] == 80
    # The float model converts exactly. Dynamic range rounds the LSTM and bag-of-words weights
    # to 8 bits, which reorders this barely trained model's near-tied replies on some
    # messages: the gate blesses it exactly when its agreement and metric keep the budgets.
    float32 = results["variants"]["float32"]
    assert float32["agreement"] == 1.0 and float32["blessed"]
    assert float32["metric"] == results["reference_metric"]
    for name, result in results["variants"].items():
        drop = results["reference_metric"] - result["metric"]
        assert result["blessed"] == (result["agreement"] >= 0.95 and drop <= 0.02), name
        assert result["blessed"] == (not result["reasons"]), name
    # Not half: the trie of the 112 responses is int32 weights, which no variant quantizes,
    # and in this tiny model they are a large share of the file (the default model: 0.37 of
    # 0.97 MB).
    assert results["variants"]["dynamic"]["size_bytes"] < \
        results["variants"]["float32"]["size_bytes"] * 2 / 3


def test_hook_runs_what_the_phone_runs(trained, gated):
    model_uri, examples, root, held_out = trained
    x, true_clusters = hook.load_split(None, examples, "eval", model_uri=model_uri)
    response_set = ResponseSet.load(os.path.join(model_uri, trainer.RESPONSE_SET_DIR,
                                                 "response_set.json"))
    _, expected = response_set.labels(text.tokens([p["reply"] for p in held_out]))
    np.testing.assert_array_equal(true_clusters, expected)
    assert x.messages == [p["context"] for p in held_out] and x.context_ids.shape == (80, 12)
    with open(root / "tflite" / "float32" / "model.tflite", "rb") as f:
        model_bytes = f.read()
    phone = hook.tflite_predict(model_bytes, x)
    served = hook.reference_predict(hook.load_model(model_uri), x)
    assert phone["replies"].shape == (80, 3)
    same = [list(a) == list(b) for a, b in zip(phone["replies"], served["replies"],
                                               strict=True)]
    assert hook.agreement(phone, served) == pytest.approx(np.mean(same))
    for row in phone["cluster_ids"]:
        assert len(set(row.tolist())) == 3  # the diversity rule runs on the phone too
    np.testing.assert_allclose(phone["trigger_score"], served["trigger_score"], atol=1e-5)
    assert hook.metric(phone, true_clusters) == gated[1]["variants"]["float32"]["metric"]
    # Reply ids index the bundled response set, then its fallback replies.
    assert hook.texts_of(np.array([[0, len(response_set.texts), -1]]), response_set).tolist() \
        == [[response_set.texts[0], response_set.fallback[0], ""]]


def test_phone_and_server_give_nothing_on_a_crisis(trained, gated):
    model_uri, _, root, _ = trained
    messages = ["I want to hurt myself", "Thanks for the help!", "He hit me again last night",
                "Hit me up later"]
    x = hook.host_messages(model_uri, messages)
    assert x.silent.tolist() == [True, False, True, False]
    with open(root / "tflite" / "float32" / "model.tflite", "rb") as f:
        phone = hook.tflite_predict(f.read(), x)
    served = hook.reference_predict(hook.load_model(model_uri), x)
    for outputs in (phone, served):
        assert outputs["trigger_score"][[0, 2]].tolist() == [0.0, 0.0]
        assert not outputs["triggered"][[0, 2]].any()
        assert outputs["trigger_score"][1] > 0.0 and outputs["trigger_score"][3] > 0.0
    np.testing.assert_allclose(phone["trigger_score"], served["trigger_score"], atol=1e-5)


def test_bundle_ships_the_model_and_what_the_host_needs(trained, gated, tmp_path):
    model_uri, _, root, _ = trained
    pushed = components.build_bundle(str(root / "tflite"), gated[1], str(tmp_path))
    assert pushed == [name for name in ("float32", "dynamic")
                      if gated[1]["variants"][name]["blessed"]]
    files = sorted(os.listdir(tmp_path / "float32"))
    assert files == ["model.json", "model.tflite", "response_set.json", "smart_reply.json",
                     "vocabulary.txt"]
    settings = json.loads((tmp_path / "float32" / "smart_reply.json").read_text())
    assert settings["context_tokens"] == 12 and settings["first_word_id"] == text.RESERVED
    assert settings["tokenizer"]["split_off"] == text.PUNCTUATION
    assert settings["silent_on"]["pattern"] == sensitive.PATTERN
    vocabulary = (tmp_path / "float32" / "vocabulary.txt").read_text().splitlines()
    with open(os.path.join(model_uri, trainer.MOBILE_DIR, device.VOCABULARY_FILE)) as f:
        assert vocabulary == f.read().splitlines()
    bundled = ResponseSet.load(str(tmp_path / "float32" / "response_set.json"))
    assert len(bundled.texts) == 113 and bundled.fallback[:3] == ["Ok", "Thanks!", "Sounds good"]


def test_gate_refuses_a_variant_below_min_agreement():
    """Fake outputs: 9 of 10 messages with the SavedModel's replies → agreement 0.9."""
    replies = np.array([["Hi", "Ok", "No"]] * 10, object)
    clusters = np.tile(np.array([[0, 1, 2]]), [10, 1])
    reference = {"replies": replies, "cluster_ids": clusters,
                 "ranked_cluster_ids": np.tile(np.arange(5), [10, 1])}
    phone = dict(reference, replies=replies.copy())
    phone["replies"][4] = ["Hi", "No", "Ok"]  # the same replies in another order disagree
    assert hook.agreement(phone, reference) == pytest.approx(0.9)
    true = np.zeros(10, np.int64)
    result = {"metric": hook.metric(phone, true), "size_bytes": 1000,
              "latency_p50_ms": 1.0, "agreement": hook.agreement(phone, reference)}
    assert result["metric"] == 1.0
    budgets = components.Budgets(max_metric_drop=0.02, min_agreement=0.95)
    assert components.judge(result, 1.0, budgets) == ["agreement 0.9000 < 0.95"]
    assert components.judge(dict(result, agreement=0.95), 1.0, budgets) == []
