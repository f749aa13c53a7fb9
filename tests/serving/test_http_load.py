"""The REST listener under load and abuse: clients opening a connection per request across a
version swap, malformed and oversized requests, slow calls and --rest_api_timeout_in_ms."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.client import HTTPConnection

import pytest

from tests.serving.helpers import copy_version, http, running_server, save_tiny_model

CLIENTS = 32
SECONDS = 3.0


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    root = tmp_path_factory.mktemp("load")
    return (save_tiny_model(str(root / "k2"), k=2.0), save_tiny_model(str(root / "k3"), k=3.0))


def _post(port: int, path: str, body: bytes, headers: dict | None = None
          ) -> tuple[int, dict]:
    """One request on a new connection, closed afterwards (as urllib or requests without a
    session do)."""
    connection = HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_connection_per_request_clients_across_a_version_swap(tmp_path, versions):
    base = str(tmp_path / "m")
    copy_version(versions[0], base, 1)
    body = json.dumps({"instances": [[1.0, 1.0]]}).encode()
    answers: dict[tuple, int] = {}
    failures: list[str] = []
    lock = threading.Lock()
    with running_server(model_name="m", model_base_path=base,
                        file_system_poll_wait_seconds=0.2) as server:
        stop_at = time.monotonic() + SECONDS
        swapped = threading.Event()

        def client() -> None:
            # Runs for SECONDS, and on until version 2 (k=3: y = 4) has answered.
            while time.monotonic() < stop_at or not swapped.is_set():
                if time.monotonic() > stop_at + 60:
                    return
                try:
                    status, answer = _post(server.rest_port, "/v1/models/m:predict", body)
                except Exception as e:  # noqa: BLE001 - every failure is counted
                    with lock:
                        failures.append(repr(e))
                    continue
                key = (status, json.dumps(answer, sort_keys=True))
                with lock:
                    answers[key] = answers.get(key, 0) + 1
                if status == 200 and answer["predictions"][0]["y"] == [4.0, 4.0]:
                    swapped.set()

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(SECONDS / 3)
        copy_version(versions[1], base, 2)  # version 2 loads, then version 1 unloads
        for thread in threads:
            thread.join(timeout=120)
    assert failures == []
    assert set(answers) == {
        (200, '{"predictions": [{"total": 2.0, "y": [3.0, 3.0]}]}'),
        (200, '{"predictions": [{"total": 2.0, "y": [4.0, 4.0]}]}')}
    assert sum(answers.values()) > CLIENTS


@pytest.fixture(scope="module")
def small_limit(versions, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("limit") / "m")
    copy_version(versions[0], base, 1)
    with running_server(model_name="m", model_base_path=base, max_request_bytes=64 << 10,
                        file_system_poll_wait_seconds=0) as server:
        yield server


@pytest.mark.parametrize("body, status, message", [
    (b"instances = [1, 2]", 400, "JSON Parse error: Invalid value. at offset: 0"),
    (b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400,
     "JSON Parse error: Nesting is deeper than 256 levels."),
    (b'{"instances": [[1.0, 2.0]], "signature_name": "nope"}', 400,
     'Serving signature name: "nope" not found in signature def'),
    (b'{"instances": [' + b"1.0, " * 20000 + b"1.0]}", 413,
     "Request body of 100020 bytes exceeds the server's limit of 65536 bytes"),
])
def test_malformed_requests_answer_4xx_with_tf_serving_errors(small_limit, body, status,
                                                              message):
    assert _post(small_limit.rest_port, "/v1/models/m:predict", body) == \
        (status, {"error": message})
    assert _post(small_limit.rest_port, "/v1/models/nope:predict", b'{"instances": [1]}') == \
        (404, {"error": "Servable not found for request: Latest(nope)"})


def test_chunked_bodies_are_read_and_limited(small_limit):
    def chunked(parts: list[bytes]) -> tuple[int, dict]:
        connection = HTTPConnection("127.0.0.1", small_limit.rest_port, timeout=60)
        try:
            connection.request("POST", "/v1/models/m:predict", body=iter(parts),
                               encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    assert chunked([b'{"instances": ', b"[[1.0, 2.0]]}"]) == \
        (200, {"predictions": [{"total": 3.0, "y": [3.0, 5.0]}]})
    assert chunked([b'{"instances": [', b"1.0, " * 20000, b"1.0]}"]) == \
        (413, {"error": "Request body of over 65536 bytes exceeds the server's limit of "
                        "65536 bytes"})


def test_bad_http_is_refused_and_the_server_goes_on(small_limit):
    with socket.create_connection(("127.0.0.1", small_limit.rest_port), timeout=30) as s:
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.0 400 Bad Request\r\n")
    assert http(small_limit, "GET", "/v1/models/m")[0] == 200


def test_a_slow_call_times_out_without_blocking_other_requests(tmp_path, versions):
    # Batches wait up to 3 s for company: a lone predict is slow, deterministically.
    batching = tmp_path / "batching.txt"
    batching.write_text("max_batch_size { value: 64 }\nbatch_timeout_micros { value: 3000000 }\n")
    base = str(tmp_path / "m")
    copy_version(versions[0], base, 1)
    with running_server(model_name="m", model_base_path=base, enable_batching=True,
                        batching_parameters_file=str(batching), rest_api_timeout_in_ms=1000,
                        enable_model_warmup=False, file_system_poll_wait_seconds=0) as server:
        finished: list[str] = []
        slow_answer: list = []

        def slow() -> None:
            slow_answer.append(_post(server.rest_port, "/v1/models/m:predict",
                                     b'{"instances": [[1.0, 2.0]]}'))
            finished.append("predict")

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.2)
        # The event loop answers while the predict waits in its thread.
        assert http(server, "GET", "/v1/models/m")[0] == 200
        finished.append("status")
        thread.join(timeout=60)
    assert finished == ["status", "predict"]
    assert slow_answer == [(504, {"error": "Deadline exceeded: the request took longer than "
                                           "1 s (--rest_api_timeout_in_ms)"})]
