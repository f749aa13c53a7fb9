"""Mobile optimisation paths on a tiny MobileNet (α 0.25, 32 px, 3 classes, a few steps):
pruning, clustering, QAT and the collaborative schemes, TFLite conversion with metadata, LiteRT
measurement, the fidelity gate's budgets, the bundle, and the LSTM fallback message."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from components import mobile
from models import optimization, tflite
from models.image_classification.mobilenet_v1 import mobilenet_v1

CLASSES = 3


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class is the brightest colour channel: learnable in a few dozen steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    x = rng.uniform(-1, 0.2, (n, 32, 32, 3)).astype(np.float32)
    x[np.arange(n), :, :, y] += 0.8
    return x, y


@pytest.fixture(scope="module")
def data():
    x, y = _data(256, 0)
    return x, y, tf.data.Dataset.from_tensor_slices((x, y)).batch(32)


@pytest.fixture(scope="module")
def model(data):
    x, y, dataset = data
    keras.utils.set_random_seed(0)
    model = mobilenet_v1(resolution=32, alpha=0.25, classes=CLASSES)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(dataset.repeat(), steps_per_epoch=60, epochs=1, verbose=0)
    return model


def _kernels(model: keras.Model) -> list[np.ndarray]:
    """Conv / dense kernels (TFMO 0.8 clusters neither depthwise kernels nor biases)."""
    return [w.numpy() for w in model.weights if w.name.split("/")[-1].startswith("kernel")
            and len(w.shape) > 1 and w.shape.num_elements() > 64]


def test_pruning_reaches_target_sparsity_and_is_stripped(model, data):
    pruned = optimization.prune(model, data[2], optimization.FineTune(steps=8, sparsity=0.5))
    assert not any("prune" in layer.name for layer in pruned.layers)
    assert optimization.kernel_sparsity(pruned) == pytest.approx(0.5, abs=0.03)
    assert optimization.kernel_sparsity(model) < 0.01  # the trained model is left untouched


def test_clustering_leaves_at_most_k_values_per_kernel(model, data):
    clustered = optimization.cluster(model, data[2], optimization.FineTune(steps=4, clusters=8))
    kernels = _kernels(clustered)
    assert len(kernels) >= 10
    assert max(len(np.unique(k)) for k in kernels) <= 8


def test_qat_converts_to_int8_with_uint8_io(model, data):
    qat = optimization.quantization_aware(model, data[2], optimization.FineTune(steps=2))
    assert any("quant" in layer.name for layer in qat.layers)
    converted = tflite.convert(qat, "qat", io_type="uint8")
    types = tflite.tensor_types(converted)
    assert types.get("int8", 0) > 20 and types.get("float32", 0) <= 2
    x, y, _ = data
    probabilities = tflite.predict(converted, x[:64])
    assert probabilities.shape == (64, CLASSES)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=0.05)


def _small_cnn() -> keras.Model:
    """Conv → depthwise → pointwise → dense: the layer kinds of MobileNet, traced in seconds
    (QAT graphs of the full MobileNet take minutes to trace on 2 busy cores)."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, name="conv")(inputs)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, name="dw")(x)
    x = keras.layers.Conv2D(32, 1, name="pw")(keras.layers.ReLU(6.0)(x))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU(6.0)(x))
    return keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax", name="fc")(x))


def test_collaborative_schemes_preserve_sparsity_and_clusters():
    x, y = _data(64, 1)
    dataset = tf.data.Dataset.from_tensor_slices((x[:, :16, :16], y)).batch(32)
    config = optimization.FineTune(steps=6, sparsity=0.5, clusters=8)
    pqat = optimization.pruning_preserving_qat(_small_cnn(), dataset, config)
    assert any(layer.name.startswith("quant_") for layer in pqat.layers)
    # TFMO 0.8 preserves sparsity and clusters in the Dense layer; Conv2D + ReLU patterns are
    # re-quantized by the 8-bit layout transforms without the preserving quantizers, so their
    # kernels drift during the QAT fine-tune (measured here: 50 % → 4-13 % zeros).
    fc = next(w.numpy() for w in pqat.weights if w.name == "fc/kernel:0")
    assert np.mean(fc == 0) == pytest.approx(0.5, abs=0.02)
    cqat = optimization.cluster_preserving_qat(_small_cnn(), dataset, config)
    weights = {w.name: w.numpy() for w in cqat.weights}
    assert weights["quant_fc/cluster_centroids_tf:0"].shape == (8,)
    assert len(np.unique(weights["fc/kernel:0"])) <= 8
    assert len(np.unique(weights["quant_fc/pulling_indices_tf:0"])) <= 8


def test_int8_ptq_metadata_measurement_and_gate(model, data, tmp_path):
    x, y, _ = data
    labels = tmp_path / "labels.txt"
    labels.write_text("red\ngreen\nblue\n")

    def representative():
        for row in x[:50]:
            yield [row[None]]

    int8 = tflite.add_image_classifier_metadata(
        tflite.convert(model, "int8", representative), str(labels))
    meta, files = tflite.read_metadata(int8)
    assert files == ["labels.txt"]
    units = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"][0]
    assert units["options"] == {"mean": [127.5], "std": [127.5]}
    output = meta["subgraph_metadata"][0]["output_tensor_metadata"][0]
    assert output["associated_files"][0]["name"] == "labels.txt"
    assert tflite.tensor_types(int8).get("int8", 0) > 20
    float32 = tflite.convert(model, "float32")
    assert len(float32) / len(int8) > 2.5

    def accuracy(p, t):
        return float(np.mean(np.argmax(p, -1) == t))

    reference = accuracy(model.predict(x, verbose=0), y)
    result = mobile.measure_variant(int8, x, y, accuracy, runs=50)
    assert result["latency_runs"] == 50 and 0 < result["latency_p50_ms"] <= result["latency_p90_ms"]
    assert result["gzip_bytes"] < result["size_bytes"]
    assert abs(result["metric"] - reference) < 0.05
    assert mobile.judge(result, reference, mobile.Budgets(max_metric_drop=0.05)) == []
    reasons = mobile.judge(result, reference, mobile.Budgets(
        max_metric_drop=0.05, max_size_mb=0.01, max_latency_ms=1e-6))
    assert len(reasons) == 2
    assert reasons[0].startswith("size ") and "> 0.01 MB" in reasons[0]
    assert reasons[1].startswith("latency p50 ")

    # Agreement with the float model: the share of rows with the same top-1 class.
    def same_top1(outputs, reference_outputs):
        return float(np.mean(np.argmax(outputs, -1) == np.argmax(reference_outputs, -1)))

    float_outputs = model.predict(x, verbose=0)
    agreeing = mobile.measure_variant(int8, x, y, accuracy, runs=5, agreement_fn=same_top1,
                                      reference_outputs=float_outputs)
    assert agreeing["agreement"] == same_top1(tflite.predict(int8, x), float_outputs) > 0.9
    assert mobile.judge(agreeing, reference, mobile.Budgets(min_agreement=0.9)) == []
    assert mobile.judge(dict(agreeing, agreement=0.9), reference,
                        mobile.Budgets(min_agreement=0.95)) == ["agreement 0.9000 < 0.95"]
    assert mobile.judge(result, reference, mobile.Budgets(min_agreement=0.95)) == [
        "min_agreement set but the family's hook defines no agreement"]
    table = mobile.render_markdown({"metric_name": "accuracy", "reference_metric": reference,
                                    "variants": {"int8": dict(agreeing, blessed=True,
                                                              reasons=[])}})
    assert "| agreement |" in table and f"| {agreeing['agreement']:.4f} |" in table

    # The bundle takes blessed variants only, each with its labels and a JSON of its figures.
    tflite_dir = tmp_path / "tflite"
    for name, data_ in (("float32", float32), ("int8", int8)):
        (tflite_dir / name).mkdir(parents=True)
        (tflite_dir / name / "model.tflite").write_bytes(data_)
    (tflite_dir / mobile.ASSETS).mkdir()
    (tflite_dir / mobile.ASSETS / "labels.txt").write_text(labels.read_text())
    (tflite_dir / mobile.MANIFEST).write_text(json.dumps({"assets": ["labels.txt"], "variants": [
        {"name": n, "technique": "none", "conversion": n, "tflite": f"{n}/model.tflite"}
        for n in ("float32", "int8")]}))
    refused = dict(result, blessed=False, reasons=reasons)
    results = {"metric_name": "accuracy", "reference_metric": reference,
               "variants": {"int8": refused, "float32": dict(result, blessed=True, reasons=[])}}
    bundle = tmp_path / "bundle"
    assert mobile.build_bundle(str(tflite_dir), results, str(bundle)) == ["float32"]
    assert sorted(os.listdir(bundle)) == ["bundle.json", "float32"]
    assert sorted(os.listdir(bundle / "float32")) == ["labels.txt", "model.json", "model.tflite"]
    info = json.loads((bundle / "float32" / "model.json").read_text())
    assert info["variant"] == "float32" and info["latency_p50_ms"] == result["latency_p50_ms"]
    assert json.loads((bundle / "bundle.json").read_text())["recommended"] == "float32"


def test_qat_on_an_lstm_model_falls_back_with_one_clear_line():
    inputs = keras.Input((5, 4))
    outputs = keras.layers.Dense(2)(keras.layers.LSTM(8, name="encoder_lstm")(inputs))
    lstm = keras.Model(inputs, outputs)
    planned, messages = optimization.plan(lstm, ["qat_int8", "pruned_int8", "float16"])
    assert [p.name for p in planned] == ["dynamic", "pruned_int8", "float16"]
    (message,) = messages
    assert "\n" not in message
    assert message == ("qat_int8: QAT does not apply to LSTM/GRU models (TFMO has no 8-bit "
                       "scheme for layer 'encoder_lstm'); using dynamic-range quantization")
    with pytest.raises(ValueError, match="unknown variant"):
        optimization.plan(lstm, ["int4"])


def test_a_conversion_the_family_does_not_offer_falls_back_with_one_line(model):
    conversions = ("float32", "float16", "dynamic")
    planned, messages = optimization.plan(model, ["int8", "float16", "dynamic", "pruned_int8"],
                                          conversions)
    assert [(p.name, p.technique, p.conversion) for p in planned] == [
        ("dynamic", "none", "dynamic"), ("float16", "none", "float16")]
    assert messages == [
        "int8: this model converts to float32, float16, dynamic only, not int8; using "
        "dynamic-range quantization",
        "pruned_int8: this model converts to float32, float16, dynamic only, not int8; using "
        "dynamic-range quantization"]


def test_the_cnn_plan_keeps_every_variant(model):
    planned, messages = optimization.plan(model, list(optimization.VARIANTS))
    assert messages == [] and [p.name for p in planned] == list(optimization.VARIANTS)
