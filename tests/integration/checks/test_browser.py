"""Browser journeys in Debian's Chromium against the demo production and a target server.

Every test of this module runs on one event loop and shares one set of resources, so the whole
module starts Chromium once (Playwright's objects belong to the loop that made them).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
import pytest_asyncio

from demo_plugin import DemoFactory
from livesite.checks import Credentials, Identity, Resources, RunContext, run_check
from livesite.checks.browser import BrowserCheck
from livesite.checks.browsing.pool import Browsers, kill_marked
from livesite.config import loads
from livesite.demo import DemoState
from livesite.results import FailureKind, Result, Status
from livesite.testing import TargetServer

pytestmark = pytest.mark.asyncio(loop_scope="module")
PNG = b"\x89PNG\r\n\x1a\n"


def _browsers_left() -> list[psutil.Process]:
    left = []
    for process in psutil.Process().children(recursive=True):
        try:
            if any(arg.startswith("--livesite-browser=") for arg in process.cmdline()):
                left.append(process)
        except psutil.Error:
            pass
    return left


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def resources(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Resources]:
    shared = Resources(tmp_path_factory.mktemp("browser"))
    try:
        yield shared
    finally:
        await shared.aclose()
    assert not _browsers_left(), "a browser outlived Resources.aclose"


def _check(base_url: str, body: str, tmp_path: Path, **env: str) -> BrowserCheck:
    # Generous: the first run starts Chromium, and this machine is shared; tests assert behaviour, not time.
    timeout = "" if body.startswith("    timeout:") else "    timeout: 60s\n"
    text = f"""zones:
  - name: zone-a
    base_url: {base_url}
checks:
  - name: journey
    kind: browser
    artifacts_dir: {tmp_path / "artifacts"}
{timeout}{body}"""
    check = loads(text, file="journey.yaml", env=env).check("journey")
    assert isinstance(check, BrowserCheck)
    return check


async def _run(
    check: BrowserCheck, base_url: str, resources: Resources, identity: Identity = Identity()
) -> Result:
    from livesite.config.models import Zone

    zone = Zone(name="zone-a", base_url=base_url)
    return await run_check(check, RunContext(zone=zone, resources=resources, identity=identity))


def _closed_port() -> int:
    """A port nothing listens on (bound, then closed), so a request to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _file(result: Result, name: str) -> Path:
    found = [a for a in result.artifacts if a.name == name]
    assert found, f"no {name} among {result.artifacts} ({result.reason()})"
    artifact = found[0]
    path = Path(urlsplit(artifact.uri).path)
    assert path.is_file(), f"{artifact.uri} is not on disk"
    return path


async def test_a_journey_through_the_healthy_demo_passes_with_each_step_timed(
    demo: DemoState, resources: Resources, tmp_path: Path
) -> None:
    zone = demo.zone_url("zone-a")
    check = _check(
        zone,
        """    steps:
      - goto: /
      - expect_text: Gear for people who test in production
      - click: "ul.products a >> nth=0"
      - expect_url: /products/
      - expect_text: Reviews
        selector: "#reviews"
      - script: browser_scripts:title_names_the_shop
      - select: "#quantity"
        value: "2"
      - click: text=Add to cart
      - expect_text: Sign in to add to your cart
        selector: "#cart-status"
""",
        tmp_path,
    )
    result = await _run(check, zone, resources)
    assert result.status is Status.ok, result.reason()
    assert [s.name for s in result.steps][:3] == [
        "1 goto /",
        "2 expect_text Gear for people who test in production",
        "3 click ul.products a >> nth=0",
    ]
    assert all(s.status is Status.ok and s.duration_seconds > 0 for s in result.steps)
    home, product = result.steps[0], result.steps[2]
    assert home.target == zone + "/" and product.target == zone + "/products/1"
    # Steps that loaded a document carry its status, revision and Navigation Timing phases.
    for step in (home, product):
        assert step.revision == "v1" and step.observation is not None
        assert step.observation.status_code == 200
        assert step.phases is not None and step.phases.processing > 0
    assert result.steps[1].revision == "" and result.steps[1].phases is None
    assert result.revision == "v1" and result.target == zone + "/"
    assert result.artifacts == [] and not (tmp_path / "artifacts").exists()


async def test_a_fake_user_signs_in_through_the_form_and_no_credential_reaches_the_result(
    demo: DemoState, resources: Resources, tmp_path: Path
) -> None:
    zone = demo.zone_url("zone-a")
    email, password = f"fake-{uuid.uuid4().hex[:8]}@example.test", f"pw-{uuid.uuid4().hex}"
    async with httpx.AsyncClient() as client:
        registered = await client.post(f"{zone}/api/register", json={"email": email, "password": password})
        assert registered.status_code == 201
    user = Identity(
        user="u1",
        cohort="pro-eu",
        headers=(("X-Livesite-Synthetic", "u1"),),
        credentials=Credentials(username=email, password=password),
    )
    journey = """    steps:
      - goto: /login
      - fill: "#email"
        value: ${user.username}
      - fill: "#password"
        value: ${user.password}
      - click: button[type=submit]
      - expect_text: Signed in as ${user.username}
        selector: "#login-status"
      - goto: /products/2
      - click: text=Add to cart
      - expect_text: %s
        selector: "#cart-status"
"""
    passed = await _run(_check(zone, journey % "Added to your cart", tmp_path), zone, resources, user)
    assert passed.status is Status.ok, passed.reason()
    assert passed.user == "u1" and passed.cohort == "pro-eu"

    failed = await _run(_check(zone, journey % "Added 7 items", tmp_path), zone, resources, user)
    assert failed.status is Status.failed and failed.failure is not None
    assert failed.failure.step == "8 expect_text Added 7 items"
    assert "'#cart-status'" in failed.failure.message and "Added to your cart" in failed.failure.message
    assert _file(failed, "screenshot").read_bytes().startswith(PNG)
    for result in (passed, failed):
        shown = result.model_dump_json()
        assert password not in shown
    for name in ("console", "requests"):
        assert password not in _file(failed, name).read_text()


async def test_the_broken_link_defect_fails_at_the_click_that_leads_to_a_404_with_a_screenshot(
    fresh_demo: DemoFactory, resources: Resources, tmp_path: Path
) -> None:
    state = await fresh_demo(defects=["broken-link"])
    zone = state.zone_url("zone-a")
    check = _check(
        zone,
        """    steps:
      - goto: /
      - name: open the sale
        click: text=Summer sale
      - expect_text: 30% off
""",
        tmp_path,
    )
    result = await _run(check, zone, resources)
    assert result.status is Status.failed and result.failure is not None
    assert result.failure.kind is FailureKind.http and result.failure.step == "open the sale"
    assert result.failure.message == f"the page {zone}/sale answered HTTP 404"
    assert result.reason() == f"http at step 'open the sale': the page {zone}/sale answered HTTP 404"
    assert [s.status for s in result.steps] == [Status.ok, Status.failed], "the run stops at the failed step"
    assert result.steps[1].observation is not None and result.steps[1].observation.status_code == 404
    screenshot = _file(result, "screenshot")
    assert screenshot.read_bytes().startswith(PNG)
    assert screenshot.is_relative_to(tmp_path / "artifacts" / "journey")
    requests = json.loads(_file(result, "requests").read_text())
    assert {"method": "GET", "url": f"{zone}/sale", "status": "404"} in requests


CONSOLE_PAGE = """<!doctype html><html><head><title>noisy</title></head><body>
<h1>Noisy page</h1>
<img src="/status/500">
<script>
console.error("boom: the widget broke, cookie " + document.cookie);
fetch("http://127.0.0.1:%d/refused").catch(() => {});
</script></body></html>"""


async def test_a_failed_run_saves_console_errors_and_failed_requests_and_sends_the_identity(
    resources: Resources, tmp_path: Path
) -> None:
    closed = _closed_port()
    async with TargetServer() as target:
        target.respond("/noisy", 200, CONSOLE_PAGE % closed, {"Content-Type": "text/html"})
        base = target.url("/").rstrip("/")
        check = _check(
            base,
            """    steps:
      - goto: /noisy
      - wait_for: "#never-there"
        timeout: 500ms
""",
            tmp_path,
        )
        user = Identity(
            user="u7",
            headers=(("X-Livesite-Synthetic", "u7"),),
            cookies=(("session", "c00kie-s3cret-value"),),
            route="canary",
        )
        result = await _run(check, base, resources, user)
        page_request = next(r for r in target.received if r.path == "/noisy")
    assert result.status is Status.failed and result.failure is not None
    assert result.failure.step == "2 wait_for #never-there"
    assert result.failure.message.startswith("wait_for '#never-there': Timeout 500")
    # The identity goes with every request the page makes: marker header, route, cookies.
    assert page_request.headers["x-livesite-synthetic"] == "u7"
    assert page_request.headers["x-livesite-route"] == "canary"
    assert "session=c00kie-s3cret-value" in page_request.headers["cookie"]
    console = json.loads(_file(result, "console").read_text())
    boom = next(e for e in console if "boom" in e["text"])
    assert "c00kie-s3cret-value" not in boom["text"] and "****" in boom["text"]
    requests = json.loads(_file(result, "requests").read_text())
    assert any(r["url"].endswith("/status/500") and r["status"] == "500" for r in requests)
    refused = next(r for r in requests if r["url"] == f"http://127.0.0.1:{closed}/refused")
    assert "ERR_CONNECTION_REFUSED" in refused["failure"]
    assert "c00kie-s3cret-value" not in result.model_dump_json()


async def test_a_hung_page_ends_at_the_check_timeout(resources: Resources, tmp_path: Path) -> None:
    async with TargetServer() as target:
        check = _check(
            target.url("/").rstrip("/"),
            f"""    timeout: 8s
    step_timeout: 30s
    steps:
      - goto: {target.hang_url("/")}
""",
            tmp_path,
        )
        started = time.monotonic()
        result = await _run(check, target.url("/").rstrip("/"), resources)
        took = time.monotonic() - started
    assert result.status is Status.error and result.failure is not None
    assert (
        result.failure.kind is FailureKind.timeout and result.failure.step == f"1 goto {target.hang_url('/')}"
    )
    # Bounded by the check's timeout plus the context's close, never by the page.
    assert took < 8 + 3, took
    assert _file(result, "screenshot").read_bytes().startswith(PNG)


async def test_a_browser_that_cannot_start_is_an_error_naming_the_executable(
    resources: Resources, tmp_path: Path
) -> None:
    check = _check(
        "http://127.0.0.1:9", "    executable: /bin/false\n    steps:\n      - goto: /\n", tmp_path
    )
    result = await _run(check, "http://127.0.0.1:9", resources)
    assert result.status is Status.error and result.failure is not None
    assert result.failure.message.startswith("cannot start the browser /bin/false: ")
    assert "apt-get install chromium" in result.failure.message


async def test_the_pool_replaces_a_dead_browser_restarts_after_n_contexts_and_bounds_concurrency(
    tmp_path: Path,
) -> None:
    own = Resources(tmp_path)
    browsers = own.shared("browsers", lambda: Browsers(max_contexts=2, restart_after_contexts=3))
    try:
        async with TargetServer() as target:
            target.respond("/", 200, "<h1>hello</h1>", {"Content-Type": "text/html"})
            base = target.url("/").rstrip("/")
            body = "    steps:\n      - goto: /\n      - expect_text: hello\n"
            check = _check(base, body, tmp_path)
            first = await _run(check, base, own)
            assert first.status is Status.ok, first.reason()
            (pool,) = browsers.pools
            assert pool.stats.launches == 1
            # Chromium dies under us: the next run starts a new one and passes.
            kill_marked(pool._current.marker if pool._current else "")
            await asyncio.sleep(0)  # the driver notices on its own; a run must not depend on that
            second = await _run(check, base, own)
            assert second.status is Status.ok, second.reason()
            assert pool.stats.launches == 2
            # Four at once through two slots: never more than two contexts open, a restart after three.
            results = await asyncio.gather(*(_run(check, base, own) for _ in range(4)))
            assert all(r.status is Status.ok for r in results), [r.reason() for r in results]
            assert pool.stats.peak_open == 2
            assert pool.stats.launches >= 3
            markers = {g.marker for g in pool._all}
    finally:
        await own.aclose()
    left = [p for p in _browsers_left() if markers & set(p.cmdline())]
    assert not left, "aclose left a browser of this pool running"


async def test_a_script_step_that_fails_an_assertion_names_the_step_and_says_why(
    demo: DemoState, resources: Resources, tmp_path: Path
) -> None:
    zone = demo.zone_url("zone-a")
    check = _check(
        zone,
        """    url: /products/3
    steps:
      - click: text=Add to cart
      - name: the cart is still empty
        script: browser_scripts:cart_is_empty
""",
        tmp_path,
    )
    result = await _run(check, zone, resources)
    assert result.status is Status.failed and result.failure is not None
    assert result.failure.kind is FailureKind.assertion
    assert result.failure.message == ("the cart says 'Sign in to add to your cart'")
    assert [s.name for s in result.steps] == [
        "1 goto /products/3",
        "2 click text=Add to cart",
        "the cart is still empty",
    ]


FLOOD_PAGE = """<!doctype html><html><body><h1>flood</h1><script>
for (let i = 0; i < 1000; i++) console.error("flood " + i);
document.body.insertAdjacentText("beforeend", "x".repeat(200000));
</script></body></html>"""


async def test_a_page_that_floods_the_console_keeps_a_bounded_record(
    resources: Resources, tmp_path: Path
) -> None:
    async with TargetServer() as target:
        target.respond("/flood", 200, FLOOD_PAGE, {"Content-Type": "text/html"})
        base = target.url("/").rstrip("/")
        check = _check(
            base,
            "    steps:\n      - goto: /flood\n      - expect_text: never\n        timeout: 300ms\n",
            tmp_path,
        )
        result = await _run(check, base, resources)
    assert result.status is Status.failed and result.failure is not None
    assert len(result.failure.message) <= 400, "what the page shows is quoted, cut"
    console = json.loads(_file(result, "console").read_text())
    assert len(console) == 201 and console[-1]["text"].endswith("more events were not kept")


async def test_the_probe_service_closes_its_browsers_when_it_closes(demo: DemoState, tmp_path: Path) -> None:
    from livesite.probe import ProbeService

    before = {p.pid for p in _browsers_left()}
    config = loads(
        f"""zones:
  - name: zone-a
    base_url: {demo.zone_url("zone-a")}
checks:
  - name: about
    kind: browser
    timeout: 60s
    artifacts_dir: {tmp_path}
    url: /about
    steps:
      - expect_text: It exists to be tested
""",
        file="p.yaml",
    )
    probes = ProbeService(config)
    about = config.check("about")
    assert about is not None
    result = await probes.probe(about, "zone-a")
    assert result.status is Status.ok, result.reason()
    assert {p.pid for p in _browsers_left()} - before, "the service started a browser"
    await probes.aclose()
    assert not {p.pid for p in _browsers_left()} - before, "aclose left the service's browser running"


async def test_step_names_are_escaped_in_metric_labels() -> None:
    from datetime import UTC, datetime

    from livesite.checks.browser import samples
    from livesite.results import StepResult

    result = Result(
        check="j",
        kind="browser",
        zone="z",
        started_at=datetime.now(UTC),
        duration_seconds=1.0,
        status=Status.ok,
        steps=[StepResult(name='click "Buy"\\now\n', status=Status.ok, duration_seconds=0.5)],
    )
    assert list(samples(result)) == [
        ("livesite_browser_step_duration_seconds", 'step="click \\"Buy\\"\\\\now\\n"', 0.5),
        ("livesite_browser_steps", "", 1),
    ]


async def test_a_link_to_a_site_that_does_not_answer_fails_the_click_that_follows_it(
    resources: Resources, tmp_path: Path
) -> None:
    closed = _closed_port()
    async with TargetServer() as target:
        page = f'<!doctype html><a href="http://127.0.0.1:{closed}/checkout">pay</a>'
        target.respond("/", 200, page, {"Content-Type": "text/html"})
        base = target.url("/").rstrip("/")
        check = _check(base, "    steps:\n      - goto: /\n      - click: text=pay\n", tmp_path)
        result = await _run(check, base, resources)
    assert result.status is Status.error and result.failure is not None
    assert result.failure.kind is FailureKind.connect and result.failure.step == "2 click text=pay"
    assert result.failure.message == (
        f"the page http://127.0.0.1:{closed}/checkout did not load: net::ERR_CONNECTION_REFUSED"
    )


async def test_only_the_newest_failed_runs_of_a_check_keep_their_artifacts(
    resources: Resources, tmp_path: Path
) -> None:
    async with TargetServer() as target:
        target.respond("/", 200, "<h1>plain</h1>", {"Content-Type": "text/html"})
        base = target.url("/").rstrip("/")
        body = "    keep_artifacts: 2\n    steps:\n      - goto: /\n      - expect_text: fancy\n        timeout: 100ms\n"
        check = _check(base, body, tmp_path)
        folders = []
        for _ in range(3):
            result = await _run(check, base, resources)
            assert result.status is Status.failed
            folders.append(_file(result, "console").parent)
    kept = sorted((tmp_path / "artifacts" / "journey").iterdir())
    assert kept == folders[1:], "the oldest run's folder is removed"


async def test_a_browser_over_its_memory_bound_is_replaced_after_its_run(tmp_path: Path) -> None:
    own = Resources(tmp_path)
    browsers = own.shared("browsers", lambda: Browsers(max_rss_bytes=1))
    try:
        async with TargetServer() as target:
            target.respond("/", 200, "<h1>hello</h1>", {"Content-Type": "text/html"})
            base = target.url("/").rstrip("/")
            check = _check(base, "    steps:\n      - goto: /\n", tmp_path)
            for _ in range(2):
                result = await _run(check, base, own)
                assert result.status is Status.ok, result.reason()
                (pool,) = browsers.pools
                # The context closes after the run, then the memory is read: wait for it (bounded).
                for _ in range(200):
                    if pool.stats.open == 0 and pool._current is None:
                        break
                    await asyncio.sleep(0.05)
            assert pool.stats.rss_bytes > 1 and pool.stats.launches == 2
    finally:
        await own.aclose()


async def test_a_page_whose_script_never_yields_ends_at_the_check_timeout(
    resources: Resources, tmp_path: Path
) -> None:
    async with TargetServer() as target:
        target.respond(
            "/busy", 200, "<h1>busy</h1><script>while (true) {}</script>", {"Content-Type": "text/html"}
        )
        base = target.url("/").rstrip("/")
        check = _check(
            base, "    timeout: 8s\n    steps:\n      - goto: /busy\n      - expect_text: busy\n", tmp_path
        )
        started = time.monotonic()
        result = await _run(check, base, resources)
        took = time.monotonic() - started
    assert not result.passed and result.failure is not None
    assert took < 8 + 3, took
    # The same browser serves the next run: the stuck page went with its context.
    async with TargetServer() as target:
        target.respond("/", 200, "<h1>fine</h1>", {"Content-Type": "text/html"})
        base = target.url("/").rstrip("/")
        after = await _run(
            _check(base, "    steps:\n      - goto: /\n      - expect_text: fine\n", tmp_path),
            base,
            resources,
        )
    assert after.status is Status.ok, after.reason()


async def test_the_identity_stays_on_the_site_so_a_partner_api_sees_a_visitor_like_any_other(
    resources: Resources, tmp_path: Path
) -> None:
    # A header the page did not set would turn its cross-origin fetch into a CORS preflight that the
    # partner refuses: the fake user's page would break where a real visitor's works.
    async with TargetServer() as site, TargetServer() as partner:
        api = partner.url("/status/200?body=hi&h=Access-Control-Allow-Origin:*")
        page = f"""<h1>shop</h1><script>fetch("{api}").then(
          (r) => document.body.insertAdjacentText("beforeend", "partner said " + r.status),
          (e) => document.body.insertAdjacentText("beforeend", "partner failed " + e))</script>"""
        site.respond("/", 200, page, {"Content-Type": "text/html"})
        base = site.url("/").rstrip("/")
        check = _check(base, "    steps:\n      - goto: /\n      - expect_text: partner said 200\n", tmp_path)
        user = Identity(
            user="u9", headers=(("X-Livesite-Synthetic", "u9"),), cookies=(("sid", "s1d-v4lue-0001"),)
        )
        result = await _run(check, base, resources, user)
    assert result.status is Status.ok, result.reason()
    assert site.received[0].headers["x-livesite-synthetic"] == "u9"
    assert [r.method for r in partner.received] == ["GET"], "no preflight"
    assert "x-livesite-synthetic" not in partner.received[0].headers
    assert "s1d-v4lue-0001" not in partner.received[0].headers.get("cookie", "")
