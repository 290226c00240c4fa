"""``/verdict`` as an Argo Rollouts web metric reads it, the journal over the API, and the status page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from test_controller import PlaneRouter, ScriptedAnalyzer, _spec

from livesite.rollout.controller import Controller
from livesite.store import open_store
from livesite.store.rollouts import rollouts_of
from livesite.web.app import Sources, create_app
from livesite.web.server import WebServer


async def test_verdict_says_false_for_a_failed_rollout_and_the_page_shows_why(tmp_path: Path) -> None:
    results = await open_store(f"sqlite:///{tmp_path / 'r.db'}")
    rollouts = rollouts_of(results)
    assert rollouts is not None
    web = WebServer(create_app(Sources(store=results, rollouts=rollouts)), "127.0.0.1:0")
    serving = asyncio.create_task(web.serve())
    try:
        async with httpx.AsyncClient() as client:
            unknown = await client.get(f"{web.url}/verdict", params={"rollout": "shop"})
            assert unknown.status_code == 404 and unknown.json()["hint"]
            spec = _spec("[{set_weight: 10}, {pause: 5s}]")
            await Controller(spec, PlaneRouter(), rollouts, ScriptedAnalyzer("fail"), tick=0.02).run()
            verdict = (await client.get(f"{web.url}/verdict", params={"rollout": "shop"})).json()
            assert verdict["result"] is False and verdict["outcome"] == "fail"
            assert verdict["phase"] == "rolled-back" and verdict["verdicts"][0]["metric"] == "errors"
            journal = (await client.get(f"{web.url}/api/rollouts/shop/decisions")).json()
            assert journal[0]["action"] == "rolled-back"
            page = (await client.get(f"{web.url}/")).text
            assert 'data-rollout="shop"' in page and "rolled-back" in page and "errors: <b>fail</b>" in page
    finally:
        web.stop()
        await serving
        await results.close()
