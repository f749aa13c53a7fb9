"""TF Serving's --ssl_config_file: the gRPC server's TLS key, certificate and client checks."""
from __future__ import annotations

import dataclasses

from serving.config.errors import ConfigError
from serving.config.text_proto import parse_text_file


@dataclasses.dataclass
class SSLConfig:
    """TF Serving's SSLConfig (ssl_config.proto): PEM texts, and whether clients must present a
    certificate signed by `custom_ca`."""
    server_key: str
    server_cert: str
    custom_ca: str = ""
    client_verify: bool = False


def load_ssl_config(path: str) -> SSLConfig:
    """Reads TF Serving's --ssl_config_file (SSLConfig in text format)."""
    fields = parse_text_file(path, "SSL config file")
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(SSLConfig)})
    if unknown:
        raise ConfigError(f"invalid SSL config file {path}: unknown field {unknown[0]!r}")
    values = {name: value[-1] for name, value in fields.items()}
    if not values.get("server_key") or not values.get("server_cert"):
        raise ConfigError(f"invalid SSL config file {path}: server_key and server_cert (PEM "
                          "text) are required")
    config = SSLConfig(server_key=str(values["server_key"]),
                       server_cert=str(values["server_cert"]),
                       custom_ca=str(values.get("custom_ca", "")),
                       client_verify=bool(values.get("client_verify", False)))
    if config.client_verify and not config.custom_ca:
        raise ConfigError(f"invalid SSL config file {path}: client_verify needs custom_ca, the "
                          "authority that signs client certificates")
    return config
