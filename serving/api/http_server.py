"""The REST listener: aiohttp's asynchronous HTTP server in front of serving.api.rest.RestApi.

aiohttp parses HTTP, keeps connections alive and accepts with a deep listen backlog, so bursts
of clients that open a connection per request are queued rather than reset (the standard
library's server had a backlog of 5). The event loop runs in one thread; each request's work
(JSON, the model call, the answer) runs on a thread pool of --rest_api_num_threads, so one
slow model call never stalls the other connections, and a call longer than
--rest_api_timeout_in_ms answers 504. Only a request alone on the server whose kind is known to
be quick runs on the loop thread, sparing the two hand-overs (serving.api.inline).
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import urllib.parse
from concurrent import futures

from aiohttp import web

from serving.api.inline import InlineCalls
from serving.api.metrics import Metrics
from serving.api.rest import RestAnswer, RestApi

log = logging.getLogger("serving.rest")

# Pending connections the kernel queues before accept() (capped by net.core.somaxconn).
LISTEN_BACKLOG = 1024
KEEPALIVE_SECONDS = 75.0  # an idle kept-alive connection is closed after this
_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, GET",
         "Access-Control-Allow-Headers": "Content-Type"}


def _error(message: str) -> str:
    return json.dumps({"error": message})


class RestServer:
    """The HTTP listener on host:port (0 picks a free port); `start()` returns once bound."""

    def __init__(self, host: str, port: int, api: RestApi, metrics: Metrics,
                 metrics_path: str | None, max_request_bytes: int, enable_cors: bool = False,
                 num_threads: int = 16, timeout_seconds: float = 30.0):
        self.api = api
        self.metrics = metrics
        self.metrics_path = metrics_path  # None: Prometheus metrics are not served
        self.max_request_bytes = max_request_bytes
        self.enable_cors = enable_cors
        self.timeout_seconds = timeout_seconds if timeout_seconds > 0 else None
        # Inline only where the timeout could not have fired: well under it.
        self.inline_limit = None if self.timeout_seconds is None else self.timeout_seconds / 10
        # Bound here, so a taken port fails the server's start with OSError, as before.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.port = self._socket.getsockname()[1]
        self._executor = futures.ThreadPoolExecutor(max_workers=max(1, num_threads),
                                                    thread_name_prefix="rest")
        self.inline = InlineCalls()
        self._loop = asyncio.new_event_loop()
        self._runner: web.ServerRunner | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        started: futures.Future = futures.Future()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._listen())
            except BaseException as e:  # noqa: BLE001 - handed to start()'s caller
                started.set_exception(e)
                return
            started.set_result(None)
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="rest", daemon=True)
        self._thread.start()
        started.result(timeout=60)

    async def _listen(self) -> None:
        server = web.Server(self._handle, access_log=None, keepalive_timeout=KEEPALIVE_SECONDS)
        self._runner = web.ServerRunner(server, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket, backlog=LISTEN_BACKLOG).start()

    def stop(self) -> None:
        """Stops listening and closes connections (in-flight calls get a few seconds)."""
        if self._thread is not None and self._thread.is_alive():
            if self._runner is not None:
                cleanup = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
                try:
                    cleanup.result(timeout=10)
                except (futures.TimeoutError, RuntimeError) as e:
                    log.warning("REST server did not stop cleanly: %s", e)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._socket.close()
        self._executor.shutdown(wait=False)

    # --- requests --------------------------------------------------------------------------

    def _response(self, status: int, body: str, content_type: str = "application/json",
                  close: bool = False) -> web.Response:
        response = web.Response(status=status, body=body.encode("utf-8"),
                                headers={"Content-Type": content_type})
        if self.enable_cors:
            response.headers.update(_CORS)
        if close:
            response.force_close()
        return response

    async def _read_body(self, request: web.BaseRequest) -> bytes | web.Response:
        """The body, or the 413 answer when it is larger than --max_request_bytes (checked
        before reading when Content-Length says so, else while reading a chunked body)."""
        limit = self.max_request_bytes
        if request.content_length is not None and request.content_length > limit:
            return self._response(413, _error(
                f"Request body of {request.content_length} bytes exceeds the server's limit of "
                f"{limit} bytes"), close=True)
        chunks, size = [], 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > limit:
                return self._response(413, _error(
                    f"Request body of over {limit} bytes exceeds the server's limit of "
                    f"{limit} bytes"), close=True)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _in_pool(self, method: str, path: str, body: bytes) -> RestAnswer:
        work = self._loop.run_in_executor(self._executor, self.api.handle, method, path, body)
        try:
            return await asyncio.wait_for(work, self.timeout_seconds)
        except asyncio.TimeoutError:
            # The call goes on in its thread; the client gets TF Serving's DEADLINE_EXCEEDED.
            return RestAnswer(504, _error(
                f"Deadline exceeded: the request took longer than {self.timeout_seconds:g} s "
                "(--rest_api_timeout_in_ms)"), "", "unknown", "")

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        method, path = request.method, request.raw_path
        if method not in ("GET", "POST"):
            return self._response(400, _error(
                f"Malformed request: {method} {urllib.parse.urlsplit(path).path}"))
        body = await self._read_body(request)
        if isinstance(body, web.Response):
            return body
        if method == "GET" and self.metrics_path and \
                urllib.parse.urlsplit(path).path == self.metrics_path:
            return self._response(200, self.metrics.render(), "text/plain; version=0.0.4")
        start = time.perf_counter()
        if method != "POST":
            body = b""
        kind = (method, path, len(body))
        self.inline.in_flight += 1
        try:
            if self.inline.inline(kind, self.inline_limit):
                answer = self.api.handle(method, path, body)
            else:
                answer = await self._in_pool(method, path, body)
            if answer.status != 504:
                self.inline.record(kind, time.perf_counter() - start)
        finally:
            self.inline.in_flight -= 1
        self.metrics.record_request("REST", answer.model, answer.api, answer.status,
                                    answer.version, time.perf_counter() - start)
        return self._response(answer.status, answer.body)
