"""Packet drop to a loopback TCP port through nftables (root only; netem is not in every kernel).

Each fault is one rule in livesite's own table (``inet livesite_chaos``), tagged with a comment, so a
revert (or ``recover``) deletes exactly that rule and nothing else of the host's firewall.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Sequence

from pydantic import BaseModel

from livesite.chaos.faults.base import FaultError, FaultKind, Info, Target
from livesite.chaos.spec import NetworkFault

TABLE = "livesite_chaos"


async def _nft(*args: str) -> str:
    binary = shutil.which("nft")
    if binary is None:
        raise FaultError("network faults need nftables (`nft`): apt-get install nftables")
    if os.geteuid() != 0:
        raise FaultError("network faults need root (nftables)")
    process = await asyncio.create_subprocess_exec(
        binary, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise FaultError(f"nft {' '.join(args)} failed: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


async def resolve(spec: BaseModel) -> Sequence[Target]:
    assert isinstance(spec, NetworkFault)
    return [Target(resource=f"network:tcp:{spec.port}", description=f"drop packets to 127.0.0.1:{spec.port}")]


def prepare(spec: BaseModel, target: Target, token: str) -> Info:
    return {"tag": f"livesite-{token}"}


async def inject(spec: BaseModel, target: Target, ttl: float, info: Info) -> None:
    assert isinstance(spec, NetworkFault)
    tag = str(info["tag"])
    await _nft("add", "table", "inet", TABLE)
    await _nft("add", "chain", "inet", TABLE, "output", "{ type filter hook output priority 0 ; }")
    await _nft(
        "add", "rule", "inet", TABLE, "output", "ip", "daddr", "127.0.0.1", "tcp", "dport", str(spec.port),
        "drop", "comment", f'"{tag}"',
    )  # fmt: skip


async def revert(spec: BaseModel, target: Target, info: Info) -> None:
    tag = str(info.get("tag", ""))
    try:
        listing = await _nft("-a", "list", "chain", "inet", TABLE, "output")
    except FaultError as e:
        if "No such file" in str(e) or "does not exist" in str(e):
            return
        raise
    left = 0
    for line in listing.splitlines():
        if f'comment "{tag}"' in line and (m := re.search(r"# handle (\d+)", line)):
            await _nft("delete", "rule", "inet", TABLE, "output", "handle", m.group(1))
        elif 'comment "livesite-' in line:
            left += 1
    if not left:  # the last fault of livesite's table: leave the host's firewall as it was
        await _nft("delete", "table", "inet", TABLE)


KIND = FaultKind(resolve=resolve, inject=inject, revert=revert, prepare=prepare)
