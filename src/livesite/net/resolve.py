"""Host names → addresses, in a way no name (and no resolver) can use to hold up another check.

A prober runs checks on many names side by side, and a name whose DNS never answers must cost that
check, and only that check, its deadline. asyncio's ``getaddrinfo`` cannot promise it: it runs on a
small shared pool (the loop's default executor, or libuv's four threads under uvloop) that a handful
of dead names fill, so a check on ``localhost`` then waits in line; and a thread blocked in the C
library cannot be cancelled, so the process could not even exit on SIGTERM until glibc gave up.

What a user of a trusted prober expects, and what this module does:

- **The system's answer by default.** :class:`SystemResolver` asks ``getaddrinfo``, as curl and the
  browsers do, so ``/etc/hosts``, ``nsswitch.conf``, search domains and VPN resolvers apply. Its
  threads are its own (not the loop's pool), daemon threads (a blocked one never delays exit), at
  most ``max_threads`` of them, started on demand and gone after a minute idle.
- **One lookup per name at a time** (single flight): fifty checks on one dead name share one thread.
  A caller stops waiting after ``timeout_seconds`` (its check carries on to a ``dns`` failure), even
  though the thread may stay blocked until the C library gives up; the next caller joins that same
  lookup rather than starting another. At most ``max_pending`` names are looked up at once; beyond,
  a lookup fails at once instead of queueing without end.
- **No thread for what needs no lookup**: IP literals, ``localhost`` and ``*.localhost`` (127.0.0.1,
  RFC 6761 §6.3) and ``*.invalid`` (never exists, §6.4) are answered on the spot.
- **A small cache**: getaddrinfo gives no TTL, so its answers are kept a fixed ``cache_seconds``
  (10 s): a name checked every second costs one lookup per 10 s, and a DNS change is seen within
  10 s. Failures are not cached. :class:`NameServerResolver` asks given name servers directly
  (dnspython, no thread at all) and keeps each answer for its own TTL, at most ``max_cache_seconds``.
- **Zone overrides first**: a zone's ``resolve:`` map (like curl ``--resolve``) is consulted before
  any of this, by :func:`resolve`.

The resolver is pluggable: anything with ``async lookup(host) -> Sequence[str]`` (:class:`Resolver`).
It is a resource with a lifetime, not a module global: the checks' ``Resources`` owns one
:class:`SystemResolver` that every check of a process shares (so single flight and the cache work
across them) and closes it with the rest. :func:`resolve` is handed it; a caller without one gets a
resolver for that one lookup. A test points checks at another resolver through their resources
(``Resources(resolver=...)``), as the test kit does with a name server that never answers
(:class:`livesite.testing.dns.SilentNameServer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from livesite.net.errors import ProbeError
from livesite.results import FailureKind

Clock = Callable[[], float]
GetAddrInfo = Callable[[str], Sequence[str]]


class Resolver(Protocol):
    async def lookup(self, host: str) -> Sequence[str]:
        """The addresses of ``host``, the preferred first.

        Raises:
            ProbeError: (``dns``) the name has no address, or no answer came in time.
        """
        ...


@dataclass(frozen=True, slots=True)
class Answer:
    addresses: tuple[str, ...]
    ttl_seconds: float  # how long it may be reused


def is_ip(host: str) -> bool:
    """An IPv4 or IPv6 address literal (inet_pton: ten times faster than ``ipaddress``, on every probe)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def answer_without_lookup(name: str) -> tuple[str, ...] | None:
    """The addresses of a name that needs no lookup (an IP literal, localhost), or None.

    Raises:
        ProbeError: (``dns``) for names under ``.invalid``, which never exist.
    """
    literal = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    if is_ip(literal):
        return (literal,)
    if name == "localhost" or name.endswith(".localhost"):
        return ("127.0.0.1",)
    if name == "invalid" or name.endswith(".invalid"):
        raise ProbeError(FailureKind.dns, f"cannot resolve {name!r}: .invalid names never exist (RFC 6761)")
    return None


class _Resolution(ABC):
    """Literals, the cache, single flight, the bound on names in flight and the caller's timeout,
    around a ``_query`` that subclasses provide."""

    what = "the resolver"  # how failures name it

    def __init__(
        self,
        *,
        timeout_seconds: float,
        max_pending: int,
        cache_size: int,
        clock: Clock,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.max_pending = max_pending
        self.cache_size = cache_size
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()
        self._in_flight: dict[str, asyncio.Task[Answer]] = {}

    def _forget_in_flight(self) -> None:
        """Lookups nobody will wait for any more: cancelled, or closed unstarted when their loop is
        gone (a task that never ran would otherwise warn that its coroutine was never awaited)."""
        for task in list(self._in_flight.values()):
            if task.done():
                continue
            if task.get_loop().is_closed():
                task.get_coro().close()
            else:
                task.cancel()
        self._in_flight.clear()

    @property
    def in_flight(self) -> int:
        """Names being looked up now (a lookup nobody waits for any more counts until it ends)."""
        return len(self._in_flight)

    async def lookup(self, host: str) -> Sequence[str]:
        name = host.rstrip(".").lower()
        known = answer_without_lookup(name)
        if known is not None:
            return known
        cached = self._cache.get(name)
        if cached is not None:
            if cached[0] > self.clock():
                return cached[1]
            del self._cache[name]
        task = self._in_flight.get(name)
        if task is not None and task.get_loop() is not asyncio.get_running_loop():
            task = None  # a lookup of a loop that stopped (a test's): it will never land here
        if task is None:
            if len(self._in_flight) >= self.max_pending:
                raise ProbeError(
                    FailureKind.dns,
                    f"cannot resolve {host!r}: {self.max_pending} names are being looked up already "
                    f"({self.what} is slow or not answering)",
                )
            task = asyncio.get_running_loop().create_task(self._query(name))
            self._in_flight[name] = task
            task.add_done_callback(lambda done: self._landed(name, done))
        try:
            async with asyncio.timeout(self.timeout_seconds):
                # shield: a caller that gives up must not cancel the lookup others share
                answer = await asyncio.shield(task)
        except TimeoutError:
            raise ProbeError(FailureKind.dns, self._timeout_message(host, name)) from None
        return answer.addresses

    def _timeout_message(self, host: str, name: str) -> str:
        return f"no answer for {host!r} from {self.what} within {self.timeout_seconds:g}s"

    def _landed(self, name: str, task: asyncio.Task[Answer]) -> None:
        if self._in_flight.get(name) is task:
            del self._in_flight[name]
        if task.cancelled() or task.exception() is not None:
            return  # failures are not cached: the next check asks again
        answer = task.result()
        if answer.ttl_seconds > 0:
            self._cache[name] = (self.clock() + answer.ttl_seconds, answer.addresses)
            self._cache.move_to_end(name)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    @abstractmethod
    async def _query(self, name: str) -> Answer:
        """Look ``name`` up for real (the system's resolver, or given name servers)."""


def _getaddrinfo(host: str) -> Sequence[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _Job:
    __slots__ = ("future", "host", "loop", "started")

    def __init__(self, host: str, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Answer]) -> None:
        self.host = host
        self.loop = loop
        self.future = future
        self.started = False  # a thread took it (written by that thread, read by the loop)


def _settle(future: asyncio.Future[Answer], answer: Answer | None, error: ProbeError | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert answer is not None
        future.set_result(answer)


class _Threads:
    """Up to ``size`` daemon threads running blocking lookups, started when needed, ended when idle."""

    def __init__(self, size: int, run: GetAddrInfo, ttl_seconds: float, idle_seconds: float = 60.0) -> None:
        self.size = size
        self.run = run
        self.ttl_seconds = ttl_seconds
        self.idle_seconds = idle_seconds
        self._jobs: deque[_Job] = deque()
        self._ready = threading.Condition()
        self.threads = 0
        self.idle = 0  # threads waiting for a job
        self.closing = False  # no thread waits for more work: each ends once the jobs run out

    def submit(self, job: _Job) -> None:
        with self._ready:
            self._jobs.append(job)
            if self.idle >= len(self._jobs):
                self._ready.notify()  # a waiting thread takes it
            elif self.threads < self.size:
                self.threads += 1
                # daemon: a thread blocked in the C library must never hold up the process's exit
                threading.Thread(target=self._work, name="livesite-resolve", daemon=True).start()
            # else every thread is busy: the job waits for the first one free

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._jobs:
                    if self.closing:
                        self.threads -= 1
                        return
                    self.idle += 1
                    woken = self._ready.wait(self.idle_seconds)
                    self.idle -= 1
                    if not woken and not self._jobs:
                        self.threads -= 1
                        return
                job = self._jobs.popleft()
            self._do(job)

    def close(self) -> None:
        """Idle threads end now, busy ones after their jobs (a job may still start a thread)."""
        with self._ready:
            self.closing = True
            self._ready.notify_all()

    def _do(self, job: _Job) -> None:
        job.started = True
        if job.future.done():
            return  # everyone stopped waiting before it was our turn
        answer: Answer | None = None
        error: ProbeError | None = None
        try:
            addresses = tuple(dict.fromkeys(self.run(job.host)))
        except OSError as e:
            error = ProbeError(FailureKind.dns, f"cannot resolve {job.host!r}: {e.strerror or e}")
        else:
            if addresses:
                answer = Answer(addresses, self.ttl_seconds)
            else:
                error = ProbeError(FailureKind.dns, f"{job.host!r} has no address")
        # RuntimeError: the loop is closed (the process is stopping); nobody waits any more.
        with contextlib.suppress(RuntimeError):
            job.loop.call_soon_threadsafe(_settle, job.future, answer, error)


class SystemResolver(_Resolution):
    """The system resolver (``getaddrinfo``) on threads of its own, one lookup per name at a time.

    Args:
        timeout_seconds: how long a caller waits for an answer before a ``dns`` failure.
        max_threads: lookups running at once (each blocks a thread until the C library answers).
        max_pending: names looked up at once, waiting for a thread included.
        cache_seconds: how long an answer is reused (getaddrinfo gives no TTL); 0 to cache nothing.
        getaddrinfo: host → addresses, blocking (``socket.getaddrinfo`` by default).
    """

    what = "the system resolver"

    def __init__(
        self,
        *,
        timeout_seconds: float = 5.0,
        max_threads: int = 32,
        max_pending: int = 1024,
        cache_seconds: float = 10.0,
        cache_size: int = 4096,
        clock: Clock = time.monotonic,
        getaddrinfo: GetAddrInfo = _getaddrinfo,
    ) -> None:
        super().__init__(
            timeout_seconds=timeout_seconds, max_pending=max_pending, cache_size=cache_size, clock=clock
        )
        self.threads = _Threads(max_threads, getaddrinfo, cache_seconds)
        self._jobs: dict[str, _Job] = {}

    def close(self) -> None:
        """End the resolver's idle threads now rather than after a minute idle.

        A thread blocked in the C library ends when it returns (it is a daemon: it never holds up
        exit). The resolver still answers afterwards, each lookup on a thread that then ends.
        """
        self._forget_in_flight()
        self.threads.close()

    async def _query(self, name: str) -> Answer:
        loop = asyncio.get_running_loop()
        job = _Job(name, loop, loop.create_future())
        self._jobs[name] = job
        try:
            self.threads.submit(job)
            return await job.future
        finally:
            del self._jobs[name]

    def _timeout_message(self, host: str, name: str) -> str:
        job = self._jobs.get(name)
        if job is not None and not job.started:
            busy = self.threads.threads
            return (
                f"no answer for {host!r} within {self.timeout_seconds:g}s: the system resolver is busy "
                f"({busy} lookups are stuck on names that do not answer)"
            )
        return super()._timeout_message(host, name)


class NameServerResolver(_Resolution):
    """Ask the given name servers (host, port) directly over UDP, with no thread, honouring TTLs.

    ``/etc/hosts`` and the system's configuration are not read (literals and localhost still need no
    lookup). An A record is preferred; AAAA is asked only when there is no A record.
    """

    def __init__(
        self,
        nameservers: Sequence[tuple[str, int]],
        *,
        timeout_seconds: float = 5.0,
        max_pending: int = 1024,
        max_cache_seconds: float = 300.0,
        cache_size: int = 4096,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(
            timeout_seconds=timeout_seconds, max_pending=max_pending, cache_size=cache_size, clock=clock
        )
        if not nameservers:
            raise ValueError("at least one name server is needed")
        self.max_cache_seconds = max_cache_seconds
        self.what = "name server " + ", ".join(f"{h}:{p}" for h, p in nameservers)
        self._resolver = dns.asyncresolver.Resolver(configure=False)
        self._resolver.nameservers = [dns.nameserver.Do53Nameserver(h, p) for h, p in nameservers]

    async def _query(self, name: str) -> Answer:
        for record in ("A", "AAAA"):
            try:
                found = await self._resolver.resolve(name, record, lifetime=self.timeout_seconds)
            except dns.resolver.NoAnswer:
                continue
            except dns.resolver.NXDOMAIN:
                raise ProbeError(FailureKind.dns, f"cannot resolve {name!r}: no such name") from None
            except dns.exception.Timeout:
                raise ProbeError(FailureKind.dns, f"no answer for {name!r} from {self.what}") from None
            except dns.exception.DNSException as e:
                raise ProbeError(FailureKind.dns, f"cannot resolve {name!r}: {e}") from None
            addresses = tuple(dict.fromkeys(rdata.to_text() for rdata in found))
            ttl = min(float(found.rrset.ttl), self.max_cache_seconds) if found.rrset is not None else 0.0
            if addresses:
                return Answer(addresses, ttl)
        raise ProbeError(FailureKind.dns, f"{name!r} has no address")


async def resolve(
    host: str, overrides: Mapping[str, str] | None = None, resolver: Resolver | None = None
) -> str:
    """Host name → the one IP address to connect to: the zone's override first (as curl --resolve
    does), then ``resolver``.

    Pass a long-lived resolver (the checks' ``Resources.resolver``): its cache and single flight
    work across calls. Without one, a name that needs a lookup gets a :class:`SystemResolver` of its
    own, closed after that one lookup.

    Raises:
        ProbeError: (``dns``) no address, or no answer in time.
    """
    if overrides and host in overrides:
        return overrides[host]
    if is_ip(host):
        return host
    if resolver is not None:
        return (await resolver.lookup(host))[0]
    one_off = SystemResolver(max_threads=1, cache_seconds=0)
    try:
        return (await one_off.lookup(host))[0]
    finally:
        one_off.close()
