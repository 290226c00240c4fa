"""Checks against the ``users:`` section: every cohort or user a check names exists, and the
registration and cleanup journeys the pool runs are journeys of the config. Also where a kind finds
its own check wrong across fields (``CheckBase.problems``: a journey's undefined variable)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

from livesite.config.models import CheckBase, Config
from livesite.config.users import UsersSettings
from livesite.config.yamlsource import Source
from livesite.errors import ConfigError


def problems(
    parts: Sequence[tuple[Config, Source]], users: UsersSettings, users_source: Source | None
) -> Iterator[ConfigError]:
    cohorts = [c.name for c in users.cohorts]
    user_ids = {u for c in users.cohorts for u in c.user_ids()}
    journeys: dict[str, CheckBase] = {}
    for config, source in parts:
        for i, check in enumerate(config.checks):
            if check.kind == "journey":
                journeys[check.name] = check
            for where, message, hint in check.problems():
                yield ConfigError.at(
                    source.position(("checks", i, *where)), f"check {check.name!r}: {message}", hint
                )
            named: list[tuple[tuple[str | int, ...], str]] = (
                [(("cohort",), check.cohort)] if check.cohort is not None else []
            )
            named += [(("cohorts", j), name) for j, name in enumerate(check.cohorts or [])]
            for where, name in named:
                if name not in cohorts:
                    yield ConfigError.at(
                        source.position(("checks", i, *where)),
                        f"check {check.name!r} runs as unknown cohort {name!r}",
                        hint=_hint(name, cohorts, "cohort"),
                    )
            if check.user is not None and check.user not in user_ids:
                yield ConfigError.at(
                    source.position(("checks", i, "user")),
                    f"check {check.name!r} runs as unknown user {check.user!r}",
                    hint=_hint(check.user, sorted(user_ids), "user"),
                )
    if users_source is None:
        return
    named_journeys: list[tuple[tuple[str | int, ...], str | None]] = [
        (("users", key), getattr(users, key)) for key in ("registration", "cleanup")
    ]
    for i, cohort in enumerate(users.cohorts):
        named_journeys += [
            (("users", "cohorts", i, key), getattr(cohort, key)) for key in ("registration", "cleanup")
        ]
    for path, journey in named_journeys:
        if journey is not None and journey not in journeys:
            yield ConfigError.at(
                users_source.position(path),
                f"{path[-1]} names {journey!r}, which is not a journey check",
                hint=_hint(journey, sorted(journeys), "journey"),
            )
    for i, cohort in enumerate(users.cohorts):
        if cohort.provisioned and (cohort.registration or users.registration) is None:
            yield ConfigError.at(
                users_source.position(("users", "cohorts", i, "size")),
                f"cohort {cohort.name!r} is provisioned (size: {cohort.size}) but no journey registers its users",
                hint="name a journey in users.registration (or the cohort's registration:), or list users:",
            )


def _hint(name: str, known: Sequence[str], what: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{what}s: {', '.join(known)}" if known else "define it under users: (see docs/users.md)"
