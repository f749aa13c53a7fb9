"""TF Serving's gRPC services (PredictionService, ModelService) on grpcio with the official
servicer bases from tensorflow-serving-api."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
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

from serving import handlers
from serving.errors import ServingError, invalid

log = logging.getLogger("serving.grpc")


def _call(server: Any, api: str, context: grpc.ServicerContext, spec: Any,
          fn: Callable[[], Any]) -> Any:
    """Runs one RPC: errors become gRPC statuses, never exceptions out of the servicer."""
    start = time.perf_counter()
    status = 500
    try:
        response = fn()
        status = 200
        return response
    except ServingError as e:
        status = e.http_status
        context.abort(e.code, e.message)
    except Exception as e:  # noqa: BLE001 - report, keep serving
        log.exception("internal error in %s", api)
        context.abort(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")
    finally:
        server.record("GRPC", spec.name, api, status, time.perf_counter() - start)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, server: Any):
        self.server = server
        self.manager = server.manager

    def _on(self, request: Any, fn: Callable, api: str, context: grpc.ServicerContext) -> Any:
        def run() -> Any:
            servable = self.manager.servable(request.model_spec)
            self.server.note_version(servable)
            return fn(servable, request)
        return _call(self.server, api, context, request.model_spec, run)

    def _logged(self, request: Any, fn: Callable, api: str, context: grpc.ServicerContext
                ) -> Any:
        response = self._on(request, fn, api, context)
        self.server.request_logger.maybe_log(request.model_spec.name, api,
                                             lambda: (request, response))
        return response

    def Predict(self, request, context):  # noqa: N802 - gRPC method names
        return self._logged(request, handlers.predict_on, "predict", context)

    def Classify(self, request, context):  # noqa: N802
        return self._logged(request, handlers.classify_on, "classify", context)

    def Regress(self, request, context):  # noqa: N802
        return self._logged(request, handlers.regress_on, "regress", context)

    def GetModelMetadata(self, request, context):  # noqa: N802
        return self._on(request, handlers.metadata_on, "metadata", context)

    def MultiInference(self, request, context):  # noqa: N802
        spec = request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()

        def run() -> Any:
            if not request.tasks:
                raise invalid("Found no tasks in MultiInferenceRequest.")
            servable = self.manager.servable(spec)
            self.server.note_version(servable)
            return handlers.multi_inference_on(servable, request)

        response = _call(self.server, "multi_inference", context, spec, run)
        self.server.request_logger.maybe_log(spec.name, "multi_inference",
                                             lambda: (request, response))
        return response


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, server: Any):
        self.server = server

    def GetModelStatus(self, request, context):  # noqa: N802
        return _call(self.server, "status", context, request.model_spec,
                     lambda: self.server.manager.status(request.model_spec))

    def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        """Applies the new config; failures are reported in the response's status, as TF
        Serving does, not as an RPC error."""
        response = model_management_pb2.ReloadConfigResponse()
        try:
            self.server.reload_config(request.config)
            log.info("reloaded config:\n%s", text_format.MessageToString(request.config))
        except ServingError as e:
            response.status.error_code = e.code.value[0]
            response.status.error_message = e.message
        return response


def _credentials(ssl_config_file: str) -> grpc.ServerCredentials | None:
    if not ssl_config_file:
        return None
    from serving.config import load_ssl_config

    ssl = load_ssl_config(ssl_config_file)
    return grpc.ssl_server_credentials(
        [(ssl.server_key.encode(), ssl.server_cert.encode())],
        root_certificates=ssl.custom_ca.encode() or None,
        require_client_auth=ssl.client_verify)


def build_grpc_server(server: Any, host: str, port: int, max_threads: int,
                      max_message_bytes: int, ssl_config_file: str = "",
                      socket_path: str = "") -> tuple[grpc.Server, int]:
    """The gRPC server on host:port (port -1: none) and/or a UNIX socket, with TLS when an
    SSL config file is given (both listeners, as TF Serving does)."""
    options = [("grpc.max_receive_message_length", max_message_bytes),
               ("grpc.max_send_message_length", -1),
               ("grpc.so_reuseport", 0)]
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_threads,
                                                         thread_name_prefix="grpc"),
                              options=options)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(server), grpc_server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(server), grpc_server)
    credentials = _credentials(ssl_config_file)

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
