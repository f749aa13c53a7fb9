"""Serving infra-validation: the candidate model must load in Shipyard's model server and answer
its warm-up requests through the official gRPC client within a deadline.

TFX's own InfraValidator needs Docker or Kubernetes to run TF Serving; this one starts
`python -m serving.server` (which speaks TF Serving's APIs) in a subprocess on a temporary
base path holding the candidate as version 1. It writes an InfraBlessing the way TFX's does
(custom property `blessed` = 1 / 0 and an INFRA_BLESSED / INFRA_NOT_BLESSED file), so the
standard Pusher (and the atomic pusher) refuse a model that is not blessed.
"""
from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import io_utils, path_utils

BLESSED_FILE = "INFRA_BLESSED"
NOT_BLESSED_FILE = "INFRA_NOT_BLESSED"
DEFAULT_DEADLINE_SECONDS = 300
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start_server(base_path: str, model_name: str, log_file: Any) -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(filter(None, [PROJECT_ROOT,
                                                        os.environ.get("PYTHONPATH")])))
    return subprocess.Popen(
        [sys.executable, "-m", "serving.server", "--port=0", "--rest_api_port=-1",
         f"--model_name={model_name}", f"--model_base_path={base_path}",
         "--file_system_poll_wait_seconds=0"],
        # stderr to a file: a pipe nobody drains would block a chatty server.
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True)


def _wait_ready(process: subprocess.Popen, deadline: float, log_path: str) -> int:
    """The gRPC port from the server's READY line, or raises TimeoutError / RuntimeError."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout] and None,
                     daemon=True).start()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the model server did not start before the deadline")
        try:
            line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            if process.poll() is not None and lines.empty():
                with open(log_path, errors="replace") as f:
                    stderr = f.read().strip().splitlines()
                raise RuntimeError("the model server exited with status "
                                   f"{process.returncode}: {stderr[-1] if stderr else ''}"
                                   ) from None
            continue
        if line.startswith("READY grpc="):
            return int(line.split()[1].rsplit(":", 1)[1])


def _check(model_dir: str, model_name: str, deadline: float) -> str:
    """Runs the server on the candidate and replays its warm-up; '' if it passed."""
    import grpc
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        prediction_service_pb2_grpc,
    )

    from serving.core.warmup import warmup_records

    try:
        records = warmup_records(model_dir)
    except Exception as e:  # noqa: BLE001 - an unreadable warm-up file fails validation
        return f"cannot read the warm-up requests: {getattr(e, 'message', e)}"
    base = tempfile.mkdtemp(prefix="infra-validation-")
    process = None
    try:
        shutil.copytree(model_dir, os.path.join(base, model_name, "1"))
        log_path = os.path.join(base, "server.log")
        with open(log_path, "w") as log_file:
            process = _start_server(os.path.join(base, model_name), model_name, log_file)
        port = _wait_ready(process, deadline, log_path)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            def remaining() -> float:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the deadline passed while sending warm-up requests")
                return left

            status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
                get_model_status_pb2.GetModelStatusRequest(model_spec={"name": model_name}),
                timeout=remaining())
            version = status.model_version_status[0]
            if version.state != get_model_status_pb2.ModelVersionStatus.AVAILABLE:
                return f"the model did not load: {version.status.error_message}"
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            stub.GetModelMetadata(get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec={"name": model_name}, metadata_field=["signature_def"]),
                timeout=remaining())
            for index, log in enumerate(records):
                kind = log.WhichOneof("log_type")
                request = getattr(log, kind).request
                request.model_spec.name = model_name
                request.model_spec.ClearField("version_choice")
                method = {"predict_log": stub.Predict, "classify_log": stub.Classify,
                          "regress_log": stub.Regress,
                          "multi_inference_log": stub.MultiInference}.get(kind)
                if method is None:
                    return f"warm-up request {index}: unsupported log type {kind}"
                if kind == "multi_inference_log":
                    for task in request.tasks:
                        task.model_spec.name = model_name
                try:
                    method(request, timeout=remaining())
                except grpc.RpcError as e:
                    return f"warm-up request {index} failed: {e.code().name}: {e.details()}"
        return ""
    except (TimeoutError, RuntimeError, OSError) as e:
        return str(e)
    except grpc.RpcError as e:
        return f"{e.code().name}: {e.details()}"
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def validate_model(model_dir: str, deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
                   model_name: str = "candidate") -> tuple[bool, str]:
    """(blessed, reason): loads model_dir in a model-server subprocess and replays warm-up."""
    start = time.monotonic()
    problem = _check(model_dir, model_name, start + deadline_seconds)
    elapsed = time.monotonic() - start
    if problem:
        return False, problem
    return True, f"loaded and answered its warm-up requests in {elapsed:.1f} s"


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],  # noqa: N802 - TFX interface
           output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict["model"])
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        model_dir = path_utils.serving_model_path(model.uri,
                                                  path_utils.is_old_model_artifact(model))
        blessed, reason = validate_model(
            model_dir, float(exec_properties.get("deadline_seconds") or
                             DEFAULT_DEADLINE_SECONDS),
            exec_properties.get("model_name") or "candidate")
        io_utils.write_string_file(
            os.path.join(blessing.uri, BLESSED_FILE if blessed else NOT_BLESSED_FILE), reason)
        blessing.set_int_custom_property("blessed", 1 if blessed else 0)
        blessing.set_string_custom_property("reason", reason)


class ServingInfraValidatorSpec(types.ComponentSpec):
    PARAMETERS = {
        "deadline_seconds": ExecutionParameter(type=int, optional=True),
        "model_name": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {"model": ChannelParameter(type=standard_artifacts.Model)}
    OUTPUTS = {"blessing": ChannelParameter(type=standard_artifacts.InfraBlessing)}


class ServingInfraValidator(base_component.BaseComponent):
    """Blesses a Model only if Shipyard's model server loads it and answers its warm-up
    requests (sent through the official gRPC stubs) within `deadline_seconds`."""

    SPEC_CLASS = ServingInfraValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel,
                 deadline_seconds: int = DEFAULT_DEADLINE_SECONDS,
                 model_name: str = "candidate"):
        super().__init__(spec=ServingInfraValidatorSpec(
            model=model, deadline_seconds=deadline_seconds, model_name=model_name,
            blessing=types.Channel(type=standard_artifacts.InfraBlessing)))
