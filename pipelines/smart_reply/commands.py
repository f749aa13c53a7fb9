"""`shipyard reply "message" [--model DIR | --server HOST:PORT]`: Smart Reply suggestions
from an exported SavedModel (default: the latest pushed version) or a running model server
(REST, TF Serving's API)."""
from __future__ import annotations

import argparse
import json
import os
from typing import Any

from pipelines.errors import ShipyardError
from pipelines.family import AddCommand
from pipelines.smart_reply.settings import NAME
from serving.core.versions import list_versions


def latest_pushed(output_dir: str) -> str:
    base = os.path.join(output_dir, "serving", NAME)
    versions = list_versions(base)
    if not versions:
        raise ShipyardError(f"no pushed Smart Reply model under {base}: run `shipyard run "
                            "smart-reply` first, or pass --model DIR / --server HOST:PORT")
    return versions[max(versions)]


def check_message(message: str, max_chars: int | None) -> None:
    if not message.strip():
        raise ShipyardError("empty message: nothing to reply to")
    if max_chars is not None and len(message) > max_chars:
        raise ShipyardError(f"message has {len(message)} characters; the model takes at most "
                            f"{max_chars}")


def _from_model(model_dir: str, message: str, user: str | None) -> dict[str, Any]:
    import tensorflow as tf

    if not os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        raise ShipyardError(f"not a SavedModel directory: {model_dir}")
    signature = tf.saved_model.load(model_dir).signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    kwargs = {"messages": tf.constant([message])}
    if "users" in inputs:
        kwargs["users"] = tf.constant([user or ""])
    try:
        outputs = signature(**kwargs)
    except tf.errors.InvalidArgumentError as e:
        raise ShipyardError(e.message.splitlines()[0]) from None
    return {k: v.numpy()[0].tolist() for k, v in outputs.items()}


def _from_server(server: str, message: str, user: str | None) -> dict[str, Any]:
    from pipelines.serve_commands import rest_request

    instance = {"messages": message}
    if user is not None:
        instance["users"] = user
    answer = json.loads(rest_request(NAME, {"instances": [instance]}, server))
    return answer["predictions"][0]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def reply(args: argparse.Namespace) -> None:
    check_message(args.message, args.max_message_chars)
    if args.server:
        result = _from_server(args.server, args.message, args.user)
    else:
        model_dir = args.model or latest_pushed(args.output_dir)
        if not os.path.isdir(model_dir):
            raise ShipyardError(f"model directory not found: {model_dir}")
        result = _from_model(model_dir, args.message, args.user)
    if args.json:
        print(json.dumps({k: [_text(x) if isinstance(x, bytes) else x for x in v]
                          if isinstance(v, list) else v for k, v in result.items()}))
        return
    if not result["triggered"]:
        print(f"(no suggestions: trigger score {result['trigger_score']:.2f} is below the "
              f"threshold)")
        return
    note = "  (fallback: the model is unsure)" if result["fallback"] else ""
    for text, cluster in zip(result["replies"], result["cluster_ids"], strict=True):
        if _text(text):
            print(f"{_text(text)}" + (f"    [cluster {cluster}]" if cluster >= 0 else ""))
    if note:
        print(note.strip())


def add_commands(add_command: AddCommand) -> None:
    from pipelines import config

    p = add_command("reply", help="Smart Reply suggestions for a message")
    p.add_argument("message")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--model", help="exported SavedModel directory (default: the latest "
                                       "pushed version under --output-dir)")
    where.add_argument("--server", metavar="HOST:PORT",
                       help="a running model server's REST address (shipyard serve: "
                            "127.0.0.1:8501)")
    p.add_argument("--user", help="user id, for a personalised model")
    p.add_argument("--output-dir", default=config.common()["output_dir"])
    p.add_argument("--max-message-chars", type=int,
                   default=config.packaged(NAME)["max_message_chars"])
    p.add_argument("--json", action="store_true", help="print every output as JSON")
    p.set_defaults(handler=reply)
