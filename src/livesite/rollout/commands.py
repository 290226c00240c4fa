"""Commands to a rollout from any process (promote, abort, pause, resume), through the store.

A command is a row the controller takes at its next look. ``abort`` is the one that must work with no
controller alive: then it moves all traffic to stable itself, verifies the router, and journals it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from livesite.errors import UsageError
from livesite.rollout.controller import heartbeat_fresh
from livesite.rollout.routers import Router
from livesite.rollout.spec import RolloutSpec
from livesite.store.rollouts import Command, CommandName, Decision, RolloutRecord, RolloutStore


async def send(spec: RolloutSpec, store: RolloutStore, command: CommandName, router: Router) -> str:
    """Hand ``command`` to the rollout's controller (or, to abort with none alive, do it); what happened."""
    record = await store.record(spec.name)
    if record is None:
        raise UsageError(f"{spec.name} has not started", hint=f"livesite rollout start {spec.name}")
    if record.done:
        raise UsageError(f"{spec.name} is already {record.phase}")
    alive = heartbeat_fresh(record, datetime.now(tz=UTC))
    if command == "abort" and not alive:
        return await _abort_here(spec, store, record, router)
    await store.send(Command(rollout=spec.name, command=command))
    if alive:
        return f"{command} sent to the controller ({record.owner})"
    return f"{command} queued: no controller is running; `livesite rollout start {spec.name}` takes it"


async def _abort_here(spec: RolloutSpec, store: RolloutStore, record: RolloutRecord, router: Router) -> str:
    weights = {spec.backends.stable: 100, spec.backends.canary: 0}
    await router.set_weights(weights)
    if record.pinned:
        await router.set_routes([])
    state = await router.verify()
    seen = {k: state.weights.get(k) for k in weights}
    if seen != weights:
        raise UsageError(f"the router runs {seen} after being asked for {weights}; traffic NOT moved")
    now = datetime.now(tz=UTC)
    record.phase, record.weight, record.pinned, record.updated_at = "aborted", 0, False, now
    record.reason = "aborted from the command line with no controller running"
    await store.save(record)
    await store.journal(
        Decision(
            rollout=spec.name,
            at=now,
            phase="aborted",
            step=record.step,
            action="aborted",
            reason=record.reason,
            weights=weights,
        )
    )
    return f"no controller was running: all traffic sent to {spec.backends.stable} and {spec.name} aborted"
