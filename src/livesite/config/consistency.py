"""Checks that no single model can make: a check against the zones it runs in, its defaults, the
files it names. Each problem is a ConfigError at the key that causes it.

Kinds are not imported here (they build on the config models); a check's own fields say what
applies: a kind with an ``address`` field connects to it, or to its zones' ``base_url``.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import ssl
from collections.abc import Iterator
from pathlib import Path

from livesite.config.files import PEM_MAX_BYTES, check_regular
from livesite.config.models import CheckBase, Config, Defaults, Partner, TlsSettings, Zone
from livesite.config.types import (
    format_duration,
    header_name,
    header_value,
    http_url_problem,
    is_host_name,
    parse_host_port,
)
from livesite.config.yamlsource import Path_, Source
from livesite.errors import ConfigError


def problems(
    parts: list[tuple[Config, Source]],
    zones: list[Zone],
    defaults: Defaults,
    base_dir: Path,
    *,
    partners: list[Partner] | None = None,
) -> Iterator[ConfigError]:
    """Every cross-check failure of the checks in ``parts`` against ``zones``, ``defaults`` and the
    declared ``partners`` (once any is declared, a check's partner must be one of them)."""
    known = {z.name for z in zones} or {"local"}
    declared = {p.name for p in partners or []}
    tls_files = _TlsFiles(base_dir)
    for config, source in parts:
        for i, check in enumerate(config.checks):
            at = ("checks", i)
            for j, zone_name in enumerate(check.zones or []):
                if zone_name not in known:
                    close = difflib.get_close_matches(zone_name, sorted(known), n=1)
                    yield ConfigError.at(
                        source.position((*at, "zones", j)),
                        f"check {check.name!r} names unknown zone {zone_name!r}",
                        hint=f"did you mean {close[0]!r}?" if close else f"zones: {', '.join(sorted(known))}",
                    )
            partner = check.tags.get("partner")
            if declared and partner is not None and partner not in declared:
                close = difflib.get_close_matches(partner, sorted(declared), n=1)
                key = "partner" if check.partner is not None else "tags"
                yield ConfigError.at(
                    source.position((*at, key)),
                    f"check {check.name!r} names partner {partner!r}, which partners: does not declare",
                    hint=f"did you mean {close[0]!r}?"
                    if close
                    else f"partners: {', '.join(sorted(declared))}",
                )
            targets = [z for z in zones if check.zones is None or z.name in check.zones]
            for field, message, hint in _check_problems(check, targets, defaults):
                yield ConfigError.at(source.position((*at, *field)), message, hint)
            for field, message in tls_files.problems(check):
                yield ConfigError.at(source.position((*at, *field)), f"check {check.name!r}: {message}")


def _check_problems(
    check: CheckBase, targets: list[Zone], defaults: Defaults
) -> Iterator[tuple[Path_, str, str | None]]:
    name = check.name
    fields = type(check).model_fields
    url = getattr(check, "url", None)
    if isinstance(url, str):
        if url.startswith("/"):
            if not targets or any(z.base_url is None for z in targets):
                yield (
                    ("url",),
                    f"check {name!r} has a relative url {url!r} but a zone has no base_url",
                    "give every zone a base_url, or write an absolute url",
                )
            elif " " in url or any(ord(c) < 0x20 or c == "\x7f" for c in url):
                yield (
                    ("url",),
                    f"check {name!r}: url {url[:100]!r} holds a space or a control character",
                    ("percent-encode it, e.g. %20"),
                )
        else:
            problem = http_url_problem(url)
            if problem:
                yield ("url",), f"check {name!r}: url {url[:100]!r} {problem[0]}", problem[1]
    if "address" in fields:
        address = getattr(check, "address", None)
        if address is None:
            if not targets or any(z.base_url is None for z in targets):
                kind = check.kind_name()
                yield (
                    ("kind",),
                    f"{kind} check {name!r} has no address and a zone it runs in has no base_url",
                    "give the check an address (host:port), or every zone a base_url",
                )
        elif isinstance(address, str):
            try:
                parse_host_port(address, "address", default_port=443)
            except ValueError as e:
                message, _, hint = str(e).partition(" (hint: ")
                yield ("address",), f"check {name!r}: {message}", hint.removesuffix(")") or None
    nameserver = getattr(check, "nameserver", None)
    if isinstance(nameserver, str) and not _is_ip(nameserver):
        try:
            parse_host_port(nameserver, "nameserver", default_port=53)
        except ValueError as e:
            message, _, hint = str(e).partition(" (hint: ")
            yield ("nameserver",), f"check {name!r}: {message}", hint.removesuffix(")") or None
    tls = getattr(check, "tls", None)
    names: list[tuple[Path_, object]] = [
        (("server_name",), getattr(check, "server_name", None)),
        (("tls", "server_name"), tls.server_name if isinstance(tls, TlsSettings) else None),
    ]
    for at_name, server_name in names:
        if isinstance(server_name, str) and not is_host_name(server_name):
            yield (
                at_name,
                f"check {name!r}: server_name {server_name[:80]!r} is not a host name",
                "the name the server's certificate is for, e.g. shop.example.com",
            )
    json_body = getattr(check, "json_body", None)
    if json_body is not None and not _finite(json_body):
        yield (
            ("json",),
            f"check {name!r}: json holds NaN or Infinity, which JSON cannot carry",
            "write a number, or quote it to send text",
        )
    headers = getattr(check, "headers", None)
    if isinstance(headers, dict):
        for key, value in headers.items():
            try:
                header_name(str(key), "header")
                header_value(str(value), f"header {key!r}")
            except ValueError as e:
                yield ("headers", str(key)), f"check {name!r}: {e}", None
    interval = check.interval or defaults.interval
    jitter = check.jitter if check.jitter is not None else defaults.jitter
    if jitter >= interval:
        yield (
            ("jitter",) if check.jitter is not None else ("interval",),
            f"check {name!r}: jitter {format_duration(jitter)} is not shorter than its interval "
            f"{format_duration(interval)}, so runs would be skipped",
            "keep jitter a small part of the interval, e.g. a tenth",
        )


def _finite(value: object) -> bool:
    """No NaN or infinity anywhere in a JSON value (the loader bounds its depth)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _refuse_password() -> str:
    # OpenSSL would otherwise ask for the passphrase on the terminal, and a monitor has none.
    raise ValueError("the key is encrypted; livesite cannot ask for its passphrase")


class _TlsFiles:
    """ca_file, cert_file and key_file must be readable PEM files, loaded once per load."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.seen: dict[tuple[str, Path, Path | None], str | None] = {}

    def problems(self, check: CheckBase) -> Iterator[tuple[Path_, str]]:
        tls = getattr(check, "tls", None)
        if isinstance(tls, TlsSettings):
            yield from self._one(tls.ca_file, tls.cert_file, tls.key_file, ("tls",))
        ca_file = getattr(check, "ca_file", None)
        cert_file = getattr(check, "cert_file", None)
        key_file = getattr(check, "key_file", None)
        if key_file is not None and cert_file is None:
            yield ("key_file",), "key_file needs cert_file (the client certificate)"
            return
        yield from self._one(ca_file, cert_file, key_file, ())

    def _one(
        self, ca_file: object, cert_file: object, key_file: object, prefix: Path_
    ) -> Iterator[tuple[Path_, str]]:
        for field, path in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)):
            if isinstance(path, Path):
                problem = self._file(field, path)
                if problem:
                    yield (*prefix, field), problem
                    return
        if isinstance(ca_file, Path):
            problem = self._load("ca_file", ca_file, None)
            if problem:
                yield (*prefix, "ca_file"), problem
        if isinstance(cert_file, Path):
            key = key_file if isinstance(key_file, Path) else None
            problem = self._load("cert_file", cert_file, key)
            if problem:
                yield (*prefix, "cert_file"), problem

    def _path(self, path: Path) -> Path:
        return path if path.is_absolute() else self.base_dir / path

    def _file(self, field: str, path: Path) -> str | None:
        try:
            check_regular(self._path(path), PEM_MAX_BYTES, field)
        except ValueError as e:
            return str(e)  # it names the path looked at, relative paths joined to the config's folder
        return None

    def _load(self, field: str, path: Path, key: Path | None) -> str | None:
        memo = (field, path, key)
        if memo in self.seen:
            return self.seen[memo]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        problem = None
        try:
            if field == "ca_file":
                context.load_verify_locations(cafile=str(self._path(path)))
            else:
                context.load_cert_chain(
                    str(self._path(path)),
                    str(self._path(key)) if key is not None else None,
                    password=_refuse_password,
                )
        except ssl.SSLError as e:
            reason = e.reason.lower().replace("_", " ") if e.reason else "not PEM that OpenSSL can read"
            problem = f"{field} {self._path(path)} cannot be used: {reason}"
        except (OSError, ValueError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            problem = f"{field} {self._path(path)} cannot be used: {reason}"
        self.seen[memo] = problem
        return problem
