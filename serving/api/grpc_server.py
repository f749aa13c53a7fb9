"""TF Serving's gRPC services (PredictionService, ModelService) on grpcio's asyncio server,
with the official servicer bases from tensorflow-serving-api.

One event loop thread takes every RPC: parsing, lookup and the answer run on it, and a model
call is awaited, never waited for by a blocked thread. With batching on, Predict hands its
inputs to the batch scheduler and awaits the batch; otherwise the call runs on a pool of
--grpc_max_threads threads (TensorFlow releases the GIL while it computes), as do the RPCs
whose work is mostly a model call or a model load (Classify, Regress, MultiInference, config
reloads). A thread per RPC, as grpcio's synchronous server runs them, spent most of a
request's CPU time on the GIL handing over between those threads. One exception: an
unbatched Predict alone on the server whose call is known to be short runs it on the loop
thread, sparing the two hand-overs (serving.api.inline).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
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
from serving.api.batching import BatchScheduler
from serving.api.inline import InlineCalls
from serving.api.metrics import Metrics
from serving.api.request_log import ServerRequestLogger
from serving.config.ssl_config import SSLConfig
from serving.core.errors import ServingError, invalid
from serving.core.loader import DEFAULT_SIGNATURE, Servable
from serving.core.manager import ModelManager

log = logging.getLogger("serving.grpc")

# A handler of one RPC on the servable its ModelSpec names (a coroutine).
Handler = Callable[[Servable, Any], Awaitable[Any]]


class _Call:
    """One RPC's metrics: timed from creation; `version` is set once a servable is found."""

    def __init__(self, metrics: Metrics, api: str, model: str):
        self.metrics, self.api, self.model = metrics, api, model
        self.version = ""
        self._start = time.perf_counter()

    async def run(self, context: grpc.aio.ServicerContext,
                  work: Callable[[], Awaitable[Any]]) -> Any:
        """Runs the RPC: errors become gRPC statuses, never exceptions out of the servicer."""
        status = 500
        try:
            response = await work()
            status = 200
            return response
        except ServingError as e:
            status = e.http_status
            await context.abort(e.code, e.message)
        except Exception as e:  # noqa: BLE001 - report, keep serving
            log.exception("internal error in %s", self.api)
            await context.abort(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")
        finally:
            self.metrics.record_request("GRPC", self.model, self.api, status, self.version,
                                        time.perf_counter() - self._start)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, manager: ModelManager, request_logger: ServerRequestLogger,
                 metrics: Metrics, scheduler: BatchScheduler | None = None):
        self.manager = manager
        self.request_logger = request_logger
        self.metrics = metrics
        self.scheduler = scheduler
        self.pool: futures.ThreadPoolExecutor | None = None  # set by GrpcServer
        self.inline = InlineCalls()  # counts Predict, Classify, ... RPCs in flight

    async def _in_pool(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def _threaded(self, handler: Callable[[Servable, Any], Any]) -> Handler:
        """A synchronous handler run on the pool."""
        return lambda servable, request: self._in_pool(handler, servable, request)

    async def _serve(self, api: str, spec: model_pb2.ModelSpec, request: Any, handler: Handler,
                     context: grpc.aio.ServicerContext,
                     check: Callable[[], None] | None = None) -> Any:
        """Looks up the servable, runs `handler` on it, records the metrics."""
        call = _Call(self.metrics, api, spec.name)

        async def work() -> Any:
            if check is not None:
                check()
            servable = self.manager.servable(spec)
            call.version = str(servable.version)
            return await handler(servable, request)

        self.inline.in_flight += 1
        try:
            return await call.run(context, work)
        finally:
            self.inline.in_flight -= 1

    async def _call_model(self, servable: Servable, signature: str,
                          inputs: dict[str, Any]) -> dict[str, Any]:
        """servable.call, on the loop thread or the pool (serving.api.inline)."""
        kind = (servable.name, servable.version, signature,
                tuple((name, value.shape) for name, value in sorted(inputs.items())))
        start = time.perf_counter()
        if self.inline.inline(kind):
            outputs = servable.call(signature, inputs)
        else:
            outputs = await self._in_pool(servable.call, signature, inputs)
        self.inline.record(kind, time.perf_counter() - start)
        return outputs

    async def _logged(self, api: str, spec: model_pb2.ModelSpec, request: Any,
                      handler: Handler, context: grpc.aio.ServicerContext,
                      check: Callable[[], None] | None = None) -> Any:
        """_serve, then the request log of the successful call."""
        response = await self._serve(api, spec, request, handler, context, check)
        self.request_logger.maybe_log(spec.name, api, lambda: (request, response))
        return response

    async def _predict(self, servable: Servable, request: Any) -> Any:
        inputs = handlers.predict_inputs(servable, request)
        signature = request.model_spec.signature_name or DEFAULT_SIGNATURE
        batched = (self.scheduler.submit(servable, signature, inputs)
                   if self.scheduler is not None else None)
        if batched is not None:
            outputs = await asyncio.wrap_future(batched)
        else:
            outputs = await self._call_model(servable, signature, inputs)
        return handlers.predict_response(servable, request, outputs)

    async def Predict(self, request, context):  # noqa: N802 - gRPC method names
        return await self._logged("predict", request.model_spec, request, self._predict,
                                  context)

    async def Classify(self, request, context):  # noqa: N802
        return await self._logged("classify", request.model_spec, request,
                                  self._threaded(handlers.classify_on), context)

    async def Regress(self, request, context):  # noqa: N802
        return await self._logged("regress", request.model_spec, request,
                                  self._threaded(handlers.regress_on), context)

    async def GetModelMetadata(self, request, context):  # noqa: N802
        return await self._serve("metadata", request.model_spec, request,
                                 self._threaded(handlers.metadata_on), context)

    async def MultiInference(self, request, context):  # noqa: N802
        # The model is the first task's; no task at all is refused before any lookup.
        spec = request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()

        def check() -> None:
            if not request.tasks:
                raise invalid("Found no tasks in MultiInferenceRequest.")

        return await self._logged("multi_inference", spec, request,
                                  self._threaded(handlers.multi_inference_on), context, check)


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager: ModelManager, metrics: Metrics,
                 reload_config: Callable[[model_server_config_pb2.ModelServerConfig], None]):
        self.manager = manager
        self.metrics = metrics
        self.reload_config = reload_config
        self.pool: futures.ThreadPoolExecutor | None = None  # set by GrpcServer

    async def GetModelStatus(self, request, context):  # noqa: N802
        call = _Call(self.metrics, "status", request.model_spec.name)

        async def work() -> Any:
            return self.manager.status(request.model_spec)

        return await call.run(context, work)

    async def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        """Applies the new config (loading models: on the pool); failures are reported in the
        response's status, as TF Serving does, not as an RPC error."""
        response = model_management_pb2.ReloadConfigResponse()
        try:
            await asyncio.get_running_loop().run_in_executor(self.pool, self.reload_config,
                                                             request.config)
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


class GrpcServer:
    """The gRPC server on host:port (port -1: none) and/or a UNIX socket, with TLS when an
    SSL config is given (both listeners, as TF Serving does), on its own event loop thread.
    `channel_arguments` (--grpc_channel_arguments) override the defaults here."""

    def __init__(self, prediction: PredictionServicer, model: ModelServicer, host: str,
                 port: int, max_threads: int, max_message_bytes: int,
                 ssl: SSLConfig | None = None, socket_path: str = "",
                 channel_arguments: Sequence[tuple[str, int | str]] = ()):
        self.prediction, self.model = prediction, model
        self.host, self.port, self.socket_path = host, port, socket_path
        self.ssl = ssl
        self.options = {"grpc.max_receive_message_length": max_message_bytes,
                        "grpc.max_send_message_length": -1,
                        "grpc.so_reuseport": 0}
        self.options.update(channel_arguments)
        self.pool = futures.ThreadPoolExecutor(max_workers=max(1, max_threads),
                                               thread_name_prefix="grpc")
        prediction.pool = model.pool = self.pool
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="grpc-loop",
                                        daemon=True)
        self._server: grpc.aio.Server | None = None

    def start(self) -> int:
        """Binds and starts serving; the bound TCP port (0 without one). OSError when a
        listener cannot bind."""
        self._thread.start()
        try:
            return asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        except BaseException:
            self._close_loop()
            raise

    async def _start(self) -> int:
        server = grpc.aio.server(options=list(self.options.items()))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(self.prediction,
                                                                            server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(self.model, server)
        credentials = _credentials(self.ssl)

        def listen(address: str) -> int:
            try:
                return (server.add_secure_port(address, credentials) if credentials
                        else server.add_insecure_port(address))
            except RuntimeError:  # grpc.aio raises where the synchronous server returned 0
                return 0

        bound = 0
        if self.port >= 0:
            address = (f"[{self.host}]:{self.port}" if ":" in self.host
                       else f"{self.host}:{self.port}")
            bound = listen(address)
            if bound == 0:
                raise OSError(f"cannot bind gRPC port {address}")
        if self.socket_path and listen(f"unix:{self.socket_path}") == 0:
            raise OSError(f"cannot listen on UNIX socket {self.socket_path}")
        await server.start()
        self._server = server
        return bound

    def stop(self, grace: float) -> None:
        """Stops taking RPCs and lets in-flight ones finish, up to `grace` seconds."""
        if self._server is not None:
            stopping = asyncio.run_coroutine_threadsafe(self._server.stop(grace), self._loop)
            try:
                stopping.result(grace + 1)
            except futures.TimeoutError:
                log.warning("gRPC server did not stop within %.1f s", grace + 1)
            self._server = None
        self._close_loop()

    def _close_loop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()
        self.pool.shutdown(wait=False)
