"""What a failed browser run leaves for a human: a screenshot, its console errors, its failed requests.

Each failed run gets a folder ``<artifacts_dir>/<check>/<UTC time>-<nonce>/`` holding
``screenshot.png``, ``console.json`` and ``requests.json``; the Result names them as
:class:`~livesite.results.Artifact` (``file://`` URIs). Only the newest ``keep`` folders of a check
are kept, so a check failing every few seconds for a week does not fill the disk. Every text is
redacted first: a console message or a URL can carry a token.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from livesite.checks.redact import Redactor
from livesite.results import Artifact

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


def run_folder(root: Path, check: str, at: datetime, nonce: str) -> Path:
    """The folder of one failed run; names sort by time."""
    return root / _UNSAFE.sub("_", check) / f"{at.strftime('%Y%m%dT%H%M%S.%fZ')}-{nonce}"


def _write(
    folder: Path,
    screenshot: bytes | None,
    console: Sequence[dict[str, str]],
    requests: Sequence[dict[str, str]],
    keep: int,
) -> list[Artifact]:
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = []
    if screenshot is not None:
        path = folder / "screenshot.png"
        path.write_bytes(screenshot)
        artifacts.append(Artifact(name="screenshot", media_type="image/png", uri=path.resolve().as_uri()))
    for name, events in (("console", console), ("requests", requests)):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(list(events), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        artifacts.append(Artifact(name=name, media_type="application/json", uri=path.resolve().as_uri()))
    _prune(folder.parent, keep)
    return artifacts


def _prune(check_folder: Path, keep: int) -> None:
    runs = sorted(p for p in check_folder.iterdir() if p.is_dir() and not p.is_symlink())
    for old in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def redacted(events: Sequence[dict[str, str]], redactor: Redactor) -> list[dict[str, str]]:
    out = []
    for event in events:
        out.append(
            {
                key: redactor.url(value) if key == "url" else redactor.text(value, 2000)
                for key, value in event.items()
            }
        )
    return out


async def save(
    folder: Path,
    screenshot: bytes | None,
    console: Sequence[dict[str, str]],
    requests: Sequence[dict[str, str]],
    redactor: Redactor,
    keep: int,
) -> list[Artifact]:
    """Write a failed run's artifacts (off the event loop) and prune the check's older ones."""
    return await asyncio.to_thread(
        _write, folder, screenshot, redacted(console, redactor), redacted(requests, redactor), keep
    )
