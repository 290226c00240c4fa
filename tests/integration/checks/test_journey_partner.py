"""A journey's partner steps are evidence about that partner alone."""

from __future__ import annotations

from livesite.checks import RunContext, run_check
from livesite.config import loads
from livesite.incidents import evidence_of
from livesite.testing.target import TargetServer


async def test_only_the_partner_step_counts_for_the_partner() -> None:
    async with TargetServer() as target:
        config = loads(
            f"""
zones: [{{name: local, base_url: "{target.url().rstrip("/")}"}}]
checks:
  - name: checkout
    kind: journey
    steps:
      - {{name: browse, url: /status/200}}
      - {{name: pay, url: /status/503, partner: payments}}
"""
        )
        spec = config.checks[0]
        assert config.partner_names() == ["payments"] and spec.partners() == {"payments"}
        result = await run_check(spec, RunContext(zone=config.zones[0], zones=tuple(config.zones)))
    assert [s.partner for s in result.steps] == ["", "payments"]
    found = list(evidence_of(result))
    assert [(p, e.step, e.passed, e.status_code) for p, e in found] == [("payments", "pay", False, 503)]
