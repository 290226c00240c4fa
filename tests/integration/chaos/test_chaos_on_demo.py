"""The demo's chaos act both ways: a shop instance of zone-a killed while zone-a is probed holds thanks
to the front's failover; with the `no-failover` defect, the experiment aborts within two rounds."""

from __future__ import annotations

from pathlib import Path

from livesite.chaos.hypothesis import Hypothesis
from livesite.chaos.leases import FaultBook
from livesite.chaos.runner import Runner
from livesite.chaos.spec import ExperimentFile
from livesite.config import load, loads_document
from livesite.demo import control
from livesite.demo.state import STATE_FILE, DemoState
from livesite.scenario import checks_file
from livesite.store import open_store
from livesite.store.leases import open_leases


async def _kill_shop_a1(demo: DemoState, tmp_path: Path):  # type: ignore[no-untyped-def]
    experiment = loads_document(
        f"""
experiments:
  - name: shop-a1-dies
    config: checks.yaml
    steady_state: {{checks: [health, revision], zones: [zone-a], interval: 300ms, window: 2,
                   tolerance: {{pass_rate: 0.9}}}}
    method:
      - fault: {{type: process, signal: SIGKILL, select: {{demo: "{demo.state_dir / STATE_FILE}", component: shop-a1}}}}
        duration: 4s
""",
        ExperimentFile,
    ).experiments[0]
    config = load(checks_file(), env=demo.env())
    assert experiment.steady_state is not None
    hypothesis = Hypothesis(config, experiment.steady_state)
    store = await open_store(f"sqlite:///{tmp_path / 'chaos.db'}")
    try:
        return await Runner(experiment, FaultBook(await open_leases(store)), hypothesis).run()
    finally:
        hypothesis.close()
        await store.close()


async def test_failover_holds_the_steady_state_and_its_absence_aborts(fresh_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    healthy = await fresh_demo()
    journal = await _kill_shop_a1(healthy, tmp_path / "a")
    assert journal.status == "completed" and not journal.deviated, journal.reason
    await control.restart(healthy, "shop-a1")

    fragile = await fresh_demo(defects=["no-failover"])
    journal = await _kill_shop_a1(fragile, tmp_path / "b")
    assert journal.status == "aborted" and journal.deviated
    assert "broke during the method" in journal.reason
    assert len(journal.during) == 2, "aborted at the second broken round"
    assert journal.faults[0].reverted_at is not None
