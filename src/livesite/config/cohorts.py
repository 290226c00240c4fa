"""Checks against the ``users:`` section: every cohort or user a check names exists, and the
registration and cleanup journeys the pool runs are journeys of the config. Also where a kind finds
its own check wrong across fields (``CheckBase.problems``: a journey's undefined variable)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

from livesite.config.models import CheckBase, Config, Zone
from livesite.config.users import UsersSettings
from livesite.config.yamlsource import Source
from livesite.errors import ConfigError


def problems(
    parts: Sequence[tuple[Config, Source]],
    users: UsersSettings,
    users_source: Source | None,
    zones: Sequence[Zone] = (),
) -> Iterator[ConfigError]:
    yield from _step_zones(parts, zones)
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


def _step_zones(parts: Sequence[tuple[Config, Source]], zones: Sequence[Zone]) -> Iterator[ConfigError]:
    """A step's ``zone:`` names a zone of the config; a step's path needs its zone's base_url."""
    by_name = {z.name: z for z in zones}
    for config, source in parts:
        for i, check in enumerate(config.checks):
            runs_in = [by_name[z] for z in (check.zones or by_name) if z in by_name]
            for part in ("steps", "cleanup"):
                for j, step in enumerate(getattr(check, part, None) or []):
                    zone, url = getattr(step, "zone", None), getattr(step, "url", None)
                    if zone is not None and zone not in by_name:
                        yield ConfigError.at(
                            source.position(("checks", i, part, j, "zone")),
                            f"check {check.name!r}: step {getattr(step, 'name', j)!r} names unknown zone {zone!r}",
                            hint=_hint(zone, sorted(by_name), "zone"),
                        )
                        continue
                    targets = [by_name[zone]] if zone is not None else runs_in or [Zone(name="local")]
                    if isinstance(url, str) and url.startswith("/") and any(not z.base_url for z in targets):
                        yield ConfigError.at(
                            source.position(("checks", i, part, j, "url")),
                            f"check {check.name!r}: step {getattr(step, 'name', j)!r} has a path {url[:60]!r} "
                            "but a zone it runs in has no base_url",
                            hint="give every zone a base_url, or write an absolute url",
                        )


def _hint(name: str, known: Sequence[str], what: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{what}s: {', '.join(known)}" if known else "define it under users: (see docs/users.md)"
