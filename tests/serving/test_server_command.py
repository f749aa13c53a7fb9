"""The TF-Serving-compatible server as a command: `shipyard-model-server` (setup.py's console
script) and `python -m serving.server` both run serving.server.main with TF Serving's flags."""
from __future__ import annotations

import ast
import logging
import os
import signal
import socket
import sys
import threading
import time

import pytest

from serving import server
from tests.serving.helpers import REPO, http, save_tiny_model


def _console_scripts() -> dict[str, str]:
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            entry_points = ast.literal_eval(node.value)
            return dict(line.replace(" ", "").split("=", 1)
                        for line in entry_points["console_scripts"])
    raise AssertionError("setup.py declares no entry_points")


@pytest.fixture(autouse=True)
def _process_settings():
    """main() sets the GIL switch interval and logging for the server's process; the test
    process gets its own back."""
    interval = sys.getswitchinterval()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    sys.setswitchinterval(interval)
    root.handlers[:] = handlers
    root.setLevel(level)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_console_script_is_the_servers_main():
    scripts = _console_scripts()
    assert scripts["shipyard-model-server"] == "serving.server:main"
    assert scripts["shipyard"] == "pipelines.cli:main"


def test_main_serves_with_tf_serving_flags_until_sigterm(tmp_path, capsys):
    save_tiny_model(str(tmp_path / "m" / "1"))
    grpc_port, rest_port = _free_port(), _free_port()
    answers = []

    class Target:
        pass

    target = Target()
    target.rest_port = rest_port

    def client() -> None:
        # Once the server answers, it has its signal handlers: SIGTERM then stops it.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                answers.append(http(target, "POST", "/v1/models/m:predict",
                                    {"instances": [[1.0, 1.0]]}, timeout=5))
                break
            except OSError:
                time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        status = server.main(["--model_name", "m", "--model_base_path", str(tmp_path / "m"),
                              "--port", str(grpc_port), "--rest_api_port", str(rest_port)])
    finally:
        thread.join(timeout=30)
    assert status == 0
    assert answers == [(200, {"predictions": [{"total": 2.0, "y": [3.0, 3.0]}]})]
    assert f"READY grpc=127.0.0.1:{grpc_port} rest=127.0.0.1:{rest_port}" in \
        capsys.readouterr().out


def test_main_refuses_contradicting_flags(capsys):
    assert server.main(["--model_base_path", "/m", "--model_config_file", "/c"]) == 1
    assert capsys.readouterr().err == \
        "error: --model_config_file and --model_base_path are mutually exclusive\n"
