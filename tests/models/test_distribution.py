"""Distributed training: MirroredStrategy over two logical CPU devices gives the result of
single-device training on the same data (the strategy sums the replicas' gradients of their
halves of each global batch)."""
import json
import math
import subprocess
import sys
import textwrap

import pytest

from models.training import distribution_strategy

# A fresh process: logical devices must be configured before TensorFlow starts its runtime.
SCRIPT = textwrap.dedent("""
    import json, os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from models.training import distribution_strategy, use_logical_cpu_devices
    use_logical_cpu_devices(2)
    import numpy as np, tensorflow as tf, tf_keras as keras
    from models.image_classification.trainer import build_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat()

    def model():
        keras.utils.set_random_seed(1)
        m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
        m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        return m

    single = model()
    single.fit(data, steps_per_epoch=40, epochs=1, verbose=0)
    mirrored = distribution_strategy("mirrored")
    with mirrored.scope():
        replicated = model()
    replicated.fit(data, steps_per_epoch=40, epochs=1, verbose=0)
    diff = max(float(np.abs(a - b).max())
               for a, b in zip(single.get_weights(), replicated.get_weights()))
    moved = max(float(np.abs(a - b).max())
                for a, b in zip(model().get_weights(), single.get_weights()))

    # The pipeline's own model trains under the strategy too.
    with mirrored.scope():
        net = build_model({"model": "mobilenet_v1", "alpha": 0.25, "resolution": 32}, 3)
    labels = rng.integers(0, 3, 64)
    images = rng.uniform(-0.1, 0.1, (64, 32, 32, 3)).astype("float32")
    images[np.arange(64), :, :, labels] += 0.8  # the class is the brightest channel
    history = net.fit(images, labels, batch_size=16, epochs=4, verbose=0)
    print(json.dumps({"replicas": mirrored.num_replicas_in_sync,
                      "devices": list(mirrored.extended.worker_devices),
                      "max_weight_diff": diff, "weights_moved": moved,
                      "mobilenet_loss": history.history["loss"]}))
""")


@pytest.fixture(scope="module")
def mirrored_result():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_mirrored_over_two_cpu_devices_matches_single_device(mirrored_result):
    assert mirrored_result["replicas"] == 2
    assert [d.rsplit("/", 1)[-1] for d in mirrored_result["devices"]] == \
        ["device:CPU:0", "device:CPU:1"]
    assert mirrored_result["weights_moved"] > 0.05  # training did change the weights
    assert mirrored_result["max_weight_diff"] < 1e-4


def test_pipeline_model_trains_under_mirrored(mirrored_result):
    losses = mirrored_result["mobilenet_loss"]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown distribution strategy 'gpu'"):
        distribution_strategy("gpu")
