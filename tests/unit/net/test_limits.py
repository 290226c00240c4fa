"""The head guard: every line of a response head counted and bounded before the parser sees it."""

from __future__ import annotations

import pytest

from livesite.net.errors import ProbeError
from livesite.net.limits import HeadGuard, Limits
from livesite.results import FailureKind

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n"


def crossed(guard: HeadGuard, *pieces: bytes) -> str:
    with pytest.raises(ProbeError) as caught:
        for piece in pieces:
            guard.scan(piece)
    assert caught.value.kind is FailureKind.protocol
    return caught.value.message


def test_a_whole_head_ends_just_after_its_blank_line() -> None:
    assert HeadGuard(Limits()).scan(HEAD + b"hi") == len(HEAD)


def test_a_head_that_arrives_a_byte_at_a_time_ends_at_the_same_byte() -> None:
    guard = HeadGuard(Limits())
    ends = [guard.scan(HEAD[i : i + 1]) for i in range(len(HEAD))]
    assert ends[:-1] == [-1] * (len(HEAD) - 1)
    assert ends[-1] == 1  # just past the last byte of the last piece


def test_a_blank_line_of_a_bare_line_feed_ends_the_head_too() -> None:
    head = b"HTTP/1.1 204 No Content\nServer: x\n\n"
    assert HeadGuard(Limits()).scan(head) == len(head)


def test_scanning_starts_where_asked() -> None:
    data = b"garbage" + HEAD
    assert HeadGuard(Limits()).scan(data, 7) == len(data)


def test_more_headers_than_allowed_fail_naming_the_count() -> None:
    flood = b"HTTP/1.1 200 OK\r\n" + b"X-Flood: f\r\n" * 11
    message = crossed(HeadGuard(Limits(max_header_count=10)), flood)
    assert message == "the response has more than 10 header lines"


def test_a_header_line_fails_as_soon_as_it_is_too_long_even_before_it_ends() -> None:
    guard = HeadGuard(Limits(max_line_bytes=1024))
    message = crossed(guard, b"HTTP/1.1 200 OK\r\nX-Flood: ", b"f" * 600, b"f" * 600)
    assert message == "a header line is longer than 1 KiB"


def test_a_status_line_without_end_fails_naming_its_bound() -> None:
    guard = HeadGuard(Limits(max_status_line_bytes=100))
    assert crossed(guard, b"HTTP/1.1 200 " + b"A" * 100) == "the status line is longer than 100 bytes"


def test_the_whole_head_is_bounded_even_when_each_line_is_fine() -> None:
    line = b"X-Flood: " + b"f" * 1000 + b"\r\n"
    guard = HeadGuard(Limits(max_header_bytes=8 * 1024))
    assert crossed(guard, b"HTTP/1.1 200 OK\r\n", *[line] * 9) == "the response head is larger than 8 KiB"


def test_interim_heads_end_one_by_one_and_share_one_budget() -> None:
    hint = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    guard = HeadGuard(Limits(max_header_count=5))
    data = hint * 2 + HEAD
    first = guard.scan(data)
    assert first == len(hint)
    assert guard.scan(data, first) == 2 * len(hint)
    # Two Link lines, the second head's status line: 3 lines so far; the final head adds 3 more.
    assert crossed(guard, data[2 * len(hint) :]) == "the response has more than 5 header lines"


def test_a_carriage_return_and_line_feed_split_across_reads_still_end_the_head() -> None:
    guard = HeadGuard(Limits())
    assert guard.scan(b"HTTP/1.1 200 OK\r\nA: b\r\n\r") == -1
    assert guard.scan(b"\nbody") == 1


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="max_header_count"):
        Limits(max_header_count=0)


def test_a_small_whole_head_with_too_many_headers_fails_like_any_other() -> None:
    head = b"HTTP/1.1 200 OK\r\n" + b"A: b\r\n" * 11 + b"\r\n"
    message = crossed(HeadGuard(Limits(max_header_count=10)), head)
    assert message == "the response has more than 10 header lines"
    assert HeadGuard(Limits(max_header_count=11)).scan(head) == len(head)
