"""The real Chaos Toolkit CLI (`chaos run`) drives livesite's extension against the demo."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from livesite.demo.state import DemoState

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "chaostoolkit" / "experiment.json"
CHAOS = shutil.which("chaos", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(CHAOS is None, reason="chaostoolkit is a dev dependency: pip install -e '.[dev]'")
async def test_chaos_run_uses_livesite_probes_actions_and_rollbacks(fresh_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo: DemoState = await fresh_demo()
    checks = tmp_path / "checks.yaml"
    checks.write_text(
        (EXAMPLE.parents[1] / "demo-checks.yaml").read_text()
        + f'\nstore: {{url: "sqlite:///{tmp_path / "store.db"}"}}\n'
    )
    env = {**os.environ, **demo.env(), "LIVESITE_CHECKS": str(checks)}
    journal = tmp_path / "journal.json"
    shop = psutil.Process(demo.component("shop-a1").pid)
    done = await asyncio.to_thread(
        subprocess.run,
        [str(CHAOS), "--no-log-file", "run", "--journal-path", str(journal), "--rollback-strategy", "always", str(EXAMPLE)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = json.loads(journal.read_text())
    assert record["status"] == "completed" and record["deviated"] is False
    runs = {r["activity"]["name"]: r for r in record["run"]}
    lease = runs["freeze-shop-a1"]["output"]
    assert f"process:{shop.pid}:" in lease, lease
    during = runs["zone-b-result-while-frozen"]["output"]
    assert during["check"] == "health" and during["zone"] == "zone-b" and during["status"] == "ok"
    assert [r["activity"]["name"] for r in record["rollbacks"]] == ["livesite-halt"]
    assert record["rollbacks"][0]["output"] == 1, "the halt reverted the one fault"
    assert shop.status() != psutil.STATUS_STOPPED
