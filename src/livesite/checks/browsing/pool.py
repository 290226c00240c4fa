"""Chromium processes shared by every browser run: started lazily, a fresh context per run, bounded.

A browser costs about a second and a few hundred MB to start; a context (cookies, storage, pages of
one run) costs a tenth of that. So one Chromium per executable and set of launch flags serves every
run, each in a context of its own that dies with the run. The pool bounds what runs do at once (a
semaphore of ``max_contexts``), and retires a browser after ``restart_after_contexts`` contexts, when
its processes' resident memory passes ``max_rss_bytes``, or when it dies: the next run starts a new
one, and the old one is closed when its last context closes.

Playwright's objects belong to the event loop that started them; :meth:`Browsers.aclose` closes
everything on that loop. :meth:`Browsers.close` is the synchronous last resort: it kills the
processes it can find.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psutil

from livesite.errors import LivesiteError

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright

log = logging.getLogger(__name__)

DEFAULT_EXECUTABLE = "/usr/bin/chromium"
# Debian's Chromium, headless, as root in a container, with nothing that phones home while a check runs.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MAX_CONTEXTS = 4
RESTART_AFTER_CONTEXTS = 200
MAX_RSS_BYTES = 2 * 1024**3
LAUNCH_TIMEOUT_SECONDS = 30.0
CLOSE_TIMEOUT_SECONDS = 2.0
_RSS_EVERY_SECONDS = 5.0  # reading /proc of a dozen processes costs about a millisecond
_ids = itertools.count(1)


class BrowserStartError(LivesiteError):
    """The browser could not be started: the executable is missing, not executable, or crashed at start."""

    exit_code = 3

    def __init__(self, executable: str, reason: str) -> None:
        self.executable = executable
        self.reason = reason
        super().__init__(
            f"cannot start the browser {executable}: {reason} "
            "(hint: apt-get install chromium, or give the check an executable: path)"
        )


def find_executable(name: str) -> str | None:
    """The absolute path of an executable browser named ``name`` (a path, or a name on PATH), or None."""
    if os.sep in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return shutil.which(name)


@dataclass(slots=True)
class _Generation:
    """One running browser and the contexts it served."""

    browser: Browser
    marker: str  # a switch Chromium ignores, to find its processes again
    open: int = 0
    served: int = 0
    retired: bool = False
    dead: bool = False


@dataclass(slots=True)
class PoolStats:
    launches: int = 0
    contexts: int = 0
    open: int = 0  # contexts open now, over every browser of the pool
    peak_open: int = 0
    rss_bytes: int = 0  # of the current browser's processes, last measured (an upper bound: RSS is summed)


@dataclass(slots=True)
class BrowserPool:
    """Contexts of one browser executable with one set of launch flags."""

    playwright: Playwright
    executable: str
    args: tuple[str, ...]
    max_contexts: int = MAX_CONTEXTS
    restart_after_contexts: int = RESTART_AFTER_CONTEXTS
    max_rss_bytes: int = MAX_RSS_BYTES
    stats: PoolStats = field(default_factory=PoolStats)
    _slots: asyncio.Semaphore | None = None
    _launching: asyncio.Future[_Generation] | None = None
    _closing: set[asyncio.Future[None]] = field(default_factory=set)
    _current: _Generation | None = None
    _all: list[_Generation] = field(default_factory=list)
    _rss_at: float = 0.0

    @contextlib.asynccontextmanager
    async def context(self, **options: Any) -> AsyncIterator[BrowserContext]:
        """A fresh browser context for one run, closed (within a bound) however the run ends.

        Waits for a free slot first; the caller's deadline bounds the wait. The context is closed in
        the background once the run is done with it (the run's Result need not wait for that); its
        slot is free again when it is closed.

        Raises:
            BrowserStartError: no browser could be started.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_contexts)
        slots = self._slots
        await slots.acquire()
        try:
            for attempt in (1, 2):
                generation = await self._generation()
                generation.open += 1
                generation.served += 1
                try:
                    context = await generation.browser.new_context(**options)
                    break
                except Exception:
                    # A browser killed under us still looks connected until the driver notices:
                    # count it dead and start another, once.
                    generation.dead = True
                    if attempt == 2:
                        raise
                finally:
                    generation.open -= 1
                    if generation.dead and generation.open == 0:
                        await self._close_generation(generation)
            generation.open += 1
            self.stats.contexts += 1
            self.stats.open += 1
            self.stats.peak_open = max(self.stats.peak_open, self.stats.open)
        except BaseException:
            slots.release()
            raise
        try:
            yield context
        finally:
            closing = asyncio.ensure_future(self._close_context(context, generation, slots))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def _close_context(
        self, context: BrowserContext, generation: _Generation, slots: asyncio.Semaphore
    ) -> None:
        try:
            await asyncio.wait_for(context.close(), CLOSE_TIMEOUT_SECONDS)
        except Exception:  # a hung or dead browser: retire it rather than wait on it again
            generation.retired = True
        finally:
            generation.open -= 1
            self.stats.open -= 1
            slots.release()
            self._watch(generation)
            stale = generation.dead or generation.retired or generation is not self._current
            if stale and generation.open == 0:
                await self._close_generation(generation)

    def _watch(self, generation: _Generation) -> None:
        if generation.served >= self.restart_after_contexts:
            generation.retired = True
        now = time.monotonic()
        if generation is self._current and now - self._rss_at >= _RSS_EVERY_SECONDS:
            self._rss_at = now
            self.stats.rss_bytes = rss_bytes(generation.marker)
            if self.stats.rss_bytes > self.max_rss_bytes:
                log.info("browser %s uses %d bytes; restarting it", self.executable, self.stats.rss_bytes)
                generation.retired = True

    async def _generation(self) -> _Generation:
        current = self._current
        if current is not None and not (current.retired or current.dead):
            if current.browser.is_connected():
                return current
            current.dead = True
        if self._launching is None:
            self._launching = asyncio.ensure_future(self._launch())
            # Retrieved here so that a launch every waiter gave up on is not reported as lost.
            self._launching.add_done_callback(lambda t: t.cancelled() or t.exception())
        # Shielded: a run whose deadline passes while Chromium starts gives up waiting, but the launch
        # goes on and serves the next run, instead of leaving a half-started browser behind.
        return await asyncio.shield(self._launching)

    async def _launch(self) -> _Generation:
        try:
            old = self._current
            if old is not None and old.open == 0:
                await self._close_generation(old)
            return await self._start()
        finally:
            self._launching = None

    async def _start(self) -> _Generation:
        marker = f"--livesite-browser={os.getpid()}-{next(_ids)}"
        try:
            browser = await asyncio.wait_for(
                self.playwright.chromium.launch(
                    executable_path=self.executable,
                    args=[*self.args, marker],
                    handle_sigint=False,
                    handle_sigterm=False,
                    handle_sighup=False,
                ),
                LAUNCH_TIMEOUT_SECONDS,
            )
        except TimeoutError:
            kill_marked(marker)
            raise BrowserStartError(
                self.executable, f"it did not start within {LAUNCH_TIMEOUT_SECONDS:g}s"
            ) from None
        except Exception as e:
            kill_marked(marker)
            raise BrowserStartError(self.executable, _first_line(str(e))) from None
        generation = _Generation(browser=browser, marker=marker)
        browser.on("disconnected", lambda _: setattr(generation, "dead", True))
        self._all.append(generation)
        self._current = generation
        self.stats.launches += 1
        return generation

    async def _close_generation(self, generation: _Generation) -> None:
        if generation in self._all:
            self._all.remove(generation)
        if self._current is generation:
            self._current = None
        try:
            await asyncio.wait_for(asyncio.shield(generation.browser.close()), CLOSE_TIMEOUT_SECONDS)
        except Exception:
            pass
        finally:
            kill_marked(generation.marker)

    async def aclose(self) -> None:
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=CLOSE_TIMEOUT_SECONDS * 2)
        for generation in list(self._all):
            await self._close_generation(generation)

    def kill(self) -> None:
        for generation in self._all:
            kill_marked(generation.marker)
        self._all.clear()
        self._current = None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line.removeprefix("BrowserType.launch: ")[:300]


def _marked(marker: str) -> list[psutil.Process]:
    """The browser process started with ``marker``, and every process under it."""
    found: list[psutil.Process] = []
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if marker in process.cmdline():
                found.append(process)
                found.extend(process.children(recursive=True))
    return found


def rss_bytes(marker: str) -> int:
    total = 0
    for process in _marked(marker):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def kill_marked(marker: str) -> None:
    for process in _marked(marker):
        with contextlib.suppress(psutil.Error):
            process.kill()


class Browsers:
    """Every browser pool of one set of resources, and the one Playwright driver they share."""

    def __init__(
        self,
        *,
        max_contexts: int = MAX_CONTEXTS,
        restart_after_contexts: int = RESTART_AFTER_CONTEXTS,
        max_rss_bytes: int = MAX_RSS_BYTES,
    ) -> None:
        self.max_contexts = max_contexts
        self.restart_after_contexts = restart_after_contexts
        self.max_rss_bytes = max_rss_bytes
        self._playwright: Playwright | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pools: dict[tuple[str, tuple[str, ...]], BrowserPool] = {}
        self._lock: asyncio.Lock | None = None

    async def pool(self, executable: str, host_rules: Mapping[str, str] | None = None) -> BrowserPool:
        """The pool of ``executable`` (with a zone's ``resolve`` map as host rules), made on first use.

        Raises:
            BrowserStartError: the executable cannot be found or the driver cannot start.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Playwright's objects belong to one loop; a new loop (a new asyncio.run) starts afresh.
            self.close()
            self._loop, self._lock = loop, asyncio.Lock()
        assert self._lock is not None
        path = find_executable(executable)
        if path is None:
            raise BrowserStartError(executable, "no such executable file")
        args = (*CHROMIUM_ARGS, *_resolver_args(host_rules or {}))
        async with self._lock:
            if self._playwright is None:
                try:
                    from playwright.async_api import async_playwright
                except ImportError:
                    raise BrowserStartError(
                        path, "Playwright is not installed (pip install 'livesite[browser]')"
                    ) from None
                self._playwright = await async_playwright().start()
            key = (path, args)
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = BrowserPool(
                    self._playwright,
                    path,
                    args,
                    max_contexts=self.max_contexts,
                    restart_after_contexts=self.restart_after_contexts,
                    max_rss_bytes=self.max_rss_bytes,
                )
            return pool

    @property
    def pools(self) -> Sequence[BrowserPool]:
        return list(self._pools.values())

    async def aclose(self) -> None:
        """Close every browser and the driver (on the loop that started them)."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            self.close()
            return
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()
        if self._playwright is not None:
            playwright, self._playwright = self._playwright, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(playwright.stop(), CLOSE_TIMEOUT_SECONDS)

    def close(self) -> None:
        """The synchronous last resort: kill the browsers' processes (the driver exits with us)."""
        for pool in self._pools.values():
            pool.kill()
        self._pools.clear()
        self._playwright = None


def _resolver_args(host_rules: Mapping[str, str]) -> tuple[str, ...]:
    if not host_rules:
        return ()
    rules = ", ".join(f"MAP {host} {ip}" for host, ip in sorted(host_rules.items()))
    return (f"--host-resolver-rules={rules}",)
