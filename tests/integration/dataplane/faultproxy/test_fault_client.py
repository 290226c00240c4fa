"""A real Toxiproxy client library (toxiproxy-python, unchanged) drives `livesite chaos proxy`.

No Toxiproxy server can be installed here (no Debian or PyPI package ships it, and there is no Go
toolchain), so the comparison with the real server is this: its own client, which raises on any
status it does not expect, does everything it can do against ours, and the proxy behaves.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_runner import start_livesite
from livesite.testing.servers import free_port

toxiproxy = pytest.importorskip("toxiproxy")
from toxiproxy.api import APIConsumer  # noqa: E402
from toxiproxy.exceptions import NotFound, ProxyExists  # noqa: E402

pytestmark = pytest.mark.integration


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo_address() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _wait_for_api(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the fault proxy's API never answered"
            time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path, echo_address: str) -> Iterator[toxiproxy.Toxiproxy]:
    port = free_port()
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps([{"name": "from_config", "listen": "127.0.0.1:0", "upstream": echo_address}])
    )
    with start_livesite(
        "chaos", "proxy", "--api", f"127.0.0.1:{port}", "--config", str(config), "--seed", "1"
    ) as process:
        try:
            _wait_for_api(port)
            client = toxiproxy.Toxiproxy()
            client.update_api_consumer("127.0.0.1", port)
            yield client
        finally:
            process.terminate()
            assert process.wait(10) == 0  # SIGTERM is a clean stop
            APIConsumer.host, APIConsumer.port = "127.0.0.1", 8474


def _rtt(listen: str, data: bytes = b"ping") -> float:
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        start = time.perf_counter()
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            chunk = s.recv(65536)
            assert chunk, "closed early"
            got += chunk
        return time.perf_counter() - start


def test_the_toxiproxy_python_client_drives_our_fault_proxy(
    server: toxiproxy.Toxiproxy, echo_address: str
) -> None:
    assert server.running() and b"version" in server.version()
    assert set(server.proxies()) == {"from_config"}
    proxy = server.create(upstream=echo_address, name="shop")
    assert proxy.enabled is True and proxy.upstream == echo_address
    with pytest.raises(ProxyExists):
        server.create(upstream=echo_address, name="shop")
    assert _rtt(proxy.listen) < 0.9

    proxy.add_toxic(type="latency", attributes={"latency": 1000, "jitter": 0})
    proxy.add_toxic(type="bandwidth", stream="upstream", name="thin", attributes={"rate": 1000})
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "thin"}
    assert toxics["latency_downstream"].attributes == {"latency": 1000, "jitter": 0}
    assert toxics["thin"].stream == "upstream" and toxics["thin"].toxicity == 1
    assert _rtt(proxy.listen) >= 0.99

    assert proxy.destroy_toxic("latency_downstream")
    assert proxy.get_toxic("latency_downstream") is None
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_downstream")
    assert _rtt(proxy.listen) < 0.9

    with proxy.down():
        assert server.get_proxy("shop").enabled is False
        with pytest.raises(ConnectionRefusedError):
            _rtt(proxy.listen)
    assert _rtt(proxy.listen) < 0.9

    assert server.reset()
    assert server.get_proxy("shop").toxics() == {}
    populated = server.populate([{"name": "extra", "upstream": echo_address, "listen": "127.0.0.1:0"}])
    assert [p.name for p in populated] == ["extra"]
    server.destroy_all()
    assert server.proxies() == {}


def test_a_ttl_set_through_the_client_expires_even_when_the_client_is_gone(
    server: toxiproxy.Toxiproxy, echo_address: str
) -> None:
    proxy = server.create(upstream=echo_address, name="partner")
    proxy.add_toxic(type="timeout", attributes={"timeout": 0, "ttl": 0.5})  # the owner then "dies"
    deadline = time.monotonic() + 10
    while proxy.get_toxic("timeout_downstream") is not None:
        assert time.monotonic() < deadline, "the toxic outlived its TTL"
        time.sleep(0.05)
    assert _rtt(proxy.listen) < 0.9


EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "fault-proxy"


def test_the_example_config_and_script_make_the_partner_slow_for_a_while() -> None:
    port = free_port()
    with start_livesite(
        "chaos", "proxy", "--api", f"127.0.0.1:{port}", "--config", str(EXAMPLE / "proxies.json")
    ) as process:
        try:
            _wait_for_api(port)
            run = subprocess.run(
                [sys.executable, str(EXAMPLE / "slow_partner.py")],
                env={**os.environ, "FAULT_PROXY_API": f"127.0.0.1:{port}"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
            client = toxiproxy.Toxiproxy()
            client.update_api_consumer("127.0.0.1", port)
            proxies = client.proxies()
            assert proxies["redis"].enabled is False
            toxic = proxies["partner"].get_toxic("slow_partner")
            assert toxic is not None and toxic.attributes == {"latency": 300, "jitter": 50}
        finally:
            process.terminate()
            process.wait(10)
            APIConsumer.host, APIConsumer.port = "127.0.0.1", 8474
