"""Who is in the pool: every user of every cohort, whether it can run, and who holds it now."""

from __future__ import annotations

from dataclasses import dataclass

from livesite.config.users import ATTRIBUTES
from livesite.users.pool import KIND, UserPool


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One user as ``livesite users list`` shows it: nothing secret (no username, no password)."""

    user: str
    cohort: str
    attributes: dict[str, str]
    source: str  # listed | provisioned
    state: str  # ready | missing (provisioned but not registered yet)
    leased_by: str = ""
    lease_expires_at: float | None = None


async def roster(pool: UserPool) -> list[RosterRow]:
    held = {lease.resource: lease for lease in await pool.leases.active(KIND, now=pool.clock.time())}
    rows: list[RosterRow] = []
    for cohort in pool.settings.cohorts:
        ready = set(pool.ready(cohort))
        attributes = {k: v for k, v in cohort.attributes.pairs() if v}
        for user in cohort.user_ids():
            lease = held.get(user)
            rows.append(
                RosterRow(
                    user=user,
                    cohort=cohort.name,
                    attributes=attributes,
                    source="provisioned" if cohort.provisioned else "listed",
                    state="ready" if user in ready else "missing",
                    leased_by=lease.holder if lease else "",
                    lease_expires_at=lease.expires_at if lease else None,
                )
            )
    return rows


__all__ = ["ATTRIBUTES", "RosterRow", "roster"]
