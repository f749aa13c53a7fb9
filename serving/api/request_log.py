"""Request logging, as TF Serving's `logging_config` in a ModelConfig asks for it.

TF Serving samples successful Predict / Classify / Regress / MultiInference calls at
`sampling_config.sampling_rate` and hands each as a PredictionLog (request, response and
LogMetadata) to the log collector registered for `log_collector_config.type`. The open-source
binary registers no collector; Shipyard registers one, `tfrecord`, that writes the logs to
`<filename_prefix>-<model>-<server start>-<pid>.tfrecord`, so a restart never overwrites a log.
That is the format of warm-up records: a slice of real traffic can be replayed as a model's
`assets.extra/tf_serving_warmup_requests`, or read with `tf.data.TFRecordDataset` for skew
analysis and continuous training. (serving.config.model_config.LOG_COLLECTORS names the
collectors when it checks a model config.)
"""
from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable

from google.protobuf import message
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import logging_config_pb2, model_server_config_pb2

from serving.config.errors import ConfigError

_LOG_FIELDS = {"predict": "predict_log", "classify": "classify_log", "regress": "regress_log",
               "multi_inference": "multi_inference_log"}


class TFRecordCollector:
    """Appends serialized PredictionLogs to one TFRecord file; thread-safe, flushed per log so
    that a reader (or a crash) never sees half a record."""

    def __init__(self, path: str):
        import tensorflow as tf

        tf.io.gfile.makedirs(os.path.dirname(path) or ".")
        self.path = path
        self._lock = threading.Lock()
        self._writer = tf.io.TFRecordWriter(path)

    def collect(self, log: prediction_log_pb2.PredictionLog) -> None:
        with self._lock:
            self._writer.write(log.SerializeToString())
            self._writer.flush()

    def close(self) -> None:
        with self._lock:
            self._writer.close()


def _open(path: str) -> TFRecordCollector:
    try:
        return TFRecordCollector(path)
    except Exception as e:  # noqa: BLE001 - tf.errors and OSError alike: one line
        raise ConfigError(f"cannot write the request log {path}: "
                          f"{getattr(e, 'message', e)}") from None


class RequestLogger:
    """One model's sampler and collector."""

    def __init__(self, model: str, config: logging_config_pb2.LoggingConfig,
                 collector: TFRecordCollector, seed: int | None = None):
        self.model = model
        self.config = config
        self.collector = collector
        self._random = random.Random(seed)

    def sampled(self) -> bool:
        rate = self.config.sampling_config.sampling_rate
        return rate >= 1.0 or (rate > 0.0 and self._random.random() < rate)

    def log(self, api: str, request: message.Message, response: message.Message) -> None:
        entry = prediction_log_pb2.PredictionLog()
        metadata = entry.log_metadata
        spec = getattr(response, "model_spec", None)
        if spec is not None:
            metadata.model_spec.CopyFrom(spec)
        else:  # MultiInferenceResponse names the model in each result
            metadata.model_spec.CopyFrom(response.results[0].model_spec)
        metadata.sampling_config.CopyFrom(self.config.sampling_config)
        metadata.saved_model_tags.append("serve")
        log = getattr(entry, _LOG_FIELDS[api])
        log.request.CopyFrom(request)
        log.response.CopyFrom(response)
        self.collector.collect(entry)


class ServerRequestLogger:
    """The request loggers of every configured model, updated when the model config changes
    (the role of TF Serving's ServerRequestLogger)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loggers: dict[str, RequestLogger] = {}
        self._collectors: dict[str, TFRecordCollector] = {}
        self._run = f"{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"

    def update(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        loggers, collectors = {}, {}
        for model in config.model_config_list.config:
            if not model.HasField("logging_config"):
                continue
            prefix = model.logging_config.log_collector_config.filename_prefix
            path = f"{prefix}-{model.name}-{self._run}.tfrecord"
            with self._lock:
                collector = collectors.get(path) or self._collectors.get(path)
            collectors[path] = collector or _open(path)
            loggers[model.name] = RequestLogger(model.name, model.logging_config,
                                                collectors[path])
        with self._lock:
            gone = [c for p, c in self._collectors.items() if p not in collectors]
            self._loggers, self._collectors = loggers, collectors
        for collector in gone:
            collector.close()

    def maybe_log(self, model: str, api: str,
                  request_response: Callable[[], tuple[message.Message, message.Message]]
                  ) -> None:
        """Logs one successful call if its model logs and the sampler picks it; the protos are
        built only then (REST calls have none of their own)."""
        logger = self._loggers.get(model)
        if logger is None or not logger.sampled():
            return
        request, response = request_response()
        logger.log(api, request, response)

    def close(self) -> None:
        with self._lock:
            collectors, self._collectors, self._loggers = self._collectors, {}, {}
        for collector in collectors.values():
            collector.close()
