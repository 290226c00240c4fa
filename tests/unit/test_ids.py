"""Result ids are unique across processes (a forked child never repeats its parent) and sort by time."""

from __future__ import annotations

import os

from livesite.ids import id_time_ms, new_id
from livesite.results import Result


def test_ids_made_in_a_row_are_distinct_and_increasing() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == 32 for i in ids)


def test_a_forked_child_and_its_parent_never_make_the_same_ids() -> None:
    new_id()  # the parent's generator has state the child inherits
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids go to the parent through the pipe
        try:
            os.write(write, "\n".join(new_id() for _ in range(1000)).encode())
        finally:
            os._exit(0)
    os.close(write)
    parent = {new_id() for _ in range(1000)}
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split("\n"))
    os.waitpid(pid, 0)
    assert len(child) == 1000
    assert not parent & child


def test_a_result_gets_a_time_ordered_id() -> None:
    import time
    from datetime import UTC, datetime

    before = time.time_ns() // 1_000_000
    result = Result(
        check="c", kind="http", zone="z", started_at=datetime.now(tz=UTC), duration_seconds=0.1, status="ok"
    )
    assert before <= id_time_ms(result.id) <= time.time_ns() // 1_000_000
