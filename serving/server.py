"""The model server: TF Serving's flags, gRPC + REST, polling, batching, metrics, SIGTERM.

    python -m serving.server --port 8500 --rest_api_port 8501 \
        --model_name NAME --model_base_path /models/NAME

(installed as the `shipyard-model-server` command, with the same flags). ModelServer wires
config, core and the APIs together; no other module knows them all.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tensorflow_serving.config import model_server_config_pb2

from serving.api.metrics import Metrics
from serving.api.request_log import ServerRequestLogger
from serving.config.batching_parameters import BatchingParameters, load_batching_parameters
from serving.config.errors import ConfigError
from serving.config.model_config import load_model_server_config, single_model_config
from serving.config.monitoring import MonitoringConfig, load_monitoring_config
from serving.config.options import (
    ServerOptions,
    options_from_flags,
    parse_grpc_channel_arguments,
)
from serving.config.ssl_config import load_ssl_config
from serving.core.errors import ServingError, invalid

if TYPE_CHECKING:
    from serving.api.http_server import RestServer
    from serving.core.loader import Servable

log = logging.getLogger("serving.server")


def tensorflow_thread_pools(intra: int, inter: int, cores: int | None = None
                            ) -> tuple[int, int]:
    """The (intra-op, inter-op) pool sizes the server uses, from the flags (0: unset).

    An unset intra-op pool gets one thread fewer than the cores this process may run on (at
    least one), leaving a core to the threads that take requests; TensorFlow's own default, a
    thread per core, spins its workers against them: on 2 cores it made the benchmark's
    MobileNet about twice as slow at batch 1 and 32, at twice the CPU time. An unset inter-op
    pool keeps TensorFlow's default, which one thread did not beat. Measured on 2 cores only:
    benchmarks/thread_pools.py.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            (os.cpu_count() or 1)
    return intra or max(1, cores - 1), inter


def _configure_tensorflow_threads(options: ServerOptions) -> None:
    import tensorflow as tf

    intra, inter = tensorflow_thread_pools(options.tensorflow_intra_op_parallelism,
                                           options.tensorflow_inter_op_parallelism)
    try:
        if intra:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter:
            tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        # In-process servers (tests, notebooks) share an initialised TensorFlow.
        given = options.tensorflow_intra_op_parallelism or options.tensorflow_inter_op_parallelism
        (log.warning if given else log.debug)(
            "TensorFlow is already initialised; thread pools left as they are")


class ModelServer:
    """Everything one server runs; `start()` returns once the initial versions are loaded."""

    def __init__(self, options: ServerOptions,
                 model_config: model_server_config_pb2.ModelServerConfig | None = None):
        self.options = options
        if model_config is None:
            model_config = (load_model_server_config(options.model_config_file)
                            if options.model_config_file else
                            single_model_config(options.model_name, options.model_base_path))
        self.model_config = model_config
        # A bad SSL config is refused before any model loads.
        self.ssl = load_ssl_config(options.ssl_config_file) if options.ssl_config_file else None
        # TensorFlow is imported only now, so a bad config is refused without that cost.
        _configure_tensorflow_threads(options)
        from serving.api.batching import BatchScheduler
        from serving.api.handlers import WARMUP_HANDLERS
        from serving.core.manager import ModelManager
        from serving.core.warmup import replay_warmup

        self.monitoring = (load_monitoring_config(options.monitoring_config_file)
                           if options.monitoring_config_file else MonitoringConfig())
        self.metrics = Metrics()
        self.request_logger = ServerRequestLogger()
        self.request_logger.update(model_config)
        self.scheduler = None
        if options.enable_batching:
            params = (load_batching_parameters(options.batching_parameters_file)
                      if options.batching_parameters_file else BatchingParameters())
            self.scheduler = BatchScheduler(params, self.metrics)

        def warmup(servable: Servable, iterations: int) -> int:
            # A model's model_warmup_options win over --num_request_iterations_for_warmup.
            iterations = iterations or options.num_request_iterations_for_warmup or 1
            return replay_warmup(servable, WARMUP_HANDLERS, iterations)

        self.manager = ModelManager(
            model_config, warmup=warmup if options.enable_model_warmup else None,
            prepare=self.scheduler.attach if self.scheduler else None,
            release=self.scheduler.release if self.scheduler else None,
            allow_labels_for_unavailable=options.allow_version_labels_for_unavailable_models,
            prefer_tflite=options.prefer_tflite_model)
        self.grpc = None
        self.rest: RestServer | None = None
        self.grpc_port = 0
        self.rest_port = 0
        self._config_thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def start(self) -> ModelServer:
        from serving.api.grpc_server import GrpcServer, ModelServicer, PredictionServicer
        from serving.api.http_server import RestServer
        from serving.api.rest import RestApi

        options = self.options
        self.manager.start(options.file_system_poll_wait_seconds)
        self.grpc = GrpcServer(
            PredictionServicer(self.manager, self.request_logger, self.metrics, self.scheduler),
            ModelServicer(self.manager, self.metrics, self.reload_config),
            options.host, options.port, options.grpc_max_threads, options.max_request_bytes,
            self.ssl, options.grpc_socket_path,
            parse_grpc_channel_arguments(options.grpc_channel_arguments))
        self.grpc_port = self.grpc.start()
        if options.rest_api_port >= 0:
            metrics_path = self.monitoring.path if self.monitoring.enable else None
            self.rest = RestServer(options.host, options.rest_api_port,
                                   RestApi(self.manager, self.request_logger), self.metrics,
                                   metrics_path, options.max_request_bytes,
                                   enable_cors=options.rest_api_enable_cors_support,
                                   num_threads=options.rest_api_num_threads,
                                   timeout_seconds=options.rest_api_timeout_in_ms / 1000)
            self.rest_port = self.rest.port
            self.rest.start()
        if options.model_config_file and options.model_config_file_poll_wait_seconds > 0:
            self._config_thread = threading.Thread(target=self._watch_config, daemon=True,
                                                   name="config-poll")
            self._config_thread.start()
        log.info("serving gRPC on %s:%d, REST on %s:%d", options.host, self.grpc_port,
                 options.host, self.rest_port)
        return self

    def _watch_config(self) -> None:
        wait = self.options.model_config_file_poll_wait_seconds
        while not self._stopped.wait(wait):
            try:
                new = load_model_server_config(self.options.model_config_file)
                if new != self.model_config:
                    self.reload_config(new)
            except (ConfigError, ServingError) as e:
                log.warning("model config not reloaded: %s", e)

    def reload_config(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Applies a new model list (file polling or ModelService.HandleReloadConfigRequest)."""
        self.manager.reload_config(config)
        try:
            self.request_logger.update(config)
        except ConfigError as e:
            raise invalid(str(e)) from None
        self.model_config = config

    def stop(self, grace: float = 5.0) -> None:
        """Stops taking requests, lets in-flight ones finish (up to `grace` s), unloads."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.rest is not None:
            self.rest.stop()
        if self.grpc is not None:
            self.grpc.stop(grace)
        self.manager.stop()
        self.request_logger.close()
        if self.scheduler is not None:
            self.scheduler.stop()


def serve_until_signalled(server: ModelServer, announce: bool = True,
                          on_ready: Callable[[ModelServer], None] | None = None) -> int:
    """Starts the server, runs until SIGTERM / SIGINT, then stops it cleanly. Exit status."""
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %d: shutting down", signum)
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            server.start()
        except (ServingError, OSError) as e:
            print(f"error: {getattr(e, 'message', e)}", file=sys.stderr)
            server.stop(0)
            return 1
        host = server.options.host
        if announce:
            # A machine-readable line so that wrappers (infra validation, tests) find the ports.
            print(f"READY grpc={host}:{server.grpc_port} rest={host}:{server.rest_port}",
                  flush=True)
        if on_ready is not None:
            on_ready(server)
        while not done.wait(0.5):
            pass
        server.stop()
        log.info("stopped")
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: Sequence[str] | None = None) -> int:
    # gRPC's poller thread hands each call to a worker thread; with the default 5 ms GIL
    # switch interval that hand-off alone can cost milliseconds.
    sys.setswitchinterval(float(os.environ.get("SHIPYARD_SWITCH_INTERVAL", "0.0002")))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    try:
        options = options_from_flags(argv)
        server = ModelServer(options)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return serve_until_signalled(server)


if __name__ == "__main__":
    sys.exit(main())
