"""One place that builds a :class:`RunContext` per zone and identity, sharing one set of resources."""

from __future__ import annotations

from livesite.checks import ANONYMOUS, Identity, Resources, RunContext
from livesite.clock import Clock
from livesite.config.models import Config


class Contexts:
    def __init__(self, config: Config, clock: Clock, resources: Resources | None = None) -> None:
        self.config = config
        self.clock = clock
        self.resources = resources or Resources(config.base_dir)
        self._made: dict[tuple[str, str], RunContext] = {}

    def get(self, zone: str, identity: Identity = ANONYMOUS) -> RunContext:
        key = (zone, identity.key)
        ctx = self._made.get(key)
        if ctx is None:
            ctx = RunContext(
                zone=self.config.zone(zone),
                defaults=self.config.defaults,
                resources=self.resources,
                clock=self.clock,
                identity=identity,
                zones=tuple(self.config.zones),
            )
            self._made[key] = ctx
        return ctx

    def forget(self, identity: Identity) -> None:
        """Drop the contexts of an identity that will not run again (a fake user removed)."""
        for key in [k for k in self._made if k[1] == identity.key and identity.key]:
            del self._made[key]

    def close(self) -> None:
        self.resources.close()
