"""Retries against real sockets on 127.0.0.1: network failures are retried, wrong answers are not."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from livesite.checks import RunContext
from livesite.config import loads
from livesite.probe import run_with_retries
from livesite.results import FailureKind, Status


@pytest.fixture
async def answers_500() -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/"


def spec_for(url: str) -> str:
    return f"""
checks:
  - name: c
    url: {url}
    assert: [status == 200]
    retries: {{attempts: 3, strategy: exponential, delay: 0s}}
"""


async def test_a_refused_connection_is_retried_and_every_attempt_is_recorded() -> None:
    config = loads(spec_for("http://127.0.0.1:1/"))
    check = config.checks[0]
    result = await run_with_retries(check, RunContext(zone=config.zone("local")), check.retries)  # type: ignore[arg-type]
    assert result.status is Status.error
    assert [a.number for a in result.attempts] == [1, 2, 3]
    assert all(a.failure is not None and a.failure.kind is FailureKind.connect for a in result.attempts)


async def test_a_wrong_answer_is_not_retried(answers_500: str) -> None:
    config = loads(spec_for(answers_500))
    check = config.checks[0]
    result = await run_with_retries(check, RunContext(zone=config.zone("local")), check.retries)  # type: ignore[arg-type]
    assert result.status is Status.failed
    assert len(result.attempts) == 1
    assert result.reason() == "assertion: expected status == 200, observed 500"


def test_retry_delays_follow_the_strategy() -> None:
    from livesite.config.models import RetrySpec

    assert [RetrySpec(attempts=4, strategy="fixed", delay=2).delay_before(n) for n in (2, 3, 4)] == [2, 2, 2]
    assert [RetrySpec(attempts=4, strategy="linear", delay=2).delay_before(n) for n in (2, 3, 4)] == [2, 4, 6]
    assert [RetrySpec(attempts=4, strategy="exponential", delay=2).delay_before(n) for n in (2, 3, 4)] == [
        2,
        4,
        8,
    ]
    assert RetrySpec(attempts=9, strategy="exponential", delay=2, max_delay=5).delay_before(9) == 5
