"""The monitor's partner watch: Results in, one incident per partner outage out, kept in the store.

:meth:`PartnerWatch.observe` is the monitor's result subscriber (synchronous, on the hot path: it
only folds, see ``livesite.incidents``); what changed is queued and :meth:`PartnerWatch.run` saves
it, so a slow store never holds a probe. On start, :meth:`PartnerWatch.seed` reads the open
incidents back: a restart continues an outage rather than opening a second record for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from livesite.config.models import Config
from livesite.incidents import (
    PartnerIncident,
    PartnerPolicy,
    PartnerSummary,
    Track,
    evidence_of,
    fold,
    summarize,
)
from livesite.results import Result
from livesite.store.base import ResultQuery, ResultReader
from livesite.store.incidents import IncidentStore

RESULTS_PER_CHECK = 5_000  # the newest Results of each check a summary reads

log = logging.getLogger(__name__)


class PartnerWatch:
    def __init__(
        self,
        config: Config,
        store: IncidentStore | None = None,
        *,
        on_incident: Callable[[PartnerIncident], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.on_incident = on_incident
        self.tracks: dict[str, Track] = {}
        self._policies: dict[str, PartnerPolicy] = {}
        self._pending: dict[str, PartnerIncident] = {}  # by id: the newest copy of each changed record
        self._changed = asyncio.Event()

    def policy(self, partner: str) -> PartnerPolicy:
        policy = self._policies.get(partner)
        if policy is None:
            p = self.config.partner(partner)
            policy = PartnerPolicy(p.open_after, p.resolve_after, p.evidence, p.contact)
            self._policies[partner] = policy
        return policy

    async def seed(self) -> None:
        if self.store is None:
            return
        for incident in await self.store.incidents(open_only=True, limit=1000):
            track = self.tracks.setdefault(incident.partner, Track(failing=[]))
            if track.incident is None:
                track.incident = incident

    def observe(self, result: Result) -> None:
        for partner, seen in evidence_of(result):
            track = self.tracks.setdefault(partner, Track(failing=[]))
            changed = fold(track, partner, seen, self.policy(partner))
            if changed is None:
                continue
            copy = changed.model_copy(deep=True)  # what is saved must not change under the writer
            self._pending[copy.id] = copy
            self._changed.set()
            if self.on_incident is not None:
                self.on_incident(copy)

    def open_incidents(self) -> list[PartnerIncident]:
        return [t.incident for t in self.tracks.values() if t.incident is not None]

    async def flush(self) -> None:
        if not self._pending or self.store is None:
            self._pending.clear()
            return
        batch = list(self._pending.values())
        self._pending.clear()
        try:
            await self.store.save_incidents(batch)
        except Exception:
            # Kept for the next flush, unless a newer copy of the record arrived meanwhile.
            for incident in batch:
                self._pending.setdefault(incident.id, incident)
            raise

    async def run(self) -> None:
        """Save changes as they come, until cancelled (then save what is left)."""
        try:
            while True:
                await self._changed.wait()
                self._changed.clear()
                try:
                    await self.flush()
                except Exception:
                    log.exception("could not save partner incidents; retrying")
                    await asyncio.sleep(1.0)
                    self._changed.set()
        finally:
            await asyncio.shield(self.flush())


async def summaries(
    config: Config,
    results: ResultReader,
    incidents: IncidentStore | None,
    since: datetime,
    partner: str | None = None,
) -> list[PartnerSummary]:
    """Each partner's availability, latency and open incident since ``since``, from the store."""
    names = [partner] if partner is not None else config.partner_names()
    out = []
    for name in names:
        checks = [c.name for c in config.checks if name in c.partners()]
        read: list[Result] = []
        for check in checks:
            read += await results.results(ResultQuery(check=check, since=since, limit=RESULTS_PER_CHECK))
        summary = summarize(name, read, since, contact=config.partner(name).contact)
        if incidents is not None:
            found = await incidents.incidents(name, open_only=True, limit=1)
            summary.open_incident = found[0] if found else None
        out.append(summary)
    return out
