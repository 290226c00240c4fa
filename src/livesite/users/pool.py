"""The fake-user pool: lease a free user of a cohort, run as them, give them back.

A user runs one journey at a time: a run takes a lease on the user in the store (so it holds across
processes and hosts), renews it while it runs, and releases it at the end; a crashed run's lease
expires after ``users.lease_seconds``. When every user of the cohort is busy, a run waits at most
``users.wait_seconds`` and then fails with "no free user in cohort X" — it never hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from livesite.checks import Credentials, Identity
from livesite.clock import Clock, SystemClock
from livesite.config.models import Config
from livesite.config.users import Cohort, UsersSettings
from livesite.errors import StoreError
from livesite.store import Store, open_store
from livesite.store.leases import Lease, Leases, open_leases
from livesite.users.accounts import Account, read_accounts

log = logging.getLogger(__name__)

KIND = "user"
_FIRST_POLL_SECONDS = 0.02
_MAX_POLL_SECONDS = 0.25


class NoFreeUser(Exception):
    """No user could be leased; the message is the reason a Result gives."""


@dataclass(frozen=True, slots=True)
class Leased:
    identity: Identity
    lease: Lease


def identity_for(
    settings: UsersSettings, cohort: Cohort, user: str, username: str, password: str, totp_secret: str
) -> Identity:
    """Who a fake user is on the wire: the marker header names them; credentials stay secret."""
    return Identity(
        user=user,
        cohort=cohort.name,
        headers=((settings.marker_header, user),),
        credentials=Credentials(
            username=username,
            password=password,
            totp_secret=totp_secret,
            attributes=cohort.attributes.pairs(),
        ),
    )


class UserPool:
    """Leases fake users of the config's cohorts. ``async with pool.running(cohort="free-eu") as who:``."""

    def __init__(
        self,
        config: Config,
        leases: Leases,
        *,
        clock: Clock | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config
        self.settings = config.users
        self.leases = leases
        self.clock = clock or SystemClock()
        self._store = store  # closed with the pool when the pool opened it
        self._holder = f"{socket.gethostname()}:{os.getpid()}"
        self._accounts: dict[str, Account] = {}
        self._accounts_seen: tuple[int, int] | None = None
        self._identities: dict[str, Identity] = {}
        self._turn = 0

    @classmethod
    async def open(cls, config: Config, *, clock: Clock | None = None) -> UserPool:
        """A pool on the store of ``config`` (``store.url``); :meth:`close` closes that store."""
        store = await open_store(config.store.url, base_dir=config.base_dir)
        try:
            return cls(config, await open_leases(store), clock=clock, store=store)
        except BaseException:
            await store.close()
            raise

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None

    @property
    def accounts_path(self) -> Path:
        path = self.settings.accounts_file
        return path if path.is_absolute() else self.config.base_dir / path

    def accounts(self) -> dict[str, Account]:
        """The provisioned accounts, read again only when the file changed."""
        path = self.accounts_path
        try:
            info = path.stat()
            seen: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            seen = None
        if seen != self._accounts_seen:
            self._accounts = read_accounts(path)
            self._accounts_seen = seen
            self._identities.clear()
        return self._accounts

    def identity(self, cohort: Cohort, user: str) -> Identity | None:
        """The identity of ``user`` of ``cohort``, or None when it is not provisioned."""
        accounts = self.accounts()
        found = self._identities.get(user)
        if found is not None:
            return found
        if cohort.users is not None:
            listed = next((u for u in cohort.users if u.id == user), None)
            if listed is None:
                return None
            found = identity_for(
                self.settings, cohort, user, listed.username, listed.password, listed.totp_secret
            )
        else:
            account = accounts.get(user)
            if account is None or account.cohort != cohort.name:
                return None
            found = identity_for(
                self.settings, cohort, user, account.username, account.password, account.totp_secret
            )
        self._identities[user] = found
        return found

    def ready(self, cohort: Cohort) -> list[str]:
        """Users of ``cohort`` that can run now (listed, or provisioned and in the accounts file)."""
        if cohort.users is not None:
            return [u.id for u in cohort.users]
        accounts = self.accounts()
        return [u for u in cohort.user_ids() if u in accounts and accounts[u].cohort == cohort.name]

    async def lease(self, *, cohort: str | None = None, user: str | None = None, check: str = "") -> Leased:
        """Lease a free user of ``cohort`` (or the given ``user``), waiting at most ``wait_seconds``.

        Raises:
            NoFreeUser: the cohort is unknown or empty, or every user stayed busy.
        """
        chosen = self._cohort(cohort, user)
        ready = [user] if user is not None else self.ready(chosen)
        if not ready or (user is not None and user not in self.ready(chosen)):
            what = f"user {user!r}" if user is not None else f"cohort {chosen.name!r}"
            raise NoFreeUser(
                f"{what} has no provisioned users (run: livesite users provision CONFIG)"
                if chosen.provisioned
                else f"{what} has no such user"
            )
        # Start at a different user each time, so work spreads over the cohort.
        self._turn = (self._turn + 1) % len(ready)
        candidates = ready[self._turn :] + ready[: self._turn]
        deadline = self.clock.monotonic() + self.settings.wait_seconds
        pause = _FIRST_POLL_SECONDS
        while True:
            lease = await self.leases.acquire(
                KIND,
                candidates,
                f"{self._holder}:{check}",
                ttl_seconds=self.settings.lease_seconds,
                now=self.clock.time(),
                payload={"check": check} if check else None,
            )
            if lease is not None:
                identity = self.identity(chosen, lease.resource)
                if identity is None:  # removed from the accounts file since ready() read it
                    await self.leases.release(lease)
                    raise NoFreeUser(f"user {lease.resource!r} was removed while being leased")
                return Leased(identity, lease)
            left = deadline - self.clock.monotonic()
            if left <= 0:
                what = (
                    f"user {user!r} is busy"
                    if user is not None
                    else f"no free user in cohort {chosen.name!r}"
                )
                raise NoFreeUser(
                    f"{what}: all {len(candidates)} held by other runs for {self.settings.wait_seconds:g}s "
                    "(hint: a larger cohort, or fewer checks in it at once)"
                )
            await self.clock.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL_SECONDS)

    async def release(self, leased: Leased) -> None:
        await self.leases.release(leased.lease)

    @contextlib.asynccontextmanager
    async def running(
        self, *, cohort: str | None = None, user: str | None = None, check: str = ""
    ) -> AsyncIterator[Identity]:
        """Lease a user for the block, renewing the lease while it lasts; released however it ends."""
        leased = await self.lease(cohort=cohort, user=user, check=check)
        renewer = asyncio.create_task(self._renew(leased))
        try:
            yield leased.identity
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            # Shielded: the user must be given back even when the run was cancelled. A store that
            # fails now only delays that: the lease expires at its deadline.
            try:
                await asyncio.shield(self.release(leased))
            except StoreError as e:
                log.warning(
                    "could not release user %s (free again by its deadline): %s", leased.lease.resource, e
                )

    async def _renew(self, leased: Leased) -> None:
        lease = leased.lease
        every = self.settings.lease_seconds / 3
        while True:
            await self.clock.sleep(every)
            try:
                renewed = await self.leases.renew(
                    lease, ttl_seconds=self.settings.lease_seconds, now=self.clock.time()
                )
            except StoreError as e:  # tried again next period; the run itself goes on
                log.warning("could not renew the lease on user %s: %s", lease.resource, e)
                continue
            if renewed is None:
                return  # lost (the store was away past the deadline); the run ends on its own
            lease = renewed

    def _cohort(self, cohort: str | None, user: str | None) -> Cohort:
        if user is not None:
            found = self.settings.cohort_of(user)
            if found is None:
                raise NoFreeUser(f"no user {user!r} in any cohort")
            return found
        found = self.settings.cohort(cohort or "")
        if found is None:
            raise NoFreeUser(f"no cohort {cohort!r} in users:")
        return found
