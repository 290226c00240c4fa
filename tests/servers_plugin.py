"""Fixtures that start real servers on 127.0.0.1: ``target`` (in-process), ``nginx``, ``tls_nginx``, ``dnsmasq``,
``blackbox`` (the reference prober).

Load with ``pytest_plugins = ["servers_plugin"]`` (``tests`` on sys.path) or ``-p servers_plugin``.
The subprocess servers live for the whole session: they start in milliseconds but there is no need
to pay that per test. A missing binary skips the test with an install hint, or fails it when the
``CI`` environment variable is set, so a CI image without nginx cannot pass silently.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

import pytest

from livesite.testing.servers import BlackboxExporter, Dnsmasq, MissingBinary, Nginx, Pki, make_pki
from livesite.testing.target import TargetServer

T = TypeVar("T")


def _require(start: Callable[[], T]) -> T:
    try:
        return start()
    except MissingBinary as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e} — CI must have it installed", pytrace=False)
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for localhost/127.0.0.1/shop.test valid 30 days, and a client certificate."""
    return make_pki(tmp_path_factory.mktemp("pki"), days=30)


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    server = _require(lambda: Nginx(tmp_path_factory.mktemp("nginx")))
    with server:
        yield server


@pytest.fixture(scope="session")
def tls_nginx(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Nginx]:
    server = _require(lambda: Nginx(tmp_path_factory.mktemp("tls-nginx"), tls=pki))
    with server:
        yield server


@pytest.fixture(scope="session")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dnsmasq]:
    server = _require(
        lambda: Dnsmasq(
            tmp_path_factory.mktemp("dnsmasq"),
            records={"shop.test": "127.0.0.1", "api.shop.test": "127.0.0.2"},
        )
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def blackbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlackboxExporter]:
    """blackbox_exporter (Debian's prometheus-blackbox-exporter); modules are given per probe."""
    server = _require(lambda: BlackboxExporter(tmp_path_factory.mktemp("blackbox")))
    with server:
        yield server


@pytest.fixture
async def target() -> AsyncIterator[TargetServer]:
    """The in-process target server with controllable faults, in the test's own event loop."""
    async with TargetServer(version="2024.06.1") as server:
        yield server
