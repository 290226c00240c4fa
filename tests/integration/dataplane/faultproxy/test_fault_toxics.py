"""Each toxic as a client feels it, through a real proxy to real backends on 127.0.0.1.

Timing is asserted with lower bounds (a toxic must delay at least what was asked) and loose upper
bounds (it must not hang); the accuracy itself is measured in bench/fault_proxy.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest
from faultkit import Fault, connect, round_trip, start_backend, until

pytestmark = pytest.mark.integration


async def test_bytes_pass_unchanged_without_toxics(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    reader, writer = await connect(address)
    payload = os.urandom(2_000_000)  # more than the socket buffers: backpressure has to work
    await round_trip(reader, writer, payload)
    writer.close()


async def test_latency_delays_each_answer_by_at_least_what_was_asked(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    reader, writer = await connect(address)
    await round_trip(reader, writer, b"ping")
    await fault.toxic(type="latency", attributes={"latency": 150, "jitter": 20})
    for _ in range(3):
        assert 0.13 <= await round_trip(reader, writer, b"ping") < 2.0
    writer.close()


async def test_latency_on_both_streams_adds_up(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="latency", stream="upstream", attributes={"latency": 100})
    await fault.toxic(type="latency", stream="downstream", attributes={"latency": 100})
    reader, writer = await connect(address)
    assert 0.2 <= await round_trip(reader, writer, b"ping") < 2.0
    writer.close()


async def test_removing_a_latency_toxic_mid_flight_loses_no_byte(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="latency", attributes={"latency": 2000})
    reader, writer = await connect(address)
    writer.write(b"held")
    await until(lambda: _queued(fault) > 0)  # the echo is inside the latency toxic now
    answer = await fault.api.delete("/proxies/p/toxics/latency_downstream")
    assert answer.status_code == 204
    assert await asyncio.wait_for(reader.readexactly(4), 1.5) == b"held"
    assert await round_trip(reader, writer, b"fast") < 1.5  # the 2 s toxic is gone
    writer.close()


def _queued(fault: Fault) -> int:
    return sum(f.queued_bytes for c in fault.service.proxies["p"].connections for f in c.flows.values())


async def test_a_toxic_added_while_connected_applies_to_that_connection(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    reader, writer = await connect(address)
    await round_trip(reader, writer, b"a")
    await fault.toxic(type="latency", attributes={"latency": 200})
    assert await round_trip(reader, writer, b"b") >= 0.19
    writer.close()


async def test_changing_a_toxic_changes_it_on_open_connections(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="latency", attributes={"latency": 1000})
    reader, writer = await connect(address)
    assert await round_trip(reader, writer, b"slow") >= 0.99
    answer = await fault.api.patch(
        "/proxies/p/toxics/latency_downstream", json={"attributes": {"latency": 0}}
    )
    assert answer.status_code == 200
    assert await round_trip(reader, writer, b"fast") < 0.9
    writer.close()


async def test_toxicity_picks_about_that_share_of_connections(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="latency", toxicity=0.5, attributes={"latency": 400})
    clients = [await connect(address) for _ in range(40)]
    proxy = fault.service.proxies["p"]
    await until(lambda: sum(bool(c.flows) for c in proxy.connections) == 40)
    # Which connections the draw picked, by the client's port: the proxy's own record of it.
    picked = {
        c.client.transport.get_extra_info("peername")[1]
        for c in proxy.connections
        if c.client.transport is not None and c.flows["downstream"].stages[0].active
    }
    assert 8 <= len(picked) <= 32  # Binomial(40, 0.5): outside this, 1 run in ~10,000
    times = await asyncio.gather(*(round_trip(r, w, b"x") for r, w in clients))
    for (_, writer), seconds in zip(clients, times, strict=True):
        if writer.get_extra_info("sockname")[1] in picked:
            assert seconds >= 0.39  # a picked connection is delayed, as the client sees it
        writer.close()
    assert sum(t >= 0.39 for t in times) >= len(picked)


@pytest.mark.parametrize("toxicity", [0.0, 1.0])
async def test_toxicity_zero_spares_every_connection_and_one_hits_every_one(
    fault: Fault, echo, toxicity: float
) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="latency", toxicity=toxicity, attributes={"latency": 1000})
    for _ in range(2):
        reader, writer = await connect(address)
        seconds = await round_trip(reader, writer, b"x")
        assert seconds >= 0.99 if toxicity == 1.0 else seconds < 0.9
        writer.close()


async def test_bandwidth_holds_the_rate_down_to_roughly_what_was_asked(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="bandwidth", attributes={"rate": 200})  # 200 KB/s
    reader, writer = await connect(address)
    seconds = await round_trip(reader, writer, os.urandom(100_000))  # 0.5 s at 200 KB/s
    assert 0.4 <= seconds < 5.0
    writer.close()


async def test_slow_close_delays_the_close_not_the_data(fault: Fault) -> None:
    async def says_bye(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye")
        await writer.drain()
        writer.close()

    backend = await start_backend(says_bye)
    address = await fault.proxy(backend.address)
    await fault.toxic(type="slow_close", attributes={"delay": 300})
    reader, writer = await connect(address)
    loop = asyncio.get_running_loop()
    assert await asyncio.wait_for(reader.readexactly(3), 2) == b"bye"
    got_data = loop.time()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert loop.time() - got_data >= 0.28
    writer.close()
    backend.server.close()


async def test_timeout_swallows_data_then_closes_after_its_time(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="timeout", attributes={"timeout": 300})
    loop = asyncio.get_running_loop()
    start = loop.time()
    reader, writer = await connect(address)
    writer.write(b"lost")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, and nothing came back
    assert loop.time() - start >= 0.28
    writer.close()


async def test_timeout_zero_holds_the_connection_until_the_toxic_goes(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="timeout", attributes={"timeout": 0})
    reader, writer = await connect(address)
    writer.write(b"lost")
    with pytest.raises(TimeoutError):  # held: neither data nor a close within half a second
        await asyncio.wait_for(reader.read(1), 0.5)
    assert (await fault.api.delete("/proxies/p/toxics/timeout_downstream")).status_code == 204
    assert await asyncio.wait_for(reader.read(), 5) == b""  # as Toxiproxy: removal closes it
    writer.close()


async def test_reset_peer_resets_the_connection(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="reset_peer", stream="upstream", attributes={"timeout": 100})
    reader, writer = await connect(address)
    writer.write(b"boom")
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(), 5)
    writer.close()


async def test_limit_data_cuts_the_stream_at_that_many_bytes(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="limit_data", attributes={"bytes": 10})
    reader, writer = await connect(address)
    writer.write(b"0123456789abcdefghij")
    assert await asyncio.wait_for(reader.read(), 5) == b"0123456789"  # then EOF
    writer.close()


async def test_slicer_delivers_every_byte_in_pieces(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    await fault.toxic(type="slicer", attributes={"average_size": 10, "size_variation": 5, "delay": 2000})
    reader, writer = await connect(address)
    payload = os.urandom(1000)
    writer.write(payload)
    pieces = []
    while sum(map(len, pieces)) < len(payload):
        pieces.append(await asyncio.wait_for(reader.read(65536), 5))
    assert b"".join(pieces) == payload
    assert len(pieces) >= 10  # ~100 pieces 2 ms apart; a reader cannot catch them all at once
    writer.close()


async def test_a_disabled_proxy_refuses_and_drops_its_connections(fault: Fault, echo) -> None:
    address = await fault.proxy(echo.address)
    reader, writer = await connect(address)
    answer = await fault.api.post("/proxies/p", json={"enabled": False})
    assert answer.json()["enabled"] is False
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await connect(address)
    await fault.api.post("/proxies/p", json={"enabled": True})
    reader, writer = await connect(address)  # the same address again
    await round_trip(reader, writer, b"back")
    writer.close()


async def test_an_unreachable_upstream_closes_the_client_and_leaks_nothing(fault: Fault) -> None:
    backend = await start_backend()
    gone = backend.address
    backend.server.close()
    await backend.server.wait_closed()
    address = await fault.proxy(gone)
    reader, writer = await connect(address)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await until(lambda: not fault.service.proxies["p"].connections)


CLIENT = """
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
while True:
    s.sendall(b"x" * 65536)
"""


@pytest.mark.parametrize("toxic", [None, "latency"])
async def test_a_client_killed_mid_stream_leaves_no_connection_behind(
    fault: Fault, echo, toxic: str | None
) -> None:
    _, port = await fault.proxy(echo.address)
    if toxic:
        await fault.toxic(type=toxic, attributes={"latency": 50})
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, str(port), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert client.stdout is not None
        assert (await asyncio.wait_for(client.stdout.readline(), 30)).strip() == b"connected"
        proxy = fault.service.proxies["p"]
        await until(lambda: len(proxy.connections) == 1)
        client.send_signal(signal.SIGKILL)
        await until(lambda: not proxy.connections, 10)
    finally:
        if client.returncode is None:
            client.kill()
        await client.wait()
