"""Checks as code: YAML files → typed, validated models, with file:line:col in every error."""

from livesite.config.load import load, loads
from livesite.config.models import (
    CheckSpec,
    Config,
    Defaults,
    DnsCheck,
    HttpCheck,
    RetrySpec,
    TcpCheck,
    TlsCheck,
    Zone,
)

__all__ = [
    "CheckSpec",
    "Config",
    "Defaults",
    "DnsCheck",
    "HttpCheck",
    "RetrySpec",
    "TcpCheck",
    "TlsCheck",
    "Zone",
    "load",
    "loads",
]
