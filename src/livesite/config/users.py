"""The ``users:`` section: the fake-user pool's cohorts, who is in them and how they get there.

A cohort is a group of fake users alike in what the site cares about (its attributes: plan, locale,
zone, segment). Its users are either *provisioned* (``size: N``: livesite registers them by running
the registration journey and removes them with the cleanup journey) or *listed* (``users:`` with
credentials read from secret files). Every request a fake user sends carries the marker header
(``X-Livesite-Synthetic: <user id>`` by default) so the site's analytics and billing can leave them out.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import ClassVar

from pydantic import Field, ValidationInfo, field_validator, model_validator

from livesite.config.models import Model, Name, _secret_from_file
from livesite.config.types import Seconds, header_name

MAX_COHORT_SIZE = 10_000
ATTRIBUTES = ("plan", "locale", "zone", "segment")


class CohortAttributes(Model):
    """What a cohort's users have in common; a journey reads them as ``${user.plan}`` and so on."""

    plan: str = ""
    locale: str = ""
    zone: str = ""
    segment: str = ""

    def pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, str(getattr(self, name))) for name in ATTRIBUTES)


def totp_secret_problem(secret: str) -> str | None:
    if not secret:
        return None
    text = secret.replace(" ", "").upper()
    try:
        base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return "is not base32 (hint: the secret an authenticator app is given, like JBSWY3DPEHPK3PXP)"
    return None


class ListedUser(Model):
    """A fake user that exists already; its secrets come from files (or ``${file:...}``)."""

    FILE_KEYS: ClassVar[tuple[str, ...]] = ("password_file", "totp_secret_file")

    id: Name
    username: str = Field(min_length=1, max_length=320)
    password: str = Field(repr=False, description="or password_file: a file holding it")
    totp_secret: str = Field("", repr=False, description="base32, or totp_secret_file: a file holding it")

    @model_validator(mode="before")
    @classmethod
    def _files(cls, data: object, info: ValidationInfo) -> object:
        return _secret_from_file(_secret_from_file(data, info, "password"), info, "totp_secret")

    @field_validator("totp_secret")
    @classmethod
    def _base32(cls, v: str) -> str:
        problem = totp_secret_problem(v)
        if problem:
            raise ValueError(f"totp_secret {problem}")
        return v


class Cohort(Model):
    name: Name
    size: int | None = Field(None, description="how many users livesite provisions; or list users:")
    attributes: CohortAttributes = Field(default_factory=CohortAttributes)
    users: list[ListedUser] | None = None
    registration: Name | None = Field(None, description="the journey that registers one user")
    cleanup: Name | None = Field(None, description="the journey that removes one user")

    @field_validator("size")
    @classmethod
    def _some(cls, v: int | None) -> int | None:
        if v is not None and not 1 <= v <= MAX_COHORT_SIZE:
            raise ValueError(
                f"a cohort of {v} users cannot run anything (hint: size from 1 to {MAX_COHORT_SIZE})"
                if v < 1
                else f"a cohort of {v} users is more than {MAX_COHORT_SIZE} (hint: split it)"
            )
        return v

    @model_validator(mode="after")
    def _provisioned_or_listed(self) -> Cohort:
        if self.users is not None:
            if not self.users:
                raise ValueError("users: [] leaves the cohort empty (hint: list users, or give size: N)")
            if self.size is not None and self.size != len(self.users):
                raise ValueError(
                    f"size {self.size} but {len(self.users)} users listed (hint: leave size out for listed users)"
                )
            ids = [u.id for u in self.users]
            twice = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
            if twice is not None:
                raise ValueError(f"user {twice!r} is listed twice")
        elif self.size is None:
            raise ValueError(
                f"cohort {self.name!r} has no users (hint: size: N to provision N users, or users: [...])"
            )
        return self

    @property
    def provisioned(self) -> bool:
        return self.users is None

    def user_ids(self) -> list[str]:
        """Every user id of the cohort: listed ones, or ``<cohort>-1`` .. ``<cohort>-<size>``."""
        if self.users is not None:
            return [u.id for u in self.users]
        return [f"{self.name}-{n}" for n in range(1, (self.size or 0) + 1)]


class UsersSettings(Model):
    marker_header: str = Field(
        "X-Livesite-Synthetic", description="sent with every fake user's request; its value is the user id"
    )
    lease_seconds: Seconds = Field(300.0, description="a lease's deadline; renewed while a run lasts")
    wait_seconds: Seconds = Field(10.0, description="how long a run waits for a free user of its cohort")
    username: str = Field(
        "livesite-${user.id}-${run.nonce}@example.test",
        description="the username of a provisioned user (${user.id}, ${user.cohort}, ${run.nonce})",
    )
    accounts_file: Path = Field(
        Path(".livesite/users.json"), description="provisioned users' credentials (mode 0600)"
    )
    registration: Name | None = None
    cleanup: Name | None = None
    cohorts: list[Cohort] = Field(default_factory=list)

    @field_validator("marker_header")
    @classmethod
    def _header(cls, v: str) -> str:
        return header_name(v, "marker_header")

    @field_validator("lease_seconds", "wait_seconds")
    @classmethod
    def _positive(cls, v: float, info: ValidationInfo) -> float:
        if not 0 < v <= 86400:
            raise ValueError(f"{info.field_name} must be from 1ms to 1d")
        return v

    @model_validator(mode="after")
    def _unique(self) -> UsersSettings:
        names = [c.name for c in self.cohorts]
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None:
            raise ValueError(f"cohort {twice!r} is defined twice")
        seen: set[str] = set()
        for user in (u for c in self.cohorts for u in c.user_ids()):
            if user in seen:
                raise ValueError(
                    f"user id {user!r} is in two cohorts (hint: user ids are unique across cohorts)"
                )
            seen.add(user)
        return self

    def cohort(self, name: str) -> Cohort | None:
        return next((c for c in self.cohorts if c.name == name), None)

    def cohort_of(self, user: str) -> Cohort | None:
        return next((c for c in self.cohorts if user in c.user_ids()), None)
