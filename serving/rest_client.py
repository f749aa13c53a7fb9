"""A minimal client of the REST API (standard library only), for scripts and tests that check
a server's answers: every status, body and error text is returned, never raised."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def call(address: str, method: str, path: str, body: Any = None, raw: bytes | None = None,
         timeout: float = 30) -> tuple[int, Any]:
    """(HTTP status, parsed JSON or the text when it is not JSON) of one request to
    `http://address/path`; `body` is sent as JSON, or `raw` as it is."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"http://{address}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text
