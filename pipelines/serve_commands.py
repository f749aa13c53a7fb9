"""`shipyard serve`, `shipyard predict` and `shipyard deploy-config`: the model server's commands
in the `shipyard` CLI. The server's library raises its own errors (serving.core.errors); they
become one-line ShipyardErrors here."""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

from pipelines.errors import ShipyardError

DEFAULT_OUTPUT = "shipyard-output"


def _serving_root(output_dir: str) -> str:
    return os.path.join(os.path.abspath(output_dir), "serving")


def serve(args: argparse.Namespace) -> None:
    from serving.config.errors import ConfigError
    from serving.config.model_config import load_model_server_config, parse_model_server_config
    from serving.config.options import ServerOptions
    from serving.deploy_config import discover_models, models_config_text

    try:
        if args.config:
            model_config = load_model_server_config(args.config)
        else:
            models = discover_models(_serving_root(args.output_dir))
            if not models:
                raise ShipyardError(f"no pushed models under {_serving_root(args.output_dir)} "
                                    "(run a pipeline first, or give --config FILE)")
            model_config = parse_model_server_config(models_config_text(models))
        options = ServerOptions(
            port=args.port, rest_api_port=args.rest_port, host=args.host,
            file_system_poll_wait_seconds=args.poll_seconds,
            enable_batching=args.enable_batching or bool(args.batching_parameters),
            batching_parameters_file=args.batching_parameters or "",
            monitoring_config_file=args.monitoring_config or "",
            model_config_file=args.config or "",
            ssl_config_file=args.ssl_config or "", grpc_socket_path=args.grpc_socket or "")
        from serving.server import ModelServer, serve_until_signalled

        server = ModelServer(options, model_config=model_config)
    except ConfigError as e:
        raise ShipyardError(str(e)) from None

    def ready(s: Any) -> None:
        for model in s.model_config.model_config_list.config:
            versions = s.manager.available_versions(model.name)
            shown = ", ".join(map(str, versions)) or "none available (see its status)"
            print(f"{model.name}: versions {shown} from {model.base_path}")
        print(f"gRPC {args.host}:{s.grpc_port}   REST http://{args.host}:{s.rest_port}/v1/models/"
              "<name>   (Ctrl-C stops)", flush=True)

    if serve_until_signalled(server, announce=False, on_ready=ready) != 0:
        raise ShipyardError("the model server did not start (see the message above)")


def _load_payload(args: argparse.Namespace) -> dict:
    if args.json_file:
        try:
            with open(args.json_file, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ShipyardError(f"cannot read {args.json_file}: {e.strerror}") from None
    else:
        text = args.json
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as e:
        raise ShipyardError(f"request is not valid JSON: {e.msg} at offset {e.pos}") from None
    if not isinstance(payload, dict):
        raise ShipyardError('request must be a JSON object, e.g. {"instances": [[1.0, 2.0]]}')
    if args.signature:
        payload["signature_name"] = args.signature
    return payload


def rest_request(model: str, payload: dict, server: str | None = None,
                 version: int | None = None, label: str | None = None,
                 method: str = "predict", timeout: float = 30.0) -> str:
    """POSTs `payload` to a model server's TF Serving REST API (`/v1/models/<model>[/versions/
    <v> | /labels/<l>]:<method>`) and returns the answer's body; an error answer or an
    unreachable server raises a one-line ShipyardError."""
    path = f"/v1/models/{model}"
    if version:
        path += f"/versions/{version}"
    elif label:
        path += f"/labels/{label}"
    url = f"http://{server or '127.0.0.1:8501'}{path}:{method}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode()
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        try:
            message = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            message = body.strip()[:300]
        raise ShipyardError(f"server answered {e.code}: {message}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ShipyardError(f"cannot reach the model server at {url}: {reason}") from None


def _rest_predict(args: argparse.Namespace, payload: dict) -> str:
    return rest_request(args.model, payload, args.server, args.version, args.label,
                        args.method, args.timeout)


def predict(args: argparse.Namespace) -> None:
    payload = _load_payload(args)
    text = _grpc_call(args, payload) if args.grpc else _rest_predict(args, payload)
    print(json.dumps(json.loads(text), indent=2) if args.pretty else text.strip())


def _grpc_call(args: argparse.Namespace, payload: dict) -> str:
    import grpc
    from tensorflow_serving.apis import (
        classification_pb2,
        get_model_metadata_pb2,
        model_pb2,
        predict_pb2,
        prediction_service_pb2_grpc,
        regression_pb2,
    )

    from serving.api import rest, tensors
    from serving.core.errors import ServingError

    spec = model_pb2.ModelSpec(name=args.model,
                               signature_name=payload.get("signature_name", "") or "")
    if args.version:
        spec.version.value = int(args.version)
    elif args.label:
        spec.version_label = args.label
    target = args.server or "127.0.0.1:8500"
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            if args.method == "predict":
                meta_request = get_model_metadata_pb2.GetModelMetadataRequest(
                    model_spec=spec, metadata_field=["signature_def"])
                meta = stub.GetModelMetadata(meta_request, timeout=args.timeout)
                signatures = get_model_metadata_pb2.SignatureDefMap()
                meta.metadata["signature_def"].Unpack(signatures)
                key = spec.signature_name or "serving_default"
                if key not in signatures.signature_def:
                    raise ShipyardError(f"model {args.model} has no signature {key!r}")
                dtypes = {k: v.dtype for k, v in signatures.signature_def[key].inputs.items()}
                if "instances" in payload:
                    arrays, row = tensors.instances_to_arrays(payload["instances"], dtypes), True
                elif "inputs" in payload:
                    arrays, row = tensors.inputs_to_arrays(payload["inputs"], dtypes), False
                else:
                    raise ShipyardError("request needs 'instances' or 'inputs'")
                request = predict_pb2.PredictRequest(model_spec=spec)
                for name, value in arrays.items():
                    request.inputs[name].CopyFrom(tensors.array_to_proto(value))
                response = stub.Predict(request, timeout=args.timeout)
                outputs = {k: tensors.proto_to_array(v) for k, v in response.outputs.items()}
                return tensors.predict_response_json(outputs, row)
            request_type = classification_pb2.ClassificationRequest \
                if args.method == "classify" else regression_pb2.RegressionRequest
            request = request_type(model_spec=spec)
            rest.fill_examples_request(payload, request, args.method)
            if args.method == "classify":
                result = stub.Classify(request, timeout=args.timeout).result
                return json.dumps({"results": [[[c.label, c.score] for c in r.classes]
                                               for r in result.classifications]})
            result = stub.Regress(request, timeout=args.timeout).result
            return json.dumps({"results": [r.value for r in result.regressions]})
        except ServingError as e:
            raise ShipyardError(f"bad request: {e.message}") from None
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNAVAILABLE:
                raise ShipyardError(f"cannot reach the model server at {target}: "
                                    f"{e.details()}") from None
            raise ShipyardError(f"server answered {e.code().name}: {e.details()}") from None


def deploy_config(args: argparse.Namespace) -> None:
    from serving.config.batching_parameters import BatchingParameters, load_batching_parameters
    from serving.config.errors import ConfigError
    from serving.deploy_config import DEFAULT_IMAGE, write_deploy_config

    try:
        params = (load_batching_parameters(args.batching_parameters)
                  if args.batching_parameters else
                  BatchingParameters(max_batch_size=32, batch_timeout_micros=2000,
                                     max_enqueued_batches=100, num_batch_threads=4,
                                     allowed_batch_sizes=[1, 2, 4, 8, 16, 32]))
        written = write_deploy_config(_serving_root(args.output_dir), args.out, params,
                                      name=args.name, image=args.image or DEFAULT_IMAGE,
                                      volume_claim=args.volume_claim)
    except ConfigError as e:
        raise ShipyardError(str(e)) from None
    for path in written.values():
        print(f"wrote {path}")
    print(f"kubectl apply -f {written['kubernetes.yaml']}   (models mounted at /models)")


def add_commands(commands: Any) -> None:
    p = commands.add_parser("serve", help="serve pushed models over TF Serving's REST and gRPC "
                                          "APIs")
    p.add_argument("--config", help="a ModelServerConfig text file (default: every model under "
                                     "<output-dir>/serving)")
    p.add_argument("--output-dir", default=DEFAULT_OUTPUT)
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8500, help="gRPC port")
    p.add_argument("--rest-port", type=int, default=8501, help="REST port")
    p.add_argument("--poll-seconds", type=float, default=1.0,
                   help="how often new versions are looked for (0: never)")
    p.add_argument("--enable-batching", action="store_true")
    p.add_argument("--batching-parameters", help="TF Serving batching parameters file")
    p.add_argument("--monitoring-config", help="TF Serving monitoring config (Prometheus)")
    p.add_argument("--ssl-config", help="TF Serving SSLConfig text file: gRPC over TLS")
    p.add_argument("--grpc-socket", help="also serve gRPC on this UNIX socket")
    p.set_defaults(handler=serve)

    p = commands.add_parser("predict", help="send one request to a model server and print the "
                                            "answer")
    p.add_argument("model", help="model name")
    body = p.add_mutually_exclusive_group(required=True)
    body.add_argument("--json", help='request body, e.g. \'{"instances": [[1.0, 2.0]]}\'')
    body.add_argument("--json-file", help="file holding the request body")
    p.add_argument("--method", choices=["predict", "classify", "regress"], default="predict")
    p.add_argument("--signature", help="signature name (default serving_default)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--version", type=int)
    which.add_argument("--label")
    p.add_argument("--grpc", action="store_true", help="use gRPC (default REST)")
    p.add_argument("--server", help="host:port (default 127.0.0.1:8501, or :8500 with --grpc)")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--pretty", action="store_true", help="indent the JSON answer")
    p.set_defaults(handler=predict)

    p = commands.add_parser("deploy-config", help="write models.config, batching parameters and "
                                                  "a Kubernetes manifest for TF Serving")
    p.add_argument("--output-dir", default=DEFAULT_OUTPUT)
    p.add_argument("--out", default="deploy", help="directory to write into (default %(default)s)")
    p.add_argument("--name", default="shipyard-serving", help="Kubernetes object name")
    p.add_argument("--image", help="TF Serving image (default tensorflow/serving:2.16.1)")
    p.add_argument("--volume-claim", help="mount this PersistentVolumeClaim instead of a "
                                          "hostPath")
    p.add_argument("--batching-parameters", help="batching parameters file to ship")
    p.set_defaults(handler=deploy_config)


if __name__ == "__main__":
    sys.exit("use: shipyard serve | predict | deploy-config")
