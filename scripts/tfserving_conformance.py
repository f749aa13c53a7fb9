"""TF Serving's own model-server test cases, run against Shipyard's model server.

    python scripts/tfserving_conformance.py [--data DIR] [--repo DIR] [--drop-flag NAME]

An extra conformance run, not part of the test suite (it needs TF Serving's test models, by
default ../shared/tfserving beside the repository; see its README). Each case restates one test
of TF Serving 2.16.1's `model_servers/tensorflow_model_server_test.py` or
`http_rest_api_handler_test.cc`: the same requests and the same expected answers, sent to
`python -m serving.server` started with the flags those tests give `tensorflow_model_server`
(`--rest_api_timeout_in_ms`, `--grpc_socket_path`, ...). Where a test builds its model at run
time, the copy under `generated/` is served; where it needs a model absent from the data
(half_plus_three, TFLite, tf_text), the case is not listed. The handler test's
"saved_model_half_plus_two_2_versions" is served from models.config.in, as in that test.

`--repo` runs another checkout's serving/ (to compare before and after a change);
`--drop-flag` leaves a flag off every server's command line. Prints one line per case and the
pass count; exits 0 when every case passes.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # scripts/ is not a package: the client comes from this checkout

from serving import rest_client  # noqa: E402

RPC_TIMEOUT = 30.0
CASES: list[tuple[str, str, Callable]] = []  # (suite, name, function of the run's Context)


def case(suite: str) -> Callable:
    def register(fn: Callable) -> Callable:
        CASES.append((suite, fn.__name__, fn))
        return fn
    return register


class Server:
    """`python -m serving.server` in a subprocess, with TF Serving's test flags."""

    def __init__(self, ctx: Context, flags: list[str], wait: bool = True):
        self.stderr_path = os.path.join(ctx.tmp, f"server-{len(ctx.servers)}.log")
        flags = [f for f in flags if f.split("=")[0].lstrip("-") not in ctx.dropped]
        env = dict(os.environ, PYTHONPATH=ctx.repo, TF_CPP_MIN_LOG_LEVEL="2")
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "serving.server", *flags], cwd=ctx.repo, env=env,
                stdout=subprocess.PIPE, stderr=stderr, text=True)
        ctx.servers.append(self)
        self.grpc = self.rest = ""
        if wait:
            line = self.process.stdout.readline()  # READY, or "" when the server stopped
            if not line.startswith("READY"):
                raise AssertionError(f"server did not start: {self.stderr()[-500:]}")
            self.grpc = line.split("grpc=")[1].split()[0]
            self.rest = line.split("rest=")[1].strip()

    def stderr(self) -> str:
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Context:
    def __init__(self, data: str, repo: str, dropped: set[str]):
        self.data, self.repo, self.dropped = data, repo, dropped
        self.tmp = tempfile.mkdtemp(prefix="tfserving-conformance-")
        self.socket = os.path.join(self.tmp, "tf-serving.sock")
        self.servers: list[Server] = []
        self._cache: dict[str, Server] = {}
        with open(os.path.join(data, "models.config.in")) as f:
            self.config = os.path.join(self.tmp, "models.config")
            with open(self.config, "w") as out:
                out.write(f.read().replace("${DATA}", data))

    def base_flags(self) -> list[str]:
        # tensorflow_model_server_test_base.RunServer's flags.
        return ["--port=0", "--rest_api_port=0", "--rest_api_timeout_in_ms=5000",
                "--file_system_poll_wait_seconds=1"]

    def server(self, key: str) -> Server:
        """The servers the cases share, started on first use."""
        if key not in self._cache:
            if key == "default":  # RunServer('default', half_plus_two) with every option used
                flags = self.base_flags() + [
                    f"--grpc_socket_path={self.socket}", "--model_name=default",
                    f"--model_base_path={self.data}/saved_model_half_plus_two_cpu",
                    f"--monitoring_config_file={self.data}/monitoring_config.txt",
                    "--grpc_channel_arguments=grpc.max_connection_age_ms=2000,"
                    "grpc.lb_policy_name=grpclb"]
            else:  # every model of models.config.in
                flags = self.base_flags() + [f"--model_config_file={self.config}"]
            self._cache[key] = Server(self, flags)
        return self._cache[key]

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- helpers ------------------------------------------------------------------------------

def stub(address: str, service: str = "prediction"):
    import grpc
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    channel = grpc.insecure_channel(address)
    return (prediction_service_pb2_grpc.PredictionServiceStub(channel) if service ==
            "prediction" else model_service_pb2_grpc.ModelServiceStub(channel))


def verify_predict(address: str, expected: float, version: int, model: str = "default",
                   specify_output: bool = True, batch_input: bool = False,
                   signature: str = "serving_default") -> None:
    """tensorflow_model_server_test_base.VerifyPredictRequest."""
    from tensorflow.core.framework import types_pb2
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].float_val.append(2.0)
    request.inputs["x"].tensor_shape.dim.add().size = 1
    if batch_input:
        request.inputs["x"].tensor_shape.dim.add().size = 1
    if specify_output:
        request.output_filter.append("y")
    result = stub(address).Predict(request, RPC_TIMEOUT)
    y = result.outputs["y"]
    assert y.dtype == types_pb2.DT_FLOAT and list(y.float_val) == [expected], y
    spec = result.model_spec
    assert (spec.name, spec.signature_name, spec.version.value) == (model, signature, version), \
        spec


def rest(server: Server, method: str, path: str, body: object = None, raw: bytes | None = None
         ) -> tuple[int, object]:
    return rest_client.call(server.rest, method, path, body, raw, timeout=RPC_TIMEOUT)


def expect(answer: tuple[int, object], status: int, body: object) -> None:
    assert answer == (status, body), f"{answer} != {(status, body)}"


def expect_error(answer: tuple[int, object], status: int, fragment: str) -> None:
    assert answer[0] == status and fragment in answer[1].get("error", ""), answer


def _examples_request(kind: str, signature: str, model: str = "default"):
    from tensorflow_serving.apis import classification_pb2, regression_pb2

    request = (classification_pb2.ClassificationRequest() if kind == "classify"
               else regression_pb2.RegressionRequest())
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    request.input.example_list.examples.add().features.feature["x"].float_list.value.append(2.0)
    return request


def _check_spec(spec, model: str, signature: str, version: int) -> None:
    assert (spec.name, spec.signature_name, spec.version.value) == (model, signature, version), \
        spec


# --- tensorflow_model_server_test.py ------------------------------------------------------

@case("model_server")
def testGetModelStatus(ctx):  # noqa: N802 - TF Serving's test names
    from tensorflow_serving.apis import get_model_status_pb2

    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "default"
    result = stub(ctx.server("default").grpc, "model").GetModelStatus(request, RPC_TIMEOUT)
    status = result.model_version_status
    assert len(status) == 1 and status[0].version == 123 and status[0].status.error_code == 0


@case("model_server")
def testGetModelMetadata(ctx):  # noqa: N802
    from tensorflow_serving.apis import get_model_metadata_pb2

    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "default"
    request.metadata_field.append("signature_def")
    result = stub(ctx.server("default").grpc).GetModelMetadata(request, RPC_TIMEOUT)
    assert (result.model_spec.name, result.model_spec.version.value) == ("default", 123)
    assert list(result.metadata) == ["signature_def"]


def _classify(ctx, model: str, server: str) -> None:
    request = _examples_request("classify", "classify_x_to_y", model)
    result = stub(ctx.server(server).grpc).Classify(request, RPC_TIMEOUT)
    classes = result.result.classifications
    assert len(classes) == 1 and len(classes[0].classes) == 1 and \
        classes[0].classes[0].score == 3.0, result
    _check_spec(result.model_spec, model, "classify_x_to_y", 123)


def _regress(ctx, model: str, server: str) -> None:
    request = _examples_request("regress", "regress_x_to_y", model)
    result = stub(ctx.server(server).grpc).Regress(request, RPC_TIMEOUT)
    assert [r.value for r in result.result.regressions] == [3.0], result
    _check_spec(result.model_spec, model, "regress_x_to_y", 123)


def _multi_inference(ctx, model: str, server: str) -> None:
    from tensorflow_serving.apis import inference_pb2

    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (("regress_x_to_y", "tensorflow/serving/regress"),
                              ("classify_x_to_y", "tensorflow/serving/classify")):
        task = request.tasks.add()
        task.model_spec.name = model
        task.model_spec.signature_name = signature
        task.method_name = method
    request.input.example_list.examples.add().features.feature["x"].float_list.value.append(2.0)
    result = stub(ctx.server(server).grpc).MultiInference(request, RPC_TIMEOUT)
    assert len(result.results) == 2
    assert result.results[0].regression_result.regressions[0].value == 3.0
    assert result.results[1].classification_result.classifications[0].classes[0].score == 3.0
    for i in range(2):
        _check_spec(result.results[i].model_spec, model,
                    request.tasks[i].model_spec.signature_name, 123)


@case("model_server")
def testClassify(ctx):  # noqa: N802
    _classify(ctx, "default", "default")


@case("model_server")
def testClassifyTf2(ctx):  # noqa: N802
    _classify(ctx, "half_plus_two_tf2", "config")


@case("model_server")
def testRegress(ctx):  # noqa: N802
    _regress(ctx, "default", "default")


@case("model_server")
def testRegressTf2(ctx):  # noqa: N802
    _regress(ctx, "half_plus_two_tf2", "config")


@case("model_server")
def testMultiInference(ctx):  # noqa: N802
    _multi_inference(ctx, "default", "default")


@case("model_server")
def testMultiInferenceTf2(ctx):  # noqa: N802
    _multi_inference(ctx, "half_plus_two_tf2", "config")


@case("model_server")
def testPredictSavedModel(ctx):  # noqa: N802
    verify_predict(ctx.server("default").grpc, 3.0, 123)


@case("model_server")
def testGoodModelConfig(ctx):  # noqa: N802
    address = ctx.server("config").grpc
    for specify_output in (True, False):
        verify_predict(address, 3.0, 123, "half_plus_two", specify_output)
        verify_predict(address, 3.0, 123, "saved_model_half_plus_two_2_versions",
                       specify_output)


@case("model_server")
def testBadModelConfig(ctx):  # noqa: N802
    server = Server(ctx, ctx.base_flags() + [
        f"--model_config_file={ctx.data}/bad_model_config.txt"], wait=False)
    server.process.wait(timeout=120)
    assert server.process.returncode != 0
    assert "Error parsing text-format tensorflow.serving.ModelServerConfig" in server.stderr()


def _reload(ctx, poll: int) -> None:
    config = os.path.join(ctx.tmp, f"reload-{poll}.config")
    template = ('model_config_list: {{ config: {{ name: "{name}", base_path: "{path}", '
                'model_platform: "tensorflow" }} }}')
    with open(config, "w") as f:
        f.write(template.format(name="half_plus_two",
                                path=f"{ctx.data}/saved_model_half_plus_two_cpu"))
    server = Server(ctx, ctx.base_flags() + [f"--model_config_file={config}",
                                             f"--model_config_file_poll_wait_seconds={poll}"])
    verify_predict(server.grpc, 3.0, 123, "half_plus_two", specify_output=False)
    # half_plus_three is not in the data: the two-version model (latest: 124) stands in.
    with open(config, "w") as f:
        f.write(template.format(name="half_plus_three",
                                path=f"{ctx.data}/saved_model_half_plus_two_2_versions"))
    time.sleep(poll + 1)
    if poll:
        deadline = time.monotonic() + 30  # the new model loads after the poll
        while True:
            try:
                verify_predict(server.grpc, 3.0, 124, "half_plus_three", specify_output=False)
                break
            except Exception:  # noqa: BLE001 - retried until the deadline
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    else:
        verify_predict(server.grpc, 3.0, 123, "half_plus_two", specify_output=False)
    server.stop()


@case("model_server")
def testModelConfigReload(ctx):  # noqa: N802
    _reload(ctx, 1)


@case("model_server")
def testModelConfigReloadWithZeroPollPeriod(ctx):  # noqa: N802
    _reload(ctx, 0)


@case("model_server")
def testGoodGrpcChannelArgs(ctx):  # noqa: N802
    verify_predict(ctx.server("default").grpc, 3.0, 123, specify_output=False)


@case("model_server")
def testClassifyREST(ctx):  # noqa: N802
    expect(rest(ctx.server("default"), "POST", "/v1/models/default:classify",
                {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}),
           200, {"results": [[["", 3.0]]]})


@case("model_server")
def testRegressREST(ctx):  # noqa: N802
    expect(rest(ctx.server("default"), "POST", "/v1/models/default:regress",
                {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}),
           200, {"results": [3.0]})


@case("model_server")
def testPredictREST(ctx):  # noqa: N802
    expect(rest(ctx.server("default"), "POST", "/v1/models/default:predict",
                {"instances": [2.0, 3.0, 4.0]}), 200, {"predictions": [3.0, 3.5, 4.0]})


@case("model_server")
def testPredictColumnarREST(ctx):  # noqa: N802
    expect(rest(ctx.server("default"), "POST", "/v1/models/default:predict",
                {"inputs": [2.0, 3.0, 4.0]}), 200, {"outputs": [3.0, 3.5, 4.0]})


AVAILABLE_123 = {"model_version_status": [{"version": "123", "state": "AVAILABLE", "status": {
    "error_code": "OK", "error_message": ""}}]}


@case("model_server")
def testGetStatusREST(ctx):  # noqa: N802
    expect(rest(ctx.server("default"), "GET", "/v1/models/default"), 200, AVAILABLE_123)


def _sorted(value: object) -> object:
    """tensorflow_model_server_test_base.SortedObject: lists compared as multisets."""
    if isinstance(value, dict):
        return sorted((k, _sorted(v)) for k, v in value.items())
    if isinstance(value, list):
        return sorted(_sorted(v) for v in value)
    return value


@case("model_server")
def testGetModelMetadataREST(ctx):  # noqa: N802
    with open(os.path.join(ctx.data, "half_plus_two_model_metadata.json")) as f:
        expected = json.load(f)
    status, body = rest(ctx.server("default"), "GET", "/v1/models/default/metadata")
    assert status == 200 and _sorted(body) == _sorted(expected), body


@case("model_server")
def testPrometheusEndpoint(ctx):  # noqa: N802
    status, body = rest(ctx.server("default"), "GET", "/monitoring/prometheus/metrics")
    assert status == 200 and "# TYPE" in body, body


@case("model_server")
def testPredictUDS(ctx):  # noqa: N802
    ctx.server("default")
    verify_predict(f"unix:{ctx.socket}", 3.0, 123, specify_output=False)


@case("model_server")
def test_tf_saved_model_save(ctx):
    verify_predict(ctx.server("config").grpc, 12.0, 123, "tf_saved_model_save",
                   specify_output=False)


@case("model_server")
def test_tf_saved_model_save_multiple_signatures(ctx):
    address = ctx.server("config").grpc
    verify_predict(address, 2.0, 123, "tf_saved_model_save_multiple_signatures",
                   signature="custom_signature_key")
    verify_predict(address, 1.0, 123, "tf_saved_model_save_multiple_signatures")


@case("model_server")
def test_sequential_keras_saved_model_save(ctx):
    verify_predict(ctx.server("config").grpc, 2.0, 123, "keras_sequential_saved_model_save",
                   specify_output=False, batch_input=True)


@case("model_server")
def test_distrat_sequential_keras_saved_model_save(ctx):
    verify_predict(ctx.server("config").grpc, 2.0, 123,
                   "distrat_sequential_keras_saved_model_save", specify_output=False,
                   batch_input=True)


# --- http_rest_api_handler_test.cc --------------------------------------------------------

TWO = "saved_model_half_plus_two_2_versions"


@case("rest_handler")
def UnsupportedApiCalls(ctx):  # noqa: N802
    server = ctx.server("config")
    for method, path, fragment in (
            ("GET", "/v1/foo", "Malformed request"),
            ("POST", "/v1/foo", "Malformed request"),
            ("GET", "/v1/models", "Missing model name"),
            ("GET", "/v1/models/debug/model_name", "Malformed request"),
            ("POST", "/v1/models", "Malformed request"),
            ("GET", "/v1/models/foo:predict", "Malformed request"),
            ("GET", "/v1/models/foo/version/50:predict", "Malformed request"),
            ("POST", "/v1/models/foo/version/50:regress", "Malformed request"),
            ("POST", "/v1/models/foo/versions/HELLO:regress", "Malformed request"),
            ("POST", f"/v1/models/foo/versions/{2**64 - 1}:regress",
             "Failed to convert version"),
            ("POST", "/v1/models/foo/metadata", "Malformed request"),
            ("POST", "/v1/models/foo/label/some_label:regress", "Malformed request"),
            ("POST", "/v1/models/foo/versions/50/labels/some_label:regress",
             "Malformed request"),
            ("POST", "/v1/models/foo/versions/some_label:regress", "Malformed request")):
        answer = rest(server, method, path, raw=b"" if method == "POST" else None)
        assert isinstance(answer[1], dict) and fragment in answer[1].get("error", ""), \
            (method, path, answer)


@case("rest_handler")
def PredictModelNameVersionErrors(ctx):  # noqa: N802
    server = ctx.server("config")
    for path in ("/v1/models/foo:predict", "/v1/models/foo/versions/50:predict",
                 f"/v1/models/{TWO}99:predict"):
        status, _ = rest(server, "POST", path, {"instances": [1]})
        assert status == 404, (path, status)


@case("rest_handler")
def PredictRequestErrors(ctx):  # noqa: N802
    server, path = ctx.server("config"), f"/v1/models/{TWO}:predict"
    expect_error(rest(server, "POST", path, raw=b""), 400,
                 "JSON Parse error: The document is empty")
    expect_error(rest(server, "POST", path, raw=b"instances = [1, 2]"), 400,
                 "JSON Parse error: Invalid value")
    expect_error(rest(server, "POST", path, {"instances": ["x", "y"]}), 400,
                 "not of expected type: float")
    expect_error(rest(server, "POST", f"/v1/models/{TWO}/labels/Version_Nonexistent:predict",
                      {"instances": ["x", "y"]}), 400, "Unrecognized servable version label")
    expect_error(rest(server, "POST", path, {"signature_name": 100}), 400,
                 "'signature_name' key must be a string value.")


@case("rest_handler")
def Predict(ctx):  # noqa: N802
    # The handler test's first request sends [2, 2] instances to its own model; the test data
    # model takes [N, 1], so that request is left out.
    server = ctx.server("config")
    for path in (f"/v1/models/{TWO}/versions/123:predict",
                 f"/v1/models/{TWO}/labels/Version_Label:predict"):
        expect(rest(server, "POST", path, {"instances": [1.0, 2.0]}), 200,
               {"predictions": [2.5, 3.0]})
    path = f"/v1/models/{TWO}/versions/123:predict"
    expect(rest(server, "POST", path, {"signature_name": "serving_default",
                                       "instances": [3.0, 4.0]}), 200,
           {"predictions": [3.5, 4.0]})
    expect(rest(server, "POST", path, {"signature_name": "serving_default",
                                       "inputs": [3.0, 4.0]}), 200, {"outputs": [3.5, 4.0]})


@case("rest_handler")
def Regress(ctx):  # noqa: N802
    server = ctx.server("config")
    for path in (f"/v1/models/{TWO}:regress", f"/v1/models/{TWO}/versions/123:regress",
                 f"/v1/models/{TWO}/labels/Version_Label:regress"):
        expect(rest(server, "POST", path, {"signature_name": "regress_x_to_y",
                                           "examples": [{"x": 80.0}]}), 200, {"results": [42]})


@case("rest_handler")
def Classify(ctx):  # noqa: N802
    server = ctx.server("config")
    expect(rest(server, "POST", f"/v1/models/{TWO}:classify",
                {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]}), 200,
           {"results": [[["", 12]]]})
    expect(rest(server, "POST", f"/v1/models/{TWO}/labels/Version_Label:classify",
                {"signature_name": "classify_x_to_y", "examples": [{"x": 10.0}]}), 200,
           {"results": [[["", 7]]]})


@case("rest_handler")
def GetStatus(ctx):  # noqa: N802
    server = ctx.server("config")
    for path in (f"/v1/models/{TWO}", f"/v1/models/{TWO}/versions/123",
                 f"/v1/models/{TWO}/labels/Version_Label"):
        expect(rest(server, "GET", path), 200, AVAILABLE_123)


@case("rest_handler")
def GetModelMetadata(ctx):  # noqa: N802
    with open(os.path.join(ctx.data, f"{TWO}_metadata.json")) as f:
        expected = json.load(f)
    expect(rest(ctx.server("config"), "GET", f"/v1/models/{TWO}/metadata"), 200, expected)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(os.path.dirname(REPO), "shared",
                                                       "tfserving"))
    parser.add_argument("--repo", default=REPO, help="checkout whose serving/ is run")
    parser.add_argument("--drop-flag", action="append", default=[],
                        help="leave this flag off the servers' command lines (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="tracebacks of failures")
    args = parser.parse_args()
    if not os.path.isdir(args.data):
        print(f"error: no TF Serving test data at {args.data}", file=sys.stderr)
        return 2
    ctx = Context(os.path.abspath(args.data), os.path.abspath(args.repo), set(args.drop_flag))
    passed = 0
    try:
        for suite, name, fn in CASES:
            try:
                fn(ctx)
                passed += 1
                print(f"PASS {suite}.{name}", flush=True)
            except Exception as e:  # noqa: BLE001 - a failing case is reported, not raised
                first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
                print(f"FAIL {suite}.{name}: {type(e).__name__}: {first}", flush=True)
                if args.verbose:
                    traceback.print_exc()
    finally:
        ctx.close()
    print(f"{passed} of {len(CASES)} TF Serving cases pass")
    return 0 if passed == len(CASES) else 1


if __name__ == "__main__":
    sys.exit(main())
