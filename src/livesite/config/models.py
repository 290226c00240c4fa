"""Checks as code: the typed shape of a livesite config file.

Every model forbids unknown keys, so a typo is an error with file:line, never a silent default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator, model_validator

from livesite.config.types import AssertionRule, BudgetRule, Seconds

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=120)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _read_secret(path: Path, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base_dir")
    target = path if path.is_absolute() or base is None else Path(base) / path
    try:
        return target.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ValueError(f"cannot read secret file {target}: {e.strerror}") from None


class Zone(Model):
    """A place checks run from, and the address of the site as seen from there."""

    name: Name
    base_url: str | None = None
    resolve: dict[str, str] = Field(
        default_factory=dict, description="host → IP address, like curl --resolve"
    )
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None:
            parts = urlsplit(v)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"base_url {v!r} must be an absolute http(s) URL, e.g. https://shop.example.com"
                )
        return v


class RetrySpec(Model):
    """Retries apply to network failures only (dns, connect, tls, timeout): a wrong answer stays wrong."""

    attempts: int = Field(1, ge=1, le=10, description="total tries, 1 = no retry")
    strategy: Literal["fixed", "linear", "exponential"] = "fixed"
    delay: Seconds = 1.0
    max_delay: Seconds = 30.0

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt`` (2, 3, ...)."""
        n = attempt - 1
        if self.strategy == "fixed":
            wait = self.delay
        elif self.strategy == "linear":
            wait = self.delay * n
        else:
            wait = self.delay * (2 ** (n - 1))
        return min(wait, self.max_delay)


class Defaults(Model):
    interval: Seconds = 60.0
    timeout: Seconds = 10.0
    jitter: Seconds = 0.0
    retries: RetrySpec = Field(default_factory=RetrySpec)
    failure_threshold: int = Field(3, ge=1)
    success_threshold: int = Field(2, ge=1)
    revision_header: str = "X-Version"
    user_agent: str = "livesite/0.1"


class CheckBase(Model):
    name: Name
    description: str = ""
    enabled: bool = True
    interval: Seconds | None = None
    timeout: Seconds | None = None
    jitter: Seconds | None = None
    zones: list[Name] | None = None
    retries: RetrySpec | None = None
    failure_threshold: int | None = Field(None, ge=1)
    success_threshold: int | None = Field(None, ge=1)
    tags: dict[str, str] = Field(default_factory=dict)
    assertions: list[AssertionRule] = Field(default_factory=list, alias="assert")
    budget: list[BudgetRule] = Field(default_factory=list)


def _secret_from_file(data: object, info: ValidationInfo, field: str) -> object:
    """``<field>_file: path`` → ``<field>: <file content>``, read once at load (relative to the config)."""
    if isinstance(data, dict) and f"{field}_file" in data:
        if data.get(field) is not None:
            raise ValueError(f"give {field} or {field}_file, not both")
        data = dict(data)
        data[field] = _read_secret(Path(str(data.pop(f"{field}_file"))), info)
    return data


class BasicAuth(Model):
    username: str
    password: str = Field(repr=False, description="or password_file: a file holding it")

    @model_validator(mode="before")
    @classmethod
    def _file(cls, data: object, info: ValidationInfo) -> object:
        return _secret_from_file(data, info, "password")


class BearerAuth(Model):
    token: str = Field(repr=False, description="or token_file: a file holding it")

    @model_validator(mode="before")
    @classmethod
    def _file(cls, data: object, info: ValidationInfo) -> object:
        return _secret_from_file(data, info, "token")


class Auth(Model):
    basic: BasicAuth | None = None
    bearer: BearerAuth | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Auth:
        if (self.basic is None) == (self.bearer is None):
            raise ValueError("auth takes exactly one of basic or bearer")
        return self


class TlsSettings(Model):
    verify: bool = True
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None


class HttpCheck(CheckBase):
    kind: Literal["http"] = "http"
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: JsonValue | None = Field(None, alias="json")
    form: dict[str, str] | None = None
    body: str | None = None
    auth: Auth | None = None
    follow_redirects: bool = True
    max_redirects: int = Field(10, ge=0, le=50)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    reuse_connection: bool = False
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=0)
    revision_header: str | None = None

    @model_validator(mode="after")
    def _one_body(self) -> HttpCheck:
        given = [
            k
            for k, v in (("json", self.json_body), ("form", self.form), ("body", self.body))
            if v is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give one request body, not {' and '.join(given)}")
        return self

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v.startswith("/"):
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"url {v!r} must be absolute (http(s)://host/...) or a path starting with / for zones"
            )
        if parts.username is not None:
            raise ValueError(
                "credentials in the url are not sent (hint: use auth: {basic: {username, password}})"
            )
        return v


class TcpCheck(CheckBase):
    kind: Literal["tcp"]
    address: str | None = Field(None, description="host:port; default: the zone's base_url host and port")
    send: str | None = None
    expect: str | None = Field(None, description="a regular expression the first bytes read must match")
    tls: bool = False


class TlsCheck(CheckBase):
    kind: Literal["tls"]
    address: str | None = None
    server_name: str | None = None
    verify: bool = True
    ca_file: Path | None = None


class DnsCheck(CheckBase):
    kind: Literal["dns"]
    query: str
    record_type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "SOA", "PTR", "CAA"] = "A"
    nameserver: str | None = Field(None, description="host:port; default: the system resolver")
    transport: Literal["udp", "tcp"] = "udp"


CheckSpec = Annotated[HttpCheck | TcpCheck | TlsCheck | DnsCheck, Field(discriminator="kind")]


class StoreSettings(Model):
    url: str = Field("sqlite:///livesite.db", description="sqlite:///path or postgresql://user@host/db")
    raw_retention: Seconds = 86400.0
    aggregate_retention: Seconds = 90 * 86400.0


class MonitorSettings(Model):
    concurrency: int = Field(200, ge=1, le=100_000)
    listen: str = "127.0.0.1:9109"


class Config(Model):
    version: Literal[1] = 1
    zones: list[Zone] = Field(default_factory=list)
    defaults: Defaults = Field(default_factory=Defaults)
    checks: list[CheckSpec] = Field(default_factory=list)
    store: StoreSettings = Field(default_factory=StoreSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("checks", mode="before")
    @classmethod
    def _http_by_default(cls, v: object) -> object:
        if isinstance(v, list):
            return [{**c, "kind": "http"} if isinstance(c, dict) and "kind" not in c else c for c in v]
        return v

    def zone_names(self) -> list[str]:
        return [z.name for z in self.zones] or ["local"]

    def zone(self, name: str) -> Zone:
        for z in self.zones:
            if z.name == name:
                return z
        return Zone(name=name)

    def check(self, name: str) -> CheckSpec | None:
        return next((c for c in self.checks if c.name == name), None)

    def zones_for(self, check: CheckBase) -> list[str]:
        return check.zones if check.zones is not None else self.zone_names()
