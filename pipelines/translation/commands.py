"""`shipyard translate`: sentences through an exported translator, in process or on a model
server (TF Serving's gRPC Predict), with one-line errors."""
from __future__ import annotations

import argparse
import os
import re

from pipelines.errors import ShipyardError
from pipelines.family import AddCommand
from pipelines.translation.settings import INPUT_NAME
from serving.core.versions import list_versions

DEFAULT_BASE = os.path.join("shipyard-output", "serving", "translation")


def _check_texts(texts: list[str]) -> None:
    for i, text in enumerate(texts, start=1):
        if not text.strip():
            raise ShipyardError(f"sentence {i} is empty: nothing to translate")


def resolve_model_dir(model: str | None) -> str:
    """A SavedModel folder, or the newest numeric version of a serving base folder."""
    path = model or DEFAULT_BASE
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = list_versions(path)
    for version in sorted(versions, reverse=True):
        candidate = versions[version]
        if os.path.exists(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise ShipyardError(f"no exported translation model in {path} (run `shipyard run "
                        "translation` or pass --model DIR)")


def _model_error(message: str) -> str:
    """The first line of a TensorFlow error, without its op-location noise."""
    for known in ("translation input must not be empty", "translation input longer than"):
        if known in message:
            found = re.search(re.escape(known) + r"[^\n\]\"']*", message)
            return found.group(0).strip() if found else known
    return message.strip().splitlines()[0] if message.strip() else "translation failed"


def translate_local(texts: list[str], model_dir: str) -> list[tuple[str, float]]:
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  the export's wordpiece ops

    try:
        serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    except (OSError, KeyError, ValueError) as e:
        raise ShipyardError(f"{model_dir}: not a translation SavedModel ({e})") from None
    try:
        out = serve(**{INPUT_NAME: tf.constant(texts)})
    except tf.errors.InvalidArgumentError as e:
        raise ShipyardError(_model_error(e.message)) from None
    return [(t.decode(), float(s)) for t, s in zip(out["translations"].numpy(),
                                                   out["scores"].numpy(), strict=True)]


def translate_server(texts: list[str], server: str, model_name: str,
                     timeout: float = 120.0) -> list[tuple[str, float]]:
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = "serving_default"
    request.inputs[INPUT_NAME].CopyFrom(tf.make_tensor_proto(texts))
    with grpc.insecure_channel(server) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNAVAILABLE:
                raise ShipyardError(f"no model server at {server}") from None
            raise ShipyardError(_model_error(e.details() or str(e.code()))) from None
    translations = tf.make_ndarray(response.outputs["translations"])
    scores = tf.make_ndarray(response.outputs["scores"])
    return [(t.decode(), float(s)) for t, s in zip(translations, scores, strict=True)]


def translate(texts: list[str], model: str | None = None, server: str | None = None,
              model_name: str = "translation") -> list[tuple[str, float]]:
    """(translation, GNMT score) of every text."""
    _check_texts(texts)
    if server:
        return translate_server(texts, server, model_name)
    return translate_local(texts, resolve_model_dir(model))


def add_commands(add_command: AddCommand) -> None:
    """`shipyard translate "text" ... [--model DIR | --server HOST:PORT]`."""
    parser = add_command(
        "translate", help="translate sentences with a trained translation model")
    parser.add_argument("text", nargs="+", help="sentences to translate")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--model",
                       help="exported SavedModel, or a serving base folder (its newest "
                            "version); default: shipyard-output/serving/translation")
    where.add_argument("--server", help="a model server's gRPC address HOST:PORT")
    parser.add_argument("--model-name", default="translation",
                           help="model name on the server")
    parser.add_argument("--scores", action="store_true",
                           help="print each translation's GNMT score after a tab")
    parser.set_defaults(handler=_translate)


def _translate(args: argparse.Namespace) -> None:
    for translation, score in translate(
            args.text, model=args.model, server=args.server, model_name=args.model_name):
        print(f"{translation}\t{score:.4f}" if args.scores else translation)
