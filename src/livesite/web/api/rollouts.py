"""Rollouts as the monitor's web surface shows them: ``/api/rollouts``, their journals, and ``/verdict``.

``GET /verdict?rollout=NAME`` answers the latest decision's outcome as
``{"rollout", "result": true|false|null, "outcome", "reason", "at", "verdicts"}`` — usable as an
Argo Rollouts ``web`` metric (``jsonPath: "{$.result}"``, ``successCondition: result == true``):
``result`` is true only for a pass; an inconclusive decision is null, never true.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from livesite.errors import NotFound, UsageError
from livesite.store.rollouts import Decision, MetricVerdict, RolloutRecord, RolloutStore
from livesite.web.api.errors import BAD_INPUT, NOT_FOUND
from livesite.web.api.results import Limit

RolloutName = Annotated[str, Path(min_length=1, max_length=200)]


class VerdictOut(BaseModel):
    rollout: str
    result: bool | None  # true: pass; false: fail; null: inconclusive or not judged yet
    outcome: str  # pass | fail | inconclusive | none
    reason: str
    at: datetime | None
    phase: str
    verdicts: list[MetricVerdict]


def router(rollouts: RolloutStore | None) -> APIRouter:
    api = APIRouter(responses=BAD_INPUT)

    def store() -> RolloutStore:
        if rollouts is None:
            raise UsageError("this server keeps no rollouts", hint="start livesite monitor with a store")
        return rollouts

    async def record(name: str) -> RolloutRecord:
        found = await store().record(name)
        if found is None:
            raise NotFound(f"no rollout named {name!r}", hint="GET /api/rollouts lists them")
        return found

    @api.get("/api/rollouts", response_model=list[RolloutRecord])
    async def all_rollouts() -> list[RolloutRecord]:
        return await store().records()

    @api.get("/api/rollouts/{rollout}/decisions", response_model=list[Decision], responses=NOT_FOUND)
    async def decisions(rollout: RolloutName, limit: Limit = 100) -> list[Decision]:
        await record(rollout)
        return await store().decisions(rollout, limit)

    @api.get("/verdict", response_model=VerdictOut, responses=NOT_FOUND)
    async def verdict(
        rollout: Annotated[str, Query(min_length=1, max_length=200, description="The rollout's name.")],
    ) -> VerdictOut:
        found = await record(rollout)
        judged = next((d for d in await store().decisions(rollout, 200) if d.outcome is not None), None)
        outcome = judged.outcome if judged is not None else None
        return VerdictOut(
            rollout=rollout,
            result=None if outcome in (None, "inconclusive") else outcome == "pass",
            outcome=outcome or "none",
            reason=(judged.reason or judged.action) if judged is not None else "not judged yet",
            at=judged.at if judged is not None else None,
            phase=found.phase,
            verdicts=judged.verdicts if judged is not None else [],
        )

    return api
