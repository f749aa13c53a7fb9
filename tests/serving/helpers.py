"""Helpers for the model-server tests: tiny SavedModels, in-process servers, HTTP calls.

Imported as `tests.serving.helpers` (also by tests outside tests/serving); the fixtures are in
tests/serving/conftest.py."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from collections.abc import Iterator
from typing import Any

from serving import rest_client

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def half_plus_two_script() -> Any:
    """scripts/make_half_plus_two.py as a module (scripts/ is not a package)."""
    path = os.path.join(REPO, "scripts", "make_half_plus_two.py")
    spec = importlib.util.spec_from_file_location("make_half_plus_two", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_tiny_model(export_dir: str, k: float = 2.0, warmup: bool = False) -> str:
    """A tf.Module with several signatures: y = k*x + 1 (two outputs), bytes echo, int add,
    classify and regress over tf.Examples with a float feature 'x'."""
    import tensorflow as tf

    class Tiny(tf.Module):
        def __init__(self):
            super().__init__()
            self.k = tf.Variable(k, dtype=tf.float32)
            self.calls = tf.Variable(0, dtype=tf.int64)

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def predict(self, x):
            return {"y": x * self.k + 1.0, "total": tf.reduce_sum(x, axis=1)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def echo(self, text):
            return {"echo_bytes": text, "length": tf.strings.length(text)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="a"),
                                      tf.TensorSpec([None], tf.int32, name="b")])
        def add(self, a, b):
            return {"c": a + b}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def count(self, x):
            # Counts calls, so tests can see warm-up replays.
            return {"calls": tf.fill(tf.shape(x), self.calls.assign_add(1))}

        def _x(self, serialized):
            parsed = tf.io.parse_example(
                serialized, {"x": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
            return parsed["x"]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def classify(self, inputs):
            x = self._x(inputs)
            n = tf.shape(x)[0]
            classes = tf.tile(tf.constant([["low", "high"]]), [n, 1])
            return {"classes": classes, "scores": tf.concat([1.0 - x, x], axis=1)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def regress(self, inputs):
            return {"outputs": self._x(inputs) * self.k}

    module = Tiny()
    tf.saved_model.save(module, export_dir, signatures={
        "serving_default": module.predict, "echo": module.echo, "add": module.add,
        "classify": module.classify, "regress": module.regress,
        "count": module.count})
    if warmup:
        from serving.core.warmup import write_predict_warmup

        write_predict_warmup(export_dir, {"x": [1.0]}, signature_name="count", repeats=3)
    return export_dir


def copy_version(src: str, base: str, version: int) -> str:
    """Copies a version directory into base/version atomically (staging dir + rename)."""
    os.makedirs(base, exist_ok=True)
    staging = os.path.join(base, f".tmp-{version}")
    shutil.copytree(src, staging)
    dest = os.path.join(base, str(version))
    os.rename(staging, dest)
    return dest


@contextlib.contextmanager
def running_server(**kwargs: Any) -> Iterator[Any]:
    """An in-process ModelServer on free loopback ports."""
    from serving.config.options import ServerOptions
    from serving.server import ModelServer

    model_config = kwargs.pop("model_config", None)
    options = ServerOptions(port=0, rest_api_port=0, host="127.0.0.1", **kwargs)
    server = ModelServer(options, model_config=model_config).start()
    try:
        yield server
    finally:
        server.stop(grace=1.0)


def http(server: Any, method: str, path: str, body: Any = None,
         raw: bytes | None = None, timeout: float = 30) -> tuple[int, Any]:
    """(status, parsed JSON or text) for one request to the server's REST port."""
    return rest_client.call(f"127.0.0.1:{server.rest_port}", method, path, body, raw, timeout)


def record_threads(monkeypatch: Any, owner: type, method: str) -> list[str]:
    """Patches `owner.method` to append the calling thread's name to the returned list."""
    import threading

    names: list[str] = []
    original = getattr(owner, method)

    def recording(self, *args):
        names.append(threading.current_thread().name)
        return original(self, *args)

    monkeypatch.setattr(owner, method, recording)
    return names
