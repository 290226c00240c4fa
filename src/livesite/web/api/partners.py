"""Third parties: ``/api/partners`` (availability, latency, open incident) and their incidents.

An incident record is what a partner's contact is to be sent, so the API serves it whole.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from livesite.errors import NotFound, UsageError
from livesite.incidents import PartnerIncident, PartnerSummary
from livesite.monitor.partners import summaries
from livesite.monitor.service import Monitor
from livesite.store.base import ResultReader
from livesite.store.incidents import IncidentStore
from livesite.web.api.errors import BAD_INPUT, NOT_FOUND
from livesite.web.api.results import Hours, Limit

PartnerName = Annotated[str, Path(min_length=1, max_length=200)]


def router(store: ResultReader | None, incidents: IncidentStore | None, monitor: Monitor | None) -> APIRouter:
    api = APIRouter(prefix="/api", responses=BAD_INPUT)

    def sources() -> tuple[Monitor, ResultReader]:
        if monitor is None or store is None:
            raise UsageError(
                "this server has no monitor and store to read partners from",
                hint="start livesite monitor with a store",
            )
        return monitor, store

    @api.get("/partners", response_model=list[PartnerSummary])
    async def partners(hours: Hours = 24) -> list[PartnerSummary]:
        watch, reader = sources()
        since = datetime.now(tz=UTC) - timedelta(hours=hours)
        return await summaries(watch.config, reader, incidents, since)

    @api.get("/partners/{partner}/incidents", response_model=list[PartnerIncident], responses=NOT_FOUND)
    async def partner_incidents(
        partner: PartnerName,
        open_only: Annotated[bool, Query(description="Only the open incident, if any.")] = False,
        limit: Limit = 100,
    ) -> list[PartnerIncident]:
        watch, _ = sources()
        if partner not in watch.config.partner_names():
            raise NotFound(f"no partner named {partner!r}", hint="GET /api/partners lists them")
        if incidents is None:
            return []
        return await incidents.incidents(partner, open_only=open_only, limit=limit)

    return api
