"""Bring a cohort's provisioned users into being, and take them away again.

``provision`` runs the registration journey once for every user of a ``size: N`` cohort that is not
in the accounts file yet, as that user (a fresh username from ``users.username``, a random password),
and keeps the account only when the journey passed. ``cleanup`` leases each provisioned user (so no
run is using it), runs the cleanup journey, and forgets the account when it passed.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass

from livesite.checks import KINDS, Identity, Kind, Resources, RunContext, Seen, run_check
from livesite.checks.journey import JourneyCheck, run_journey
from livesite.checks.variables import render
from livesite.config.models import CheckBase, Config
from livesite.config.users import Cohort
from livesite.results import Result, Status
from livesite.users.accounts import Account, locked, read_accounts, write_accounts
from livesite.users.pool import NoFreeUser, UserPool, identity_for

PROVISION_BATCH = 8  # users registered at once


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one user: ``registered``, ``removed``, ``failed`` (with the journey's Result)."""

    user: str
    cohort: str
    action: str
    reason: str = ""
    result: Result | None = None


def _journey(config: Config, name: str | None) -> CheckBase | None:
    return config.check(name) if name is not None else None


def _zone(config: Config, cohort: Cohort, journey: CheckBase) -> str:
    if cohort.attributes.zone:
        return cohort.attributes.zone
    return config.zones_for(journey)[0]


def _context(
    config: Config, pool: UserPool, zone: str, resources: Resources, identity: Identity
) -> RunContext:
    return RunContext(
        zone=config.zone(zone),
        defaults=config.defaults,
        resources=resources,
        clock=pool.clock,
        identity=identity,
        zones=tuple(config.zones),
    )


def missing(config: Config, pool: UserPool) -> list[Outcome]:
    """What :func:`provision` would register (``would register``), running nothing: the dry run."""
    have = pool.accounts()
    return [
        Outcome(user, cohort.name, "would register")
        for cohort in config.users.cohorts
        if cohort.provisioned
        for user in cohort.user_ids()
        if user not in have
    ]


def present(config: Config, pool: UserPool) -> list[Outcome]:
    """What :func:`cleanup` would remove (``would remove``), running nothing: the dry run."""
    return [
        Outcome(user, cohort.name, "would remove")
        for cohort in config.users.cohorts
        if cohort.provisioned
        for user in pool.ready(cohort)
    ]


async def provision(config: Config, pool: UserPool) -> list[Outcome]:
    """Register every missing user of every provisioned cohort; one Outcome per user tried."""
    outcomes: list[Outcome] = []
    resources = Resources(config.base_dir)
    try:
        for cohort in config.users.cohorts:
            if not cohort.provisioned:
                continue
            journey = _journey(config, cohort.registration or config.users.registration)
            if journey is None:
                continue  # the loader refuses this; a config built in code may still try
            have = pool.accounts()
            wanted = [u for u in cohort.user_ids() if u not in have]
            # A few at a time, each batch written down before the next starts: a crash leaves at most
            # one batch registered on the site but unknown here.
            for start in range(0, len(wanted), PROVISION_BATCH):
                batch = wanted[start : start + PROVISION_BATCH]
                done = await asyncio.gather(
                    *(_register(config, pool, cohort, user, journey, resources) for user in batch)
                )
                registered = [o.account for o in done if o.account is not None]
                if registered:
                    with locked(pool.accounts_path):
                        accounts = read_accounts(pool.accounts_path)
                        accounts.update((a.id, a) for a in registered)
                        write_accounts(pool.accounts_path, accounts)
                outcomes += [o.outcome for o in done]
    finally:
        resources.close()
    return outcomes


@dataclass(frozen=True, slots=True)
class _Registered:
    outcome: Outcome
    account: Account | None


async def _register(
    config: Config, pool: UserPool, cohort: Cohort, user: str, journey: CheckBase, resources: Resources
) -> _Registered:
    settings = config.users
    username = render(
        settings.username, {"user.id": user, "user.cohort": cohort.name, "run.nonce": uuid.uuid4().hex[:12]}
    )
    password = secrets.token_urlsafe(18)
    identity = identity_for(settings, cohort, user, username, password, "")
    learnt: dict[str, str] = {}

    async def keep_variables(spec: CheckBase, ctx: RunContext) -> Seen:
        assert isinstance(spec, JourneyCheck)
        seen, values = await run_journey(spec, ctx)
        learnt.update(values)
        return seen

    # The journey kind as registered, but keeping what the run extracted: a site that enrols the
    # new user in two-factor login answers with its TOTP secret, extracted as ``totp_secret``.
    kinds = {**KINDS, "journey": Kind(spec=JourneyCheck, run=keep_variables)}
    ctx = _context(config, pool, _zone(config, cohort, journey), resources, identity)
    result = await run_check(journey, ctx, kinds)
    if result.status is not Status.ok:
        return _Registered(Outcome(user, cohort.name, "failed", result.reason(), result), None)
    totp_secret = next(
        (v for k, v in learnt.items() if k.startswith("steps.") and k.endswith(".totp_secret")), ""
    )
    account = Account(user, cohort.name, username, password, totp_secret, pool.clock.time())
    return _Registered(Outcome(user, cohort.name, "registered", result=result), account)


async def cleanup(config: Config, pool: UserPool) -> list[Outcome]:
    """Run the cleanup journey for every provisioned user and forget those it removed."""
    outcomes: list[Outcome] = []
    resources = Resources(config.base_dir)
    try:
        for cohort in config.users.cohorts:
            if not cohort.provisioned:
                continue
            journey = _journey(config, cohort.cleanup or config.users.cleanup)
            for user in pool.ready(cohort):
                outcomes.append(await _remove(config, pool, cohort, user, journey, resources))
    finally:
        resources.close()
    return outcomes


async def _remove(
    config: Config, pool: UserPool, cohort: Cohort, user: str, journey: CheckBase | None, resources: Resources
) -> Outcome:
    try:
        async with pool.running(user=user, check="livesite users cleanup") as identity:
            result = None
            if journey is not None:
                ctx = _context(config, pool, _zone(config, cohort, journey), resources, identity)
                result = await run_check(journey, ctx)
                if result.status is not Status.ok:
                    return Outcome(user, cohort.name, "failed", result.reason(), result)
            with locked(pool.accounts_path):
                accounts = read_accounts(pool.accounts_path)
                accounts.pop(user, None)
                write_accounts(pool.accounts_path, accounts)
            return Outcome(user, cohort.name, "removed", result=result)
    except NoFreeUser as e:
        return Outcome(user, cohort.name, "failed", str(e))
