"""Run-time variables of multi-step kinds: ``${steps.NAME.VAR}``, ``${user.FIELD}``, ``${run.FIELD}``.

The config loader fills ``${ENV}`` once, at load, and leaves these (``config/interpolate.py``); a
journey, a browser run or a token check fills them while it runs, from what earlier steps extracted,
the leased fake user and the run itself. Which references a template makes is known at load, so a
step that uses a variable no earlier step defines is a config error before anything runs.

``user`` fields: ``id``, ``cohort``, ``username``, ``password``, ``totp`` (the current one-time code
from the user's TOTP secret) and every cohort attribute (``${user.plan}``). ``run`` fields: ``id``,
``zone``, ``nonce`` (unique per run) and ``now`` (unix seconds).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from collections.abc import Iterable, Mapping

from livesite.checks.context import Identity

_REF_RE = re.compile(r"\$\{((?:steps|user|run)\.[^}]*)\}")
_USER_FIELDS = frozenset({"id", "cohort", "username", "password", "totp"})
RUN_FIELDS = frozenset({"id", "zone", "nonce", "now"})


class UndefinedVariable(KeyError):
    """A template names a variable that has no value in this run."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"${{{self.name}}} has no value here"


def references(template: str) -> list[str]:
    """The run-time variables a template names, in order (``steps.login.token``...)."""
    return _REF_RE.findall(template)


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill every run-time reference of ``template`` from ``values`` (keyed ``steps.login.token``).

    Raises:
        UndefinedVariable: a reference has no value.
    """
    if "${" not in template:
        return template

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        try:
            return values[name]
        except KeyError:
            raise UndefinedVariable(name) from None

    return _REF_RE.sub(one, template)


def reference_problem(name: str, defined: Iterable[str], attributes: Iterable[str] = ()) -> str | None:
    """Why a reference cannot be filled at run time (for load-time config errors), or None.

    ``defined`` are the ``steps.X.Y`` names earlier steps extract; ``attributes`` the cohort
    attributes a user of this check can have.
    """
    scope, _, field = name.partition(".")
    if scope == "steps":
        if name in set(defined):
            return None
        return f"${{{name}}} is not extracted by an earlier step"
    if scope == "user":
        if field in _USER_FIELDS or field in set(attributes):
            return None
        return f"${{{name}}}: a user has {', '.join(sorted(_USER_FIELDS))} and its cohort's attributes"
    if field in RUN_FIELDS:
        return None
    return f"${{{name}}}: run has {', '.join(sorted(RUN_FIELDS))}"


def totp(secret: str, at: float, *, digits: int = 6, period: int = 30) -> str:
    """The RFC 6238 one-time code (HMAC-SHA1) of a base32 ``secret`` at unix time ``at``."""
    key = base64.b32decode(secret.replace(" ", "").upper() + "=" * (-len(secret.replace(" ", "")) % 8))
    counter = struct.pack(">Q", int(at // period))
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def user_values(identity: Identity, now: float) -> dict[str, str]:
    """The ``user.*`` values of an identity (empty strings for what it lacks)."""
    values = {"user.id": identity.user, "user.cohort": identity.cohort}
    credentials = identity.credentials
    if credentials is not None:
        values["user.username"] = credentials.username
        values["user.password"] = credentials.password
        if credentials.totp_secret:
            values["user.totp"] = totp(credentials.totp_secret, now)
        values.update({f"user.{k}": v for k, v in credentials.attributes})
    return values
