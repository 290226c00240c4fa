"""Toxiproxy's JSON rules for toxics (defaults, order of checks) and our stricter attributes."""

from __future__ import annotations

import asyncio
import random
from typing import ClassVar

import pytest

from livesite.dataplane.faultproxy.errors import ApiError
from livesite.dataplane.faultproxy.link import Stage
from livesite.dataplane.faultproxy.stub import Chunk, Close, Item, Stub
from livesite.dataplane.faultproxy.toxics import TOXICS, Attributes, LimitData, Slicer, ToxicEntry
from livesite.dataplane.faultproxy.wire import changed_toxic, new_toxic, parse_json, toxic_json


def test_a_toxic_gets_toxiproxys_defaults() -> None:
    entry = new_toxic({"type": "latency"}, now=0.0, default_ttl_seconds=None)
    assert (entry.name, entry.stream, entry.toxicity, entry.ttl_seconds) == (
        "latency_downstream",
        "downstream",
        1.0,
        None,
    )
    assert toxic_json(entry, 0.0) == {
        "attributes": {"latency": 0, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
    }


def test_the_stream_is_checked_before_the_type_as_toxiproxy_does() -> None:
    with pytest.raises(ApiError, match="stream was invalid"):
        new_toxic({"type": "nope", "stream": "nope"}, 0.0, None)


def test_every_toxiproxy_toxic_type_is_known() -> None:
    assert set(TOXICS) == {
        "latency",
        "bandwidth",
        "slow_close",
        "timeout",
        "reset_peer",
        "slicer",
        "limit_data",
    }


def test_the_default_ttl_applies_and_an_explicit_one_wins() -> None:
    assert new_toxic({"type": "timeout"}, 100.0, 60.0).expires_at == 160.0
    assert new_toxic({"type": "timeout", "ttl": "2m"}, 100.0, 60.0).expires_at == 220.0
    assert new_toxic({"type": "timeout", "attributes": {"ttl": 5}}, 100.0, 60.0).expires_at == 105.0


def test_an_update_keeps_what_it_does_not_name() -> None:
    entry = new_toxic(
        {"type": "slicer", "attributes": {"average_size": 8, "delay": 10}, "ttl": 30}, 0.0, None
    )
    changed = changed_toxic(entry, {"attributes": {"delay": 20}}, now=10.0)
    assert changed.attributes == Slicer(average_size=8, delay=20)
    assert (changed.toxicity, changed.expires_at) == (1.0, 30.0)


@pytest.mark.parametrize("body", [b"", b"{", b"NaN", b"[" * 50_000, b"\xff"])
def test_unreadable_json_is_a_bad_request_body(body: bytes) -> None:
    with pytest.raises(ApiError, match="bad request body") as caught:
        parse_json(body)
    assert caught.value.status == 400


def _stub(items: list[Item]) -> tuple[Stub, list[Item]]:
    out: list[Item] = []
    stub = Stub(out.append, random.Random(1), lambda _: None)
    for item in items:
        stub.inbox.put_nowait(item)
    return stub, out


async def test_limit_data_forwards_exactly_its_bytes_then_closes() -> None:
    stub, out = _stub([Chunk(b"abcd", 0.0), Chunk(b"efgh", 0.0), Chunk(b"ijkl", 0.0)])
    await LimitData(bytes=6).pipe(stub)
    assert [i.data for i in out if isinstance(i, Chunk)] == [b"abcd", b"ef"]
    assert out[-1] == Close()


async def test_slicer_cuts_a_chunk_into_pieces_near_the_average_and_loses_nothing() -> None:
    data = bytes(range(256)) * 4
    stub, out = _stub([Chunk(data, 0.0), Close()])
    await asyncio.wait_for(Slicer(average_size=10, size_variation=3).pipe(stub), 5)
    pieces = [i.data for i in out if isinstance(i, Chunk)]
    assert b"".join(pieces) == data
    assert all(7 <= len(p) <= 13 for p in pieces[:-1])


def test_a_whole_number_toxicity_is_accepted_as_gos_clients_send_it() -> None:
    assert new_toxic({"type": "latency", "toxicity": 1}, 0.0, None).toxicity == 1.0
    assert new_toxic({"type": "latency", "toxicity": 0}, 0.0, None).toxicity == 0.0


class _Broken(Attributes):
    type_name: ClassVar[str] = "broken"

    async def pipe(self, stub: Stub) -> None:
        raise RuntimeError("a bug in a toxic")


async def test_a_toxic_that_fails_resets_its_connection_instead_of_hanging_it() -> None:
    stub, out = _stub([Chunk(b"x", 0.0)])
    entry = ToxicEntry(name="b", type="broken", stream="downstream", toxicity=1.0, attributes=_Broken())
    stage = Stage(entry, stub)
    stage.run()
    assert stage.task is not None
    await asyncio.wait([stage.task])
    await asyncio.sleep(0)  # done-callbacks run on the next loop iteration
    assert out == [Close(reset=True)]
