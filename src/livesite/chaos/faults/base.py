"""The contract of a fault kind: resolve targets (for the plan and the blast radius), inject, revert.

``prepare`` decides, before anything is touched, everything ``revert`` will need (the toxic's or the
router fault's name, the file a disk fill writes, the tag of a firewall rule), derived from the
lease's token: it goes into the lease, which is written before ``inject`` runs, so a revert can run
in another process (``recover``) even if the injector died halfway. A revert of what is already gone
(the process exited, the toxic expired) succeeds: reverting twice is safe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, JsonValue

from livesite.errors import LivesiteError


class FaultError(LivesiteError):
    """A fault cannot be resolved, injected or reverted; the message says which target and why."""


class Target(BaseModel):
    """One thing a fault touches: its lease's resource key and what to show a person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource: str  # "process:1234:1732890000.1", "proxy:http://127.0.0.1:8474/partner", ...
    description: str
    data: dict[str, JsonValue] = {}


Info = dict[str, JsonValue]


def _nothing(spec: BaseModel, target: Target, token: str) -> Info:
    return {}


@dataclass(frozen=True, slots=True)
class FaultKind:
    resolve: Callable[[BaseModel], Awaitable[Sequence[Target]]]
    inject: Callable[[BaseModel, Target, float, Info], Awaitable[None]]  # (spec, target, ttl, info)
    revert: Callable[[BaseModel, Target, Info], Awaitable[None]]
    prepare: Callable[[BaseModel, Target, str], Info] = _nothing  # (spec, target, lease token)
