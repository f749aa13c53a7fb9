"""The Smart Reply family's mobile hook (`HOOK`, for components/mobile.py): Optimizer →
TFLiteConverter → FidelityGate → MobilePusher on the on-device model (models/smart_reply/
device.py).

What runs where on the phone:
- in the .tflite (builtin ops only, batch 1): triggering, the LSTM context encoder, cluster
  scoring, the response LSTM stepping through the trie beam search over the response set, and
  the diversity rule; out come the trigger score and verdict, reply ids, scores and clusters;
- on the host (a small documented step, `smart_reply.json` in the bundle): tokenising the
  message (lower case, punctuation split off, whitespace split; the regex is in the file),
  looking tokens up in `vocabulary.txt`, the crisis guard (`silent_on`: a message whose tokens
  match its pattern gets no suggestions, as the serving signature does; models/smart_reply/
  sensitive.py), and mapping reply ids to texts with `response_set.json` (its responses, then
  its fallback set).

The fidelity gate scores recall@3 of the true reply's cluster as models/smart_reply/
evaluation.py does, and `agreement` is the share of held-out messages whose three TFLite
replies are exactly the SavedModel's (the served signature, on the raw message strings).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np
import tensorflow as tf

from models import tflite
from models.artifacts import MOBILE_DIR, RESPONSE_SET_DIR, SERVING_DIR
from models.keras2 import keras
from models.mobile_hook import MobileHook
from models.smart_reply import device, evaluation, metrics, sensitive, text
from models.smart_reply import export as export_lib
from models.smart_reply.response_set import ResponseSet

METRIC = "recall_at_3"


@dataclasses.dataclass
class Messages:
    """Held-out messages as the host hands them to each model: raw strings for the SavedModel,
    token ids (and user ids) for the .tflite, and what turns reply ids back into texts."""

    messages: list[str]
    users: list[str] | None
    context_ids: np.ndarray  # [N, context_tokens] int32
    user_ids: np.ndarray | None  # [N] int32
    response_set: ResponseSet
    saved_model_dir: str
    silent: np.ndarray  # [N] bool: the host's crisis guard matched (no suggestions)

    def __len__(self) -> int:
        return len(self.messages)


def _mobile_dir(model_uri: str) -> str:
    path = os.path.join(model_uri, MOBILE_DIR)
    if not os.path.isfile(os.path.join(path, device.MODEL_FILE)):
        raise FileNotFoundError(f"no on-device model at {path}: the Smart Reply Trainer writes "
                                "one (models/smart_reply/device.py)")
    return path


def load_model(model_uri: str) -> keras.Model:
    """The on-device Keras model the Trainer saved (token ids in, suggestions out)."""
    return device.load(_mobile_dir(model_uri))


def _lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def load_split(transform_graph_uri: str | None, examples_uri: str, split: str,
               limit: int | None = None, model_uri: str | None = None
               ) -> tuple[Messages, np.ndarray]:
    """(the split's messages, the true reply's cluster per message: -1 when the real reply is
    not close to the response set). Labels need the Trainer's response set, hence
    `model_uri`."""
    if model_uri is None:
        raise ValueError("Smart Reply's mobile split needs the model (its response set)")
    pairs = evaluation.read_pairs(examples_uri, split, limit)
    x = host_messages(model_uri, [p["context"] for p in pairs],
                      [p.get("user", "") for p in pairs])
    _, true_clusters = x.response_set.labels(text.tokens([p["reply"] for p in pairs]))
    return x, true_clusters


def host_messages(model_uri: str, messages: list[str], users: list[str] | None = None
                  ) -> Messages:
    """`messages` (and their users, for a personalised model) as the phone's host prepares
    them from the mobile bundle's files: token ids, user ids, the crisis guard's verdict."""
    mobile = _mobile_dir(model_uri)
    response_set = ResponseSet.load(os.path.join(model_uri, RESPONSE_SET_DIR,
                                                 "response_set.json"))
    model_input = load_model(model_uri).inputs[0]
    table = text.lookup_table(_lines(os.path.join(mobile, device.VOCABULARY_FILE)))
    ids = text.to_ids(table, tf.constant(messages), int(model_input.shape[1])).numpy()
    user_ids = None
    if os.path.isfile(os.path.join(mobile, device.USERS_FILE)):
        known = {u: i + 1 for i, u in enumerate(_lines(os.path.join(mobile,
                                                                    device.USERS_FILE)))}
        users = users or [""] * len(messages)
        user_ids = np.array([known.get(u, 0) for u in users], np.int32)
    else:
        users = None
    with open(os.path.join(mobile, device.SETTINGS_FILE), encoding="utf-8") as f:
        guard = json.load(f)["silent_on"]
    silent = np.array(sensitive.matches(text.tokens(messages), guard["pattern"])
                      if guard else [False] * len(messages), bool)
    return Messages(messages, users, ids, user_ids, response_set,
                    os.path.join(model_uri, SERVING_DIR), silent)


def convert(model: keras.Model, conversion: str, representative, io_type: str) -> bytes:
    """The on-device model at batch 1 (static shapes: its loops convert to builtin ops)."""
    if conversion not in ("float32", "float16", "dynamic"):
        raise ValueError(f"Smart Reply converts float32, float16 or dynamic, not {conversion}")
    return tflite.convert(model, conversion, batch_size=1)


def litert_runner(model_bytes: bytes):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes, num_threads=1)
    return interpreter.get_signature_runner()


def _row_inputs(x: Messages, row: int) -> dict[str, np.ndarray]:
    inputs = {"context_ids": x.context_ids[row:row + 1]}
    if x.user_ids is not None:
        inputs["user_id"] = x.user_ids[row:row + 1]
    return inputs


def texts_of(reply_ids: np.ndarray, response_set: ResponseSet) -> np.ndarray:
    """The host's last step: reply ids → texts (responses, then the fallback set; "" for -1)."""
    shown = np.array(list(response_set.texts) + list(response_set.fallback) + [""], object)
    return shown[np.where(reply_ids < 0, len(shown) - 1, reply_ids)]


def tflite_predict(model_bytes: bytes, x: Messages) -> dict[str, np.ndarray]:
    """Each message through LiteRT (one thread, batch 1), as a phone runs it, with the
    host's crisis guard."""
    runner = litert_runner(model_bytes)
    rows = [runner(**_row_inputs(x, i)) for i in range(len(x))]
    outputs = {name: np.concatenate([r[name] for r in rows]) for name in device.OUTPUTS}
    outputs["trigger_score"] = np.where(x.silent, 0.0, outputs["trigger_score"]).astype(
        outputs["trigger_score"].dtype)
    outputs["triggered"] = outputs["triggered"] & ~x.silent
    outputs["replies"] = texts_of(outputs["reply_ids"], x.response_set)
    return outputs


def reference_predict(keras_model: keras.Model, x: Messages) -> dict[str, np.ndarray]:
    """The served SavedModel's suggestions for the raw messages (what the gate compares the
    phone to)."""
    signature = tf.saved_model.load(x.saved_model_dir).signatures["serving_default"]
    outputs = export_lib.call(signature, x.messages, x.users)
    outputs["replies"] = np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(
        outputs["replies"])
    return outputs


def metric(outputs: dict[str, np.ndarray], true_clusters: np.ndarray) -> float:
    """recall@3 of the true reply's cluster, as the Evaluator computes it."""
    return metrics.ranking_metrics(np.asarray(true_clusters), outputs["cluster_ids"],
                                      outputs["ranked_cluster_ids"])["recall_at_3"]


def agreement(outputs: dict[str, np.ndarray], reference_outputs: dict[str, np.ndarray]
              ) -> float:
    """Share of messages whose shown replies (three, in order) equal the SavedModel's."""
    same = [list(a) == list(b) for a, b in zip(outputs["replies"],
                                               reference_outputs["replies"], strict=True)]
    return float(np.mean(same)) if same else 1.0


def latency(model_bytes: bytes, x: Messages, runs: int) -> tflite.Latency:
    """Single-thread latency of one real message per invoke (random ids would be out of the
    vocabulary's range), after warm-up."""
    runner = litert_runner(model_bytes)
    for i in range(min(5, len(x))):
        runner(**_row_inputs(x, i))
    times = []
    for i in range(max(runs, 1)):
        inputs = _row_inputs(x, i % len(x))
        start = time.perf_counter()
        runner(**inputs)
        times.append((time.perf_counter() - start) * 1e3)
    return tflite.Latency(float(np.percentile(times, 50)), float(np.percentile(times, 90)),
                          len(times))


def bundle_files(transform_graph_uri: str | None, model_uri: str) -> dict[str, bytes]:
    """The host's files: vocabulary, settings (tokenizer, thresholds), users, and the
    response set with its clusters and fallback replies."""
    mobile = _mobile_dir(model_uri)
    files = {name: os.path.join(mobile, name)
             for name in (device.VOCABULARY_FILE, device.SETTINGS_FILE, device.USERS_FILE)}
    files["response_set.json"] = os.path.join(model_uri, RESPONSE_SET_DIR, "response_set.json")
    out = {}
    for name, path in files.items():
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = f.read()
    return out


class SmartReplyMobile(MobileHook):
    """The on-device model at batch 1, fed token ids; scored on recall@3 and on showing the
    SavedModel's three replies."""

    # The module's functions stay its API (tests, benchmarks and the README use them); the
    # class says which of them implement the hook.
    metric_name = METRIC
    load_model = staticmethod(load_model)
    load_split = staticmethod(load_split)
    metric = staticmethod(metric)
    convert = staticmethod(convert)
    bundle_files = staticmethod(bundle_files)
    reference_predict = staticmethod(reference_predict)
    tflite_predict = staticmethod(tflite_predict)
    latency = staticmethod(latency)
    agreement = staticmethod(agreement)


HOOK = SmartReplyMobile()
