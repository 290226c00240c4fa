"""Faults as leases: written to the store before they are applied, released once reverted.

A fault's lease (kind ``fault``) names its target as the resource — so two experiments can never hold
the same target — and carries in its payload everything a revert needs: the fault's spec, the
target, and what ``prepare`` decided. The lease's TTL is also the fault's own (a toxic, a router
fault and a stress process each expire by themselves), so a runner killed with SIGKILL leaves nothing
active past the TTL, and ``recover`` reverts what is left from the payload alone.

``halt`` is a lease too (kind ``halt``): every runner looks for it between steps and stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter

from livesite.chaos.faults import FAULTS, FaultError, Info, Target
from livesite.chaos.spec import FaultSpec
from livesite.clock import Clock, SystemClock
from livesite.store.leases import Lease, Leases

log = logging.getLogger(__name__)
FAULT, HALT = "fault", "halt"
HALT_SECONDS = 10.0  # how long a halt stays up: long enough for every runner's next look
_FAULT_SPEC: TypeAdapter[FaultSpec] = TypeAdapter(FaultSpec)
REVERT_ATTEMPTS = 3
SECRET_FIELDS = frozenset({"token"})


class FaultPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment: str
    fault: JsonValue  # the FaultSpec, as JSON
    target: Target
    info: Info


def holder_name(experiment: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{experiment}"


@dataclass
class Held:
    lease: Lease
    spec: FaultSpec
    target: Target
    info: Info


class TargetTaken(FaultError):
    """Another experiment holds a fault on this target."""


class FaultBook:
    """Acquire, apply, revert and recover faults through one lease store."""

    def __init__(self, leases: Leases, clock: Clock | None = None) -> None:
        self.leases = leases
        self.clock = clock or SystemClock()

    async def apply(self, experiment: str, spec: FaultSpec, target: Target, ttl: float) -> Held:
        """Write the lease, then inject. An injection that fails is reverted and its lease released."""
        kind = FAULTS[spec.type]
        now = self.clock.time()
        holder = holder_name(experiment)
        # What a revert needs (a toxic's name, a rule's tag, a file) is derived from this token and
        # written in the lease, so the lease is complete before anything is touched.
        token = os.urandom(8).hex()
        info = {**kind.prepare(spec, target, token), "token": token}
        # Secrets (a router's admin token) are not written to the store: a revert from the lease alone
        # goes without them (the fault then ends at its TTL, which the data plane keeps by itself).
        fault = spec.model_dump(mode="json", exclude=set(SECRET_FIELDS & set(type(spec).model_fields)))
        payload = FaultPayload(experiment=experiment, fault=fault, target=target, info=info)
        lease = await self.leases.acquire(
            FAULT,
            [target.resource],
            holder,
            ttl_seconds=ttl,
            now=now,
            payload=payload.model_dump(mode="json"),
        )
        if lease is None:
            held = [x for x in await self.leases.active(FAULT, now=now) if x.resource == target.resource]
            by = held[0].holder if held else "another experiment"
            raise TargetTaken(f"{target.description} is already under a fault held by {by}: refused")
        held_fault = Held(lease, spec, target, info)
        try:
            await kind.inject(spec, target, ttl, info)
        except BaseException:
            await asyncio.shield(self.revert(held_fault))
            raise
        return held_fault

    async def revert(self, held: Held) -> None:
        """Revert (retried) and release. A revert that keeps failing keeps its lease, for ``recover``."""
        kind = FAULTS[held.spec.type]
        error: Exception | None = None
        for attempt in range(REVERT_ATTEMPTS):
            try:
                await kind.revert(held.spec, held.target, held.info)
                await self.leases.release(held.lease)
                return
            except FaultError as e:
                error = e
                log.warning("revert of %s failed (attempt %d): %s", held.target.description, attempt + 1, e)
                await self.clock.sleep(0.2 * (attempt + 1))
        assert error is not None
        raise FaultError(
            f"could not revert {held.target.description}: {error}",
            hint="`livesite chaos recover` retries it; the fault also expires at its lease's TTL",
        )

    async def held(self, *, expired: bool = True) -> list[Held]:
        """Every fault lease in the store (with ``expired``: also those past their TTL, never released)."""
        out = []
        for lease in await self.leases.active(FAULT, now=self.clock.time(), expired=expired):
            try:
                payload = FaultPayload.model_validate(lease.payload)
                spec = _FAULT_SPEC.validate_python(payload.fault)
            except ValueError as e:
                log.error("fault lease %s has an unreadable payload: %s", lease.resource, e)
                continue
            out.append(Held(lease, spec, payload.target, payload.info))
        return out

    async def recover(self, holders: Sequence[str] | None = None) -> tuple[list[Held], list[str]]:
        """Revert every fault lease left behind (or those of ``holders``); (reverted, errors)."""
        reverted, errors = [], []
        for held in await self.held():
            if holders is not None and held.lease.holder not in holders:
                continue
            try:
                await self.revert(held)
                reverted.append(held)
            except FaultError as e:
                errors.append(str(e))
        return reverted, errors

    async def halt(self) -> tuple[list[Held], list[str]]:
        """The kill switch: tell every runner to stop, and revert every active fault from here."""
        await self.leases.acquire(
            HALT, ["all"], holder_name("halt"), ttl_seconds=HALT_SECONDS, now=self.clock.time()
        )
        return await self.recover()

    async def halted(self) -> bool:
        return bool(await self.leases.active(HALT, now=self.clock.time()))
