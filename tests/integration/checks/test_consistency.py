"""The consistency kind against the real demo: zones held to each other, no expected value written down."""

from __future__ import annotations

import os
from pathlib import Path

from demo_plugin import DemoFactory
from livesite.checks import RunContext, run_check
from livesite.checks.consistency import ConsistencyCheck
from livesite.config import load
from livesite.config.models import Zone
from livesite.demo import DemoState
from livesite.monitor import plan, run_once
from livesite.results import ConsistencyObservation, Result, Status

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "consistency.yaml"


async def _run(state: DemoState) -> dict[str, Result]:
    config = load(EXAMPLE, env={**os.environ, **state.env()})
    results = await run_once(config, plan(config))
    assert len(results) == 2, "each cross-zone check runs once"
    return {r.check: r for r in results}


async def test_a_healthy_demo_serves_one_revision_and_one_catalog_in_every_zone(demo: DemoState) -> None:
    results = await _run(demo)
    for result in results.values():
        assert result.status is Status.ok, result.reason()
        assert [s.name for s in result.steps] == ["zone-a", "zone-b"]
    obs = results["zones-serve-one-revision"].observation
    assert isinstance(obs, ConsistencyObservation)
    assert obs.differing == [] and obs.majority == "status=200 revision=v1 json.revision=v1"


async def test_a_zone_the_deploy_never_reached_is_caught_without_an_expected_revision(
    fresh_demo: DemoFactory,
) -> None:
    state = await fresh_demo(revision="v2", defects=["stale-zone:zone-b"])
    results = await _run(state)
    result = results["zones-serve-one-revision"]
    assert result.status is Status.failed
    assert result.reason() == (
        "assertion: zones disagree on status, revision, json.revision, no majority: "
        "zone-a: status=200 revision=v2 json.revision=v2, zone-b: status=200 revision=v1 json.revision=v1"
    )
    assert result.revision == "mixed" and result.revisions == ["v2", "v1"]
    obs = result.observation
    assert isinstance(obs, ConsistencyObservation) and obs.differing == ["zone-a", "zone-b"]
    assert results["zones-serve-one-catalog"].status is Status.ok, "the catalog is one database"

    # With a third vantage point on zone-a's edge, there is a majority, and the odd zone out is named.
    zones = (
        Zone(name="zone-a", base_url=state.zone_url("zone-a")),
        Zone(name="zone-b", base_url=state.zone_url("zone-b")),
        Zone(name="zone-c", base_url=state.zone_url("zone-a")),
    )
    spec = ConsistencyCheck(name="revision", url="/version", compare=["revision"])
    three = await run_check(spec, RunContext(zone=zones[0], zones=zones))
    assert three.status is Status.failed
    assert (
        three.reason()
        == "assertion at step 'zone-b': zone-b differs on revision: v1 where zone-a, zone-c say v2"
    )
    assert isinstance(three.observation, ConsistencyObservation)
    assert three.observation.majority == "v2" and three.observation.differing == ["zone-b"]


async def test_a_zone_that_does_not_answer_is_named_in_its_step(demo: DemoState) -> None:
    zones = (
        Zone(name="zone-a", base_url=demo.zone_url("zone-a")),
        Zone(name="zone-x", base_url="http://127.0.0.1:9"),
    )
    spec = ConsistencyCheck(name="revision", url="/version")
    result = await run_check(spec, RunContext(zone=zones[0], zones=zones))
    assert result.status is Status.error
    assert result.failure is not None and result.failure.step == "zone-x"
    assert result.reason().startswith("connect at step 'zone-x': zone-x: ")
    assert [s.status for s in result.steps] == [Status.ok, Status.error]
