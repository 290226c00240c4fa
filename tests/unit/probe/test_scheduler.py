import asyncio
import itertools

from livesite.config import loads
from livesite.monitor.plan import MonitorJob as Job
from livesite.monitor.plan import plan
from livesite.probe import Scheduler, spread
from livesite.testing import FakeClock

CONFIG = """
defaults: {interval: 10s}
zones:
  - {name: a, base_url: "http://127.0.0.1:1"}
  - {name: b, base_url: "http://127.0.0.1:1"}
checks:
  - {name: fast, url: /}
  - {name: slow, url: /, interval: 30s, zones: [a]}
"""


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def run_for(clock: FakeClock, steps: int, step_seconds: float = 1) -> None:
    """Move fake time on by ``steps`` steps, letting the scheduler act after each."""
    for _ in range(steps):
        await settle()
        clock.advance(step_seconds)


async def test_jobs_fire_at_their_offset_then_every_interval() -> None:
    clock = FakeClock()
    runs = plan(loads(CONFIG))
    fired: list[tuple[str, str, float]] = []

    async def execute(job: Job) -> None:
        fired.append((job.check.name, job.zone, clock.monotonic()))

    scheduler = Scheduler(runs.jobs, execute, clock=clock, concurrency=10)
    task = asyncio.create_task(scheduler.run())
    await run_for(clock, 60)
    await settle()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    per_job: dict[tuple[str, str], list[float]] = {}
    for check, zone, at in fired:
        per_job.setdefault((check, zone), []).append(at)
    assert set(per_job) == {("fast", "a"), ("fast", "b"), ("slow", "a")}
    assert len(per_job[("fast", "a")]) == 6
    assert len(per_job[("slow", "a")]) == 2
    times = per_job[("fast", "a")]
    assert all(abs((b - a) - 10) < 1.01 for a, b in itertools.pairwise(times))


async def test_a_run_still_in_flight_skips_its_next_tick_instead_of_piling_up() -> None:
    clock = FakeClock()
    runs = plan(loads(CONFIG), checks=["fast"], zones=["a"], spread_start=False)
    release = asyncio.Event()
    started = 0

    async def execute(job: Job) -> None:
        nonlocal started
        started += 1
        await release.wait()

    scheduler = Scheduler(runs.jobs, execute, clock=clock, concurrency=10)
    task = asyncio.create_task(scheduler.run())
    await run_for(clock, 35)
    await settle()
    assert started == 1
    assert scheduler.skipped == 3
    release.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_cancelling_the_scheduler_cancels_runs_in_flight() -> None:
    clock = FakeClock()
    runs = plan(loads(CONFIG), spread_start=False)
    cancelled = 0

    async def execute(job: Job) -> None:
        nonlocal cancelled
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled += 1
            raise

    scheduler = Scheduler(runs.jobs, execute, clock=clock, concurrency=10)
    task = asyncio.create_task(scheduler.run())
    await settle()
    assert scheduler.in_flight == 3
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert cancelled == 3


async def test_concurrency_bounds_runs_and_waiting_shows_as_lag() -> None:
    clock = FakeClock()
    runs = plan(loads(CONFIG), spread_start=False)
    gate = asyncio.Event()
    active = 0
    peak = 0

    async def execute(job: Job) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1

    scheduler = Scheduler(runs.jobs, execute, clock=clock, concurrency=1)
    task = asyncio.create_task(scheduler.run())
    await settle()
    clock.advance(2)
    gate.set()
    await settle()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert peak == 1
    assert scheduler.lag.percentile(0.99) == 2


def test_offsets_spread_checks_over_the_interval_and_are_stable() -> None:
    offsets = {spread(f"check-{i}", "zone-a", 60) for i in range(1000)}
    assert len(offsets) > 990
    assert min(offsets) < 1 and max(offsets) > 59
    assert spread("home", "zone-a", 60) == spread("home", "zone-a", 60)


async def test_jitter_delays_each_run_by_a_seeded_random_amount_within_the_check_jitter() -> None:
    import random

    clock = FakeClock()
    config = loads(CONFIG.replace("- {name: fast, url: /}", "- {name: fast, url: /, jitter: 4s}"))
    runs = plan(config, checks=["fast"], zones=["a"], spread_start=False)
    assert runs.jobs[0].jitter_seconds == 4
    fired: list[float] = []

    async def execute(job: Job) -> None:
        fired.append(clock.monotonic())

    scheduler = Scheduler(runs.jobs, execute, clock=clock, concurrency=10, rng=random.Random(7))
    task = asyncio.create_task(scheduler.run())
    await run_for(clock, 400, 0.1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    ticks = [i * 10 for i in range(len(fired))]
    delays = [at - tick for at, tick in zip(fired, ticks, strict=True)]
    assert len(fired) == 4
    assert all(0 <= d <= 4.1 for d in delays)
    assert len({round(d, 1) for d in delays}) > 1  # not the same delay every time
    assert (
        scheduler.lag.percentile(0.99) is not None and scheduler.lag.percentile(0.99) < 0.2
    )  # jitter is not lag


async def test_jobs_added_and_removed_while_running_start_and_stop_on_fake_time() -> None:
    clock = FakeClock()
    runs = plan(loads(CONFIG), checks=["fast"], spread_start=False)
    job_a, job_b = runs.jobs
    fired: list[tuple[str, float]] = []

    async def execute(job: Job) -> None:
        fired.append((job.zone, clock.monotonic()))

    scheduler = Scheduler([job_a], execute, clock=clock, concurrency=10)
    task = asyncio.create_task(scheduler.run())
    await run_for(clock, 15)  # a fires at 0 and 10
    scheduler.add(job_b)  # fires now (offset 0 from when it was added), then every 10 s
    await run_for(clock, 10)
    scheduler.remove(job_a.key)
    await run_for(clock, 30)
    scheduler.stop()
    await asyncio.wait_for(task, timeout=1)
    a_times = [at for zone, at in fired if zone == "a"]
    b_times = [at for zone, at in fired if zone == "b"]
    assert a_times == [0, 10, 20]
    assert b_times[0] == 15 and len(b_times) == 4


async def test_run_until_stops_at_the_deadline_and_lets_runs_in_flight_finish() -> None:
    clock = FakeClock()
    runs = plan(loads(CONFIG), checks=["fast"], zones=["a"], spread_start=False)
    finished = 0

    async def execute(job: Job) -> None:
        nonlocal finished
        await clock.sleep(3)
        finished += 1

    scheduler = Scheduler(runs.jobs, execute, clock=clock, concurrency=10)
    task = asyncio.create_task(scheduler.run(until=25))
    await run_for(clock, 30)
    await asyncio.wait_for(task, timeout=1)
    assert finished == 3  # runs at 0, 10 and 20; the one at 20 finished at 23, after nothing was cut
