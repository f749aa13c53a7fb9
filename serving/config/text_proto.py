"""A small reader for protobuf text format, for the config files whose protos pip does not ship
(batching parameters, monitoring and SSL configs)."""
from __future__ import annotations

import re
from typing import Any

from serving.config.errors import ConfigError

_TOKEN = re.compile(r'\s*(?:#[^\n]*\n\s*)*(?:("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|'
                    r'([{}:,;\[\]<>])|([^\s{}:,;\[\]<>"\']+))')


def parse_text_proto(text: str) -> dict[str, list[Any]]:
    """Text-format proto as {field: [values]}; a value is a scalar or a nested dict."""
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConfigError(f"cannot parse text proto near: {text[pos:pos + 30]!r}")
        pos = m.end()
        if m.group(1) is not None:
            tokens.append(("str", m.group(1)[1:-1].encode().decode("unicode_escape")))
        elif m.group(2) is not None:
            tokens.append(("sym", m.group(2)))
        elif m.group(3) is not None:
            tokens.append(("word", m.group(3)))
        pos = len(text) if not text[pos:].strip() else pos
    index = 0

    def message(closing: str | None) -> dict[str, list[Any]]:
        nonlocal index
        fields: dict[str, list[Any]] = {}
        while index < len(tokens):
            kind, value = tokens[index]
            if kind == "sym" and value in ",;":
                index += 1
                continue
            if kind == "sym" and value == closing:
                index += 1
                return fields
            if kind != "word":
                raise ConfigError(f"expected a field name, got {value!r}")
            name = value
            index += 1
            if index < len(tokens) and tokens[index] == ("sym", ":"):
                index += 1
            if index >= len(tokens):
                raise ConfigError(f"missing value for field {name!r}")
            kind, value = tokens[index]
            if kind == "sym" and value in "{<":
                index += 1
                fields.setdefault(name, []).append(message("}" if value == "{" else ">"))
            elif kind == "sym" and value == "[":
                index += 1
                while tokens[index] != ("sym", "]"):
                    if tokens[index] != ("sym", ","):
                        fields.setdefault(name, []).append(_scalar(*tokens[index]))
                    index += 1
                index += 1
            else:
                index += 1
                fields.setdefault(name, []).append(_scalar(kind, value))
        if closing is not None:
            raise ConfigError(f"missing {closing!r} at end of input")
        return fields

    return message(None)


def _scalar(kind: str, value: str) -> Any:
    if kind == "str":
        return value
    if kind != "word":
        raise ConfigError(f"unexpected {value!r}")
    if value in ("true", "True"):
        return True
    if value in ("false", "False"):
        return False
    try:
        return int(value, 0)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def read_config_file(path: str, what: str) -> str:
    """A config file's text; an unreadable file is a one-line ConfigError naming `what` it is."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from None


def parse_text_file(path: str, what: str) -> dict[str, list[Any]]:
    """The fields of a text-format proto file; any problem names the file and what it is."""
    try:
        return parse_text_proto(read_config_file(path, what))
    except ConfigError as e:
        raise ConfigError(f"invalid {what} {path}: {e}") from None


def wrapped(fields: dict[str, list[Any]], name: str, default: Any) -> Any:
    """A google.protobuf wrapper field (`max_batch_size { value: 8 }`) or a plain one."""
    if name not in fields:
        return default
    value = fields[name][-1]
    if isinstance(value, dict):
        return value.get("value", [default])[-1]
    return value
