"""TF Serving's gRPC services (PredictionService, ModelService) on grpcio with the official
servicer bases from tensorflow-serving-api."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import text_format
from tensorflow_serving.apis import (
    model_management_pb2,
    model_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from serving.api import handlers
from serving.api.metrics import Metrics
from serving.api.request_log import ServerRequestLogger
from serving.config.ssl_config import SSLConfig
from serving.core.errors import ServingError, invalid
from serving.core.loader import Servable
from serving.core.manager import ModelManager

log = logging.getLogger("serving.grpc")

# A handler of one RPC on the servable its ModelSpec names.
Handler = Callable[[Servable, Any], Any]


class _Call:
    """One RPC's metrics: timed from creation; `version` is set once a servable is found."""

    def __init__(self, metrics: Metrics, api: str, model: str):
        self.metrics, self.api, self.model = metrics, api, model
        self.version = ""
        self._start = time.perf_counter()

    def run(self, context: grpc.ServicerContext, fn: Callable[[], Any]) -> Any:
        """Runs the RPC: errors become gRPC statuses, never exceptions out of the servicer."""
        status = 500
        try:
            response = fn()
            status = 200
            return response
        except ServingError as e:
            status = e.http_status
            context.abort(e.code, e.message)
        except Exception as e:  # noqa: BLE001 - report, keep serving
            log.exception("internal error in %s", self.api)
            context.abort(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")
        finally:
            self.metrics.record_request("GRPC", self.model, self.api, status, self.version,
                                        time.perf_counter() - self._start)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, manager: ModelManager, request_logger: ServerRequestLogger,
                 metrics: Metrics):
        self.manager = manager
        self.request_logger = request_logger
        self.metrics = metrics

    def _serve(self, api: str, spec: model_pb2.ModelSpec, request: Any, handler: Handler,
               context: grpc.ServicerContext, check: Callable[[], None] | None = None) -> Any:
        """Looks up the servable, runs `handler` on it, records the metrics."""
        call = _Call(self.metrics, api, spec.name)

        def run() -> Any:
            if check is not None:
                check()
            servable = self.manager.servable(spec)
            call.version = str(servable.version)
            return handler(servable, request)

        return call.run(context, run)

    def _logged(self, api: str, spec: model_pb2.ModelSpec, request: Any, handler: Handler,
                context: grpc.ServicerContext, check: Callable[[], None] | None = None) -> Any:
        """_serve, then the request log of the successful call."""
        response = self._serve(api, spec, request, handler, context, check)
        self.request_logger.maybe_log(spec.name, api, lambda: (request, response))
        return response

    def Predict(self, request, context):  # noqa: N802 - gRPC method names
        return self._logged("predict", request.model_spec, request, handlers.predict_on, context)

    def Classify(self, request, context):  # noqa: N802
        return self._logged("classify", request.model_spec, request, handlers.classify_on,
                            context)

    def Regress(self, request, context):  # noqa: N802
        return self._logged("regress", request.model_spec, request, handlers.regress_on, context)

    def GetModelMetadata(self, request, context):  # noqa: N802
        return self._serve("metadata", request.model_spec, request, handlers.metadata_on,
                           context)

    def MultiInference(self, request, context):  # noqa: N802
        # The model is the first task's; no task at all is refused before any lookup.
        spec = request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()

        def check() -> None:
            if not request.tasks:
                raise invalid("Found no tasks in MultiInferenceRequest.")

        return self._logged("multi_inference", spec, request, handlers.multi_inference_on,
                            context, check)


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager: ModelManager, metrics: Metrics,
                 reload_config: Callable[[model_server_config_pb2.ModelServerConfig], None]):
        self.manager = manager
        self.metrics = metrics
        self.reload_config = reload_config

    def GetModelStatus(self, request, context):  # noqa: N802
        call = _Call(self.metrics, "status", request.model_spec.name)
        return call.run(context, lambda: self.manager.status(request.model_spec))

    def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        """Applies the new config; failures are reported in the response's status, as TF
        Serving does, not as an RPC error."""
        response = model_management_pb2.ReloadConfigResponse()
        try:
            self.reload_config(request.config)
            log.info("reloaded config:\n%s", text_format.MessageToString(request.config))
        except ServingError as e:
            response.status.error_code = e.code.value[0]
            response.status.error_message = e.message
        return response


def _credentials(ssl: SSLConfig | None) -> grpc.ServerCredentials | None:
    if ssl is None:
        return None
    return grpc.ssl_server_credentials(
        [(ssl.server_key.encode(), ssl.server_cert.encode())],
        root_certificates=ssl.custom_ca.encode() or None,
        require_client_auth=ssl.client_verify)


def build_grpc_server(prediction: PredictionServicer, model: ModelServicer, host: str,
                      port: int, max_threads: int, max_message_bytes: int,
                      ssl: SSLConfig | None = None, socket_path: str = "",
                      channel_arguments: Sequence[tuple[str, int | str]] = ()
                      ) -> tuple[grpc.Server, int]:
    """The gRPC server on host:port (port -1: none) and/or a UNIX socket, with TLS when an
    SSL config is given (both listeners, as TF Serving does). `channel_arguments`
    (--grpc_channel_arguments) override the defaults here."""
    options = {"grpc.max_receive_message_length": max_message_bytes,
               "grpc.max_send_message_length": -1,
               "grpc.so_reuseport": 0}
    options.update(channel_arguments)
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_threads,
                                                         thread_name_prefix="grpc"),
                              options=list(options.items()))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction, grpc_server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(model, grpc_server)
    credentials = _credentials(ssl)

    def listen(address: str) -> int:
        return (grpc_server.add_secure_port(address, credentials) if credentials
                else grpc_server.add_insecure_port(address))

    bound = 0
    if port >= 0:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        bound = listen(address)
        if bound == 0:
            raise OSError(f"cannot bind gRPC port {address}")
    if socket_path:
        if listen(f"unix:{socket_path}") == 0:
            raise OSError(f"cannot listen on UNIX socket {socket_path}")
    return grpc_server, bound
