"""Checks as code: the typed shape of a livesite config file.

Every model forbids unknown keys, so a typo is an error with file:line, never a silent default.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializeAsAny,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from livesite.assertions import Assertion
from livesite.config.files import read_secret
from livesite.config.types import (
    AssertionRule,
    BudgetRule,
    Interval,
    Jitter,
    Retention,
    RetryDelay,
    Timeout,
    header_name,
    header_value,
    http_url_problem,
    parse_host_port,
    store_url_problem,
)

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=120)]
MAX_THRESHOLD = 1000


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _read_secret(path: Path, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base_dir")
    target = path if path.is_absolute() or base is None else Path(base) / path
    return read_secret(target)  # a regular UTF-8 file of at most 64 KiB, or a ValueError saying why


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
            problem = http_url_problem(v)
            if problem:
                raise ValueError(f"base_url {v[:100]!r} {problem[0]} (hint: {problem[1]})")
        return v

    @field_validator("resolve")
    @classmethod
    def _addresses(cls, v: dict[str, str]) -> dict[str, str]:
        for host, address in v.items():
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(
                    f"resolve maps {host[:60]!r} to {address[:60]!r}, which is not an IP address "
                    "(hint: like curl --resolve: {shop.example.com: 10.0.0.7})"
                ) from None
        return v


class RetrySpec(Model):
    """Retries apply to network failures only (dns, connect, tls, timeout): a wrong answer stays wrong."""

    attempts: int = Field(1, ge=1, le=10, description="total tries, 1 = no retry")
    strategy: Literal["fixed", "linear", "exponential"] = "fixed"
    delay: RetryDelay = 1.0
    max_delay: RetryDelay = 30.0

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
    interval: Interval = 60.0
    timeout: Timeout = 10.0
    jitter: Jitter = 0.0
    retries: RetrySpec = Field(default_factory=RetrySpec)
    failure_threshold: int = Field(3, ge=1, le=MAX_THRESHOLD)
    success_threshold: int = Field(2, ge=1, le=MAX_THRESHOLD)
    revision_header: str = "X-Version"
    route_header: str = Field("X-Livesite-Route", description="carries a run's pinned revision to a router")
    user_agent: str = "livesite/0.1"

    @field_validator("revision_header", "route_header")
    @classmethod
    def _header_name(cls, v: str, info: ValidationInfo) -> str:
        return header_name(v, str(info.field_name))

    @field_validator("user_agent")
    @classmethod
    def _header_value(cls, v: str) -> str:
        return header_value(v, "user_agent")


class CheckBase(Model):
    """What every check kind shares. A kind subclasses it in its own module (``livesite.checks.<kind>``)
    with ``kind: Literal["<kind>"]`` and the assertion subjects it can observe."""

    # Assertion subjects this kind observes; an assertion on another is a config error at load.
    SUBJECTS: ClassVar[frozenset[str]] = frozenset({"latency"})
    # A kind that visits every zone in one run (cache, token, consistency): its ``zones`` are the
    # zones it visits, and it is planned once, in the first of them (its Results carry that zone).
    ACROSS_ZONES: ClassVar[bool] = False

    kind: str
    name: Name
    description: str = ""
    enabled: bool = True
    interval: Interval | None = None
    timeout: Timeout | None = None
    jitter: Jitter | None = None
    zones: list[Name] | None = None
    retries: RetrySpec | None = None
    failure_threshold: int | None = Field(None, ge=1, le=MAX_THRESHOLD)
    success_threshold: int | None = Field(None, ge=1, le=MAX_THRESHOLD)
    tags: dict[str, str] = Field(default_factory=dict)
    partner: Name | None = Field(
        None, description="the third party this check speaks to; the same as tags: {partner: NAME}"
    )
    # Run as a fake user (users: section): one leased from a cohort, one per cohort, or a given one.
    cohort: Name | None = None
    cohorts: list[Name] | None = None
    user: Name | None = None
    assertions: list[AssertionRule] = Field(default_factory=list, alias="assert")
    budget: list[BudgetRule] = Field(default_factory=list)
    # Values the loader filled in from ${VAR} or ${file:...} somewhere in this check.
    _substituted: frozenset[str] = PrivateAttr(default=frozenset())
    _rules: list[Assertion] | None = PrivateAttr(default=None)

    @field_validator("zones")
    @classmethod
    def _some_zones(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError(
                "zones: [] runs the check nowhere (hint: leave zones out to run in every zone, "
                "or set enabled: false)"
            )
        if v is not None and len(set(v)) != len(v):
            twice = next(z for i, z in enumerate(v) if z in v[:i])
            raise ValueError(f"zone {twice!r} is listed twice")
        return v

    @model_validator(mode="before")
    @classmethod
    def _partner_is_a_tag(cls, data: object) -> object:
        # Results carry tags, and the store indexes them: ``partner: X`` is kept as the tag.
        if isinstance(data, dict) and isinstance(data.get("partner"), str):
            tags = data.get("tags")
            tags = dict(tags) if isinstance(tags, dict) else {}
            tagged = tags.get("partner")
            if tagged is not None and tagged != data["partner"]:
                raise ValueError(
                    f"partner {data['partner']!r} and tags.partner {tagged!r} disagree "
                    "(hint: give one of them)"
                )
            tags["partner"] = data["partner"]
            data = {**data, "tags": tags}
        return data

    @model_validator(mode="after")
    def _one_way_to_choose_users(self) -> CheckBase:
        given = [k for k in ("cohort", "cohorts", "user") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of cohort, cohorts or user, not {' and '.join(given)}")
        if self.cohorts is not None and (not self.cohorts or len(set(self.cohorts)) != len(self.cohorts)):
            raise ValueError("cohorts: names each cohort once (hint: cohorts: [free-eu, pro-us])")
        return self

    def cohort_names(self) -> list[str]:
        """The cohorts this check runs as, one run each: [] when it runs as nobody in particular."""
        if self.cohorts is not None:
            return list(self.cohorts)
        return [self.cohort] if self.cohort is not None else []

    @field_validator("assertions", "budget", mode="before")
    @classmethod
    def _a_list(cls, v: object, info: ValidationInfo) -> object:
        if isinstance(v, str):
            key = "assert" if info.field_name == "assertions" else str(info.field_name)
            raise ValueError(
                f"{key} takes a list of assertions, not one text "
                f"(hint: write {key}: ['{v[:40]}'], or '- {v[:40]}' on the next line)"
            )
        return v

    @field_validator("assertions", "budget")
    @classmethod
    def _subjects_of_this_kind(cls, rules: list[Assertion]) -> list[Assertion]:
        for rule in rules:
            if rule.subject.name not in cls.SUBJECTS:
                kind = cls.kind_name()
                raise ValueError(
                    f"{rule.expr!r}: a {kind} check cannot observe {rule.subject.name!r} "
                    f"(hint: {kind} checks observe {', '.join(sorted(cls.SUBJECTS))})"
                )
        return rules

    @classmethod
    def kind_name(cls) -> str:
        """The ``kind:`` this model is chosen by (its ``Literal`` tag)."""
        return str(next(iter(get_args(cls.model_fields["kind"].annotation)), "a"))

    def with_substituted(self, values: Iterable[str]) -> None:
        """Called by the loader: which of this check's values came from ${VAR} or ${file:...}."""
        self._substituted = frozenset(values)

    def partners(self) -> set[str]:
        """The third parties this check speaks to (a journey adds its steps' partners)."""
        partner = self.tags.get("partner")
        return {partner} if partner else set()

    def secrets(self) -> list[str]:
        """Values of this check that must never be printed. A kind adds its credentials and those
        ${VAR} values that land where secrets go (headers, query, body, what a socket sends)."""
        return []

    def problems(self) -> Iterable[tuple[tuple[str | int, ...], str, str | None]]:
        """What a kind finds wrong with a check across its own fields, as (where in the check,
        message, hint): a journey step using a variable no earlier step extracts. Reported at load
        with the file:line of that key."""
        return ()

    def wait_seconds(self) -> float:
        """Seconds a run spends on purpose beyond talking to the site (a journey's sleeps and its
        cleanup budget): the frame adds them to the timeout."""
        return 0.0

    def implied(self) -> list[Assertion]:
        """Assertions a kind holds its answers to unless told otherwise (an http check without a
        status assertion wants a 2xx, as blackbox's http_2xx does)."""
        return []

    def rules(self) -> list[Assertion]:
        """Every assertion the check's results are judged by: the check's own, implied ones, budgets."""
        if self._rules is None:
            self._rules = [*self.assertions, *self.implied(), *self.budget]
        return self._rules


def _secret_from_file(data: object, info: ValidationInfo, field: str) -> object:
    """``<field>_file: path`` → ``<field>: <file content>``, read once at load (relative to the config)."""
    if isinstance(data, dict) and f"{field}_file" in data:
        if data.get(field) is not None:
            raise ValueError(f"give {field} or {field}_file, not both")
        data = dict(data)
        try:
            data[field] = _read_secret(Path(str(data.pop(f"{field}_file"))), info)
        except ValueError as e:
            raise ValueError(f"{field}_file: {e}") from None  # "key: ..." puts the error at that key
    return data


class BasicAuth(Model):
    # Keys read by a validator rather than stored as fields ("did you mean" offers them too).
    FILE_KEYS: ClassVar[tuple[str, ...]] = ("password_file",)

    username: str
    password: str = Field(repr=False, description="or password_file: a file holding it")

    @model_validator(mode="before")
    @classmethod
    def _file(cls, data: object, info: ValidationInfo) -> object:
        return _secret_from_file(data, info, "password")

    @field_validator("username")
    @classmethod
    def _no_colon(cls, v: str) -> str:
        if ":" in v:
            raise ValueError("a basic auth username cannot hold ':' (it separates username and password)")
        return v


class BearerAuth(Model):
    FILE_KEYS: ClassVar[tuple[str, ...]] = ("token_file",)

    token: str = Field(repr=False, description="or token_file: a file holding it")

    @model_validator(mode="before")
    @classmethod
    def _file(cls, data: object, info: ValidationInfo) -> object:
        return _secret_from_file(data, info, "token")

    @field_validator("token")
    @classmethod
    def _sendable(cls, v: str) -> str:
        if not v:
            raise ValueError("the bearer token is empty")
        return header_value(v, "the bearer token")


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

    @model_validator(mode="after")
    def _key_with_cert(self) -> TlsSettings:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file: needs cert_file (hint: give the client certificate as cert_file)")
        return self


class StoreSettings(Model):
    url: str = Field("sqlite:///livesite.db", description="sqlite:///path or postgresql://user@host/db")
    raw_retention: Retention = 86400.0
    aggregate_retention: Retention = 90 * 86400.0

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        problem = store_url_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _aggregates_outlive_raw(self) -> StoreSettings:
        if self.aggregate_retention < self.raw_retention:
            raise ValueError(
                "aggregate_retention: shorter than raw_retention, so aggregates would be dropped "
                "as soon as they are made (hint: keep aggregates longer, e.g. 90d)"
            )
        return self


MAX_CONCURRENCY = 10_000  # each run in flight holds a socket: mind the monitor's open-file limit


class MonitorSettings(Model):
    FILE_KEYS: ClassVar[tuple[str, ...]] = ("halt_token_file",)

    concurrency: int = Field(200, ge=1, le=MAX_CONCURRENCY)
    listen: str = "127.0.0.1:9109"
    halt_token: str | None = Field(
        None, repr=False, min_length=16, description="or halt_token_file: enables POST /api/chaos/halt"
    )

    @model_validator(mode="before")
    @classmethod
    def _file(cls, data: object, info: ValidationInfo) -> object:
        return _secret_from_file(data, info, "halt_token")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        parse_host_port(v, "listen")
        return v


class Partner(Model):
    """A third party the site depends on: when its checks fail, one incident is opened for it."""

    name: Name
    contact: str = Field("", description="whom to tell: an e-mail address or a URL")
    open_after: int = Field(3, ge=1, le=MAX_THRESHOLD, description="failures in a row that open an incident")
    resolve_after: int = Field(2, ge=1, le=MAX_THRESHOLD, description="passes in a row that resolve it")
    evidence: int = Field(10, ge=1, le=50, description="failures an incident keeps as evidence (newest)")


# Here, not at the top: config/users.py builds on Model and Name above.
from livesite.config.users import UsersSettings  # noqa: E402


class Config(Model):
    version: Literal[1] = 1
    zones: list[Zone] = Field(default_factory=list)
    defaults: Defaults = Field(default_factory=Defaults)
    # Typed by the registry of kinds at load (:func:`config_model`); any CheckBase subclass here.
    checks: list[SerializeAsAny[CheckBase]] = Field(default_factory=list)
    store: StoreSettings = Field(default_factory=StoreSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    partners: list[Partner] = Field(default_factory=list)
    monkey: MonkeySettings | None = None
    users: UsersSettings = Field(default_factory=UsersSettings)
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

    def check(self, name: str) -> CheckBase | None:
        return next((c for c in self.checks if c.name == name), None)

    def partner(self, name: str) -> Partner:
        """A declared partner, or one with the defaults (a partner tag need not be declared)."""
        return next((p for p in self.partners if p.name == name), None) or Partner(name=name)

    def partner_names(self) -> list[str]:
        """Every partner: declared, or named by a check."""
        named = {p.name for p in self.partners}.union(*(c.partners() for c in self.checks))
        return sorted(named)

    def zones_for(self, check: CheckBase) -> list[str]:
        zones = check.zones if check.zones is not None else self.zone_names()
        return zones[:1] if check.ACROSS_ZONES else zones


_MODELS: dict[tuple[type[CheckBase], ...], type[Config]] = {}


def config_model(specs: Sequence[type[CheckBase]]) -> type[Config]:
    """The Config model whose ``checks`` are a union of ``specs``, discriminated by ``kind``.

    The registry of check kinds (``livesite.checks.KINDS``) passes its spec models, so a new kind
    reaches the config through the registry alone. Built once per set of kinds.
    """
    key = tuple(specs)
    model = _MODELS.get(key)
    if model is None:
        if len(key) == 1:
            item: object = key[0]
        else:
            item = Annotated[Union[key], Field(discriminator="kind")]  # noqa: UP007 - a runtime tuple
        model = create_model(
            "Config",
            __base__=Config,
            checks=(list[item], Field(default_factory=list)),  # type: ignore[valid-type]
        )
        _MODELS[key] = model
    return model


from livesite.config.monkey import MonkeySettings  # noqa: E402  (it builds on the models above)

Config.model_rebuild()
