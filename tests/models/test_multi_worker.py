"""Multi-worker training for real: two worker processes on loopback (TF_CONFIG), under
MultiWorkerMirroredStrategy and the shared fit code, end with the weights of single-worker
training on the global batch; only the chief writes the export into the model artifact."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# One worker of the cluster in TF_CONFIG: fits a small classifier with the shared fit code
# (models.training.fit_steps: TensorBoard logs, BackupAndRestore) and exports it as a Trainer
# does, through chief_writes. The chief then trains the same model on one worker, on the same
# global batches, for comparison (in this process: a third TensorFlow start costs more).
WORKER = textwrap.dedent("""
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from models.training import chief_writes, distribution_strategy, fit_steps, is_chief
    import numpy as np, tensorflow as tf
    from models.keras2 import keras

    out = sys.argv[1]
    strategy = distribution_strategy("multi_worker")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    options = tf.data.Options()
    # Each worker reads every other half-batch of the same global batches.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat().with_options(options)

    def model():
        keras.utils.set_random_seed(1)
        m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
        m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        return m

    def fit(m, out):
        fit_steps(m, data, data, train_steps=24, eval_steps=2,
                  log_dir=os.path.join(out, "logs"), backup_dir=os.path.join(out, "backup"),
                  epochs=3)

    with strategy.scope():
        distributed = model()
    fit(distributed, os.path.join(out, "shared"))
    with chief_writes(os.path.join(out, "shared", "model"), strategy) as model_uri:
        distributed.save(os.path.join(model_uri, "Format-Serving"), save_format="tf",
                         include_optimizer=False)
        wrote_to = model_uri
    result = {"replicas": strategy.num_replicas_in_sync, "chief": is_chief(strategy),
              "wrote_to": wrote_to, "scratch_left": os.path.exists(wrote_to),
              "weights": [w.tolist() for w in distributed.get_weights()]}
    if is_chief(strategy):
        single, initial = model(), model().get_weights()
        fit(single, os.path.join(out, "single"))
        result["single"] = [w.tolist() for w in single.get_weights()]
        result["moved"] = max(float(np.abs(a - b).max())
                              for a, b in zip(initial, single.get_weights()))
    print(json.dumps(result))
""")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(out, tf_config):
    env = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
    return subprocess.Popen([sys.executable, "-c", WORKER, str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(process):
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi_worker")
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    # The same model directory for both workers, as TFX gives every worker the same FnArgs.
    processes = [_start(root, {"cluster": {"worker": workers},
                               "task": {"type": "worker", "index": index}})
                 for index in range(2)]
    return root, [_result(p) for p in processes]


def test_two_workers_train_the_weights_of_single_worker_training(cluster):
    _, (chief, worker) = cluster
    assert chief["replicas"] == worker["replicas"] == 2
    assert (chief["chief"], worker["chief"]) == (True, False)
    assert chief["moved"] > 0.05  # training did change the weights
    for a, b, c in zip(chief["weights"], worker["weights"], chief["single"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)  # the workers stay in sync
        np.testing.assert_allclose(a, c, atol=1e-4)


def test_only_the_chief_writes_the_export(cluster):
    root, (chief, worker) = cluster
    model_dir = root / "shared" / "model"
    assert chief["wrote_to"] == str(model_dir)
    assert not worker["wrote_to"].startswith(str(root))  # the worker's scratch is elsewhere
    assert not worker["scratch_left"]  # and it is gone
    assert os.listdir(model_dir) == ["Format-Serving"]
    assert (model_dir / "Format-Serving" / "saved_model.pb").is_file()
    # Keras' callbacks removed the worker's temporary logs and backups too: one writer of
    # TensorBoard events, and BackupAndRestore emptied its backup once the fit completed.
    assert sorted(os.listdir(root)) == ["shared", "single"]
    assert sorted(os.listdir(root / "shared")) == ["backup", "logs", "model"]
    assert os.listdir(root / "shared" / "backup") == []
    for split in ("train", "validation"):
        (events,) = os.listdir(root / "shared" / "logs" / split)
        assert events.startswith("events.out.tfevents.")
