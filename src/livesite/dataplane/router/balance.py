"""Choosing a backend: pure functions and one small counter, no I/O.

Two ways, and which one a request takes depends on whether it carries the sticky key:

* **Sticky cohorts.** The key (a user id header or a cookie) hashes to a bucket in ``[0, BUCKETS)``.
  The backends share the bucket range in *reverse* declaration order, each in proportion to its weight:
  with ``stable, canary`` the canary owns the lowest buckets. When the canary's weight grows, its range
  only grows, so a user it already had stays on it: nobody flips back to stable while the canary
  weight only grows, and the users who move do so once.
* **Smooth weighted round-robin** (nginx's) for requests without the key: 90/10 means exactly 9 of
  every 10 requests, spread evenly rather than in runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence

BUCKETS = 10_000  # a cohort is 0.01% of users: fine enough for a 1% canary step


def bucket(key: str) -> int:
    """The bucket of a sticky key, the same in every process and on every run (no hash seed)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def cohort_backend(point: int, order: Sequence[str], weights: Mapping[str, int]) -> str | None:
    """The backend whose share of the bucket range holds ``point``; ``order`` is the declaration order.

    Backends are laid out from the last declared to the first: the last owns ``[0, its share)``, and so
    on. A weight of 0 owns no bucket. None when every weight is 0.
    """
    total = sum(max(0, weights.get(name, 0)) for name in order)
    if total <= 0:
        return None
    cumulative = 0
    # point < BUCKETS * cumulative / total, in integers so that no rounding moves a user
    for name in reversed(order):
        weight = max(0, weights.get(name, 0))
        if weight == 0:
            continue
        cumulative += weight
        if point * total < BUCKETS * cumulative:
            return name
    return None  # unreachable: the last step makes cumulative == total


class RoundRobin:
    """Smooth weighted round-robin over the live backends; its only state is each backend's credit."""

    __slots__ = ("current", "weights")

    def __init__(self, weights: Mapping[str, int]) -> None:
        self.weights = dict(weights)
        self.current = dict.fromkeys(self.weights, 0)

    def set(self, weights: Mapping[str, int]) -> None:
        self.weights.update(weights)
        self.current = dict.fromkeys(self.weights, 0)

    def pick(self, eligible: Collection[str] | None = None) -> str | None:
        """The next backend among ``eligible`` (all by default) with a weight above 0, or None."""
        chosen: str | None = None
        best = 0
        total = 0
        current = self.current
        for name, weight in self.weights.items():
            if weight <= 0 or (eligible is not None and name not in eligible):
                continue
            total += weight
            credit = current[name] + weight
            current[name] = credit
            if chosen is None or credit > best:
                chosen, best = name, credit
        if chosen is not None:
            current[chosen] -= total
        return chosen
