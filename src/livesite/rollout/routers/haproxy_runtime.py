"""HAProxy's Runtime API over its stats socket: send one command, read the answer (asyncio, no socat).

In non-interactive mode HAProxy answers one command line and closes the connection, so the answer is
everything read until EOF. The parsers below are pure and read the formats of HAProxy 2.x.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from pathlib import Path

MAX_ANSWER_BYTES = 16 * 1024 * 1024  # `show stat` of a large config; anything bigger is not HAProxy


class RuntimeUnavailable(Exception):
    """The socket cannot be reached or did not answer in time."""


async def command(socket: Path, line: str, *, timeout_seconds: float = 5.0) -> str:
    """Send ``line`` and return HAProxy's whole answer. Raises RuntimeUnavailable."""
    if "\n" in line or "\r" in line:
        raise ValueError("one command line only")
    try:
        async with asyncio.timeout(timeout_seconds):
            reader, writer = await asyncio.open_unix_connection(str(socket), limit=MAX_ANSWER_BYTES)
            try:
                writer.write(line.encode() + b"\n")
                await writer.drain()
                data = await reader.read(MAX_ANSWER_BYTES)
                chunks = [data]
                while data:
                    data = await reader.read(MAX_ANSWER_BYTES)
                    chunks.append(data)
            finally:
                writer.close()
    except TimeoutError as exc:
        raise RuntimeUnavailable(f"no answer from {socket} within {timeout_seconds:g} s") from exc
    except OSError as exc:
        raise RuntimeUnavailable(f"cannot reach {socket}: {exc.strerror or exc}") from exc
    return b"".join(chunks).decode(errors="replace")


@dataclass(frozen=True, slots=True)
class ServerState:
    name: str
    weight: int  # the user weight (what `set server ... weight` set)
    draining: bool
    up: bool


# srv_admin_state bits (HAProxy's SRV_ADMF_*): forced maintenance, inherited maintenance, ..., drain
_ADMIN_DRAIN = 0x08 | 0x10 | 0x40  # FDRAIN, IDRAIN, HDRAIN
_OP_RUNNING = 2


def parse_servers_state(text: str, proxy: str) -> dict[str, ServerState]:
    """`show servers state PROXY` → server name → state. Raises ValueError on an unknown format."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = next((line for line in lines if line.startswith("# be_id")), None)
    if header is None:
        raise ValueError(f"not a servers state answer: {text.strip()[:200]!r}")
    columns = header[2:].split()
    out: dict[str, ServerState] = {}
    for line in lines:
        if line.startswith("#") or not line[0].isdigit():
            continue
        row = dict(zip(columns, line.split(), strict=False))
        if row.get("be_name") != proxy:
            continue
        admin = int(row["srv_admin_state"])
        out[row["srv_name"]] = ServerState(
            name=row["srv_name"],
            weight=int(row["srv_uweight"]),
            draining=bool(admin & _ADMIN_DRAIN),
            up=int(row["srv_op_state"]) == _OP_RUNNING,
        )
    return out


def parse_map(text: str) -> dict[str, str]:
    """`show map FILE` → key → value (lines are ``0xADDR key value``)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("0x"):
            out[parts[1]] = parts[2]
        elif line.strip():
            raise ValueError(f"not a map entry: {line[:200]!r}")
    return out


def parse_stat(text: str) -> list[dict[str, str]]:
    """`show stat` CSV → one dict per row (proxy/server), keyed by HAProxy's column names."""
    if not text.startswith("# "):
        raise ValueError(f"not a show stat answer: {text.strip()[:200]!r}")
    reader = csv.DictReader(io.StringIO(text[2:]))
    return [dict(row) for row in reader]
