"""Flagger-style webhooks: gates a rollout waits on, and events it announces.

Every hook gets ``POST {name, namespace, phase, checksum, metadata}``; a 2xx answer lets the rollout
proceed. ``confirm-rollout`` and ``confirm-promotion`` are waited on (re-asked every interval until
they say yes); ``pre-rollout`` that says no rolls back; ``rollout``, ``post-rollout``, ``rollback``
and ``event`` are told and not waited on.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Sequence

import httpx

from livesite.rollout.spec import Phase, RolloutSpec, Webhook

log = logging.getLogger(__name__)
NAMESPACE = "livesite"


def checksum(spec: RolloutSpec) -> str:
    """Changes when the rollout spec does (Flagger sends the canary's checksum)."""
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]


class Webhooks:
    def __init__(self, spec: RolloutSpec, client: httpx.AsyncClient | None = None) -> None:
        self.spec = spec
        self._client = client
        self._checksum = checksum(spec)

    def of(self, phase: Phase) -> Sequence[Webhook]:
        return [h for h in self.spec.webhooks if h.phase == phase]

    async def ask(self, phase: Phase, metadata: dict[str, str] | None = None) -> tuple[bool, str]:
        """Call every hook of ``phase``; (True, "") when all answered 2xx, else (False, why)."""
        for hook in self.of(phase):
            ok, why = await self._call(hook, metadata or {})
            if not ok:
                return False, f"webhook {hook.name} ({phase}) {why}"
        return True, ""

    async def tell(self, phase: Phase, metadata: dict[str, str] | None = None) -> None:
        for hook in self.of(phase):
            ok, why = await self._call(hook, metadata or {})
            if not ok:
                log.warning("webhook %s (%s) %s", hook.name, phase, why)

    async def _call(self, hook: Webhook, metadata: dict[str, str]) -> tuple[bool, str]:
        body = {
            "name": self.spec.name,
            "namespace": NAMESPACE,
            "phase": hook.phase,
            "checksum": self._checksum,
            "metadata": {**hook.metadata, **metadata},
        }
        try:
            # Only the status counts: the answer's body is never read (a gate cannot flood the controller).
            async with contextlib.AsyncExitStack() as stack:
                client = self._client
                if client is None:
                    client = await stack.enter_async_context(httpx.AsyncClient())
                reply = await stack.enter_async_context(
                    client.stream("POST", hook.url, json=body, timeout=hook.timeout)
                )
        except httpx.HTTPError as e:
            return False, f"did not answer: {type(e).__name__}: {e}"
        if 200 <= reply.status_code < 300:
            return True, ""
        return False, f"answered {reply.status_code}"
