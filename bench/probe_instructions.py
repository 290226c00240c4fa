"""Instructions per probe, counted by callgrind: a before/after tool that a noisy machine cannot fool.

CPU seconds on a shared 2-core machine moved by 30% between two runs of the same code (bench/RESULTS.md,
2026-11-29), which hides a 10% regression. ``valgrind --tool=callgrind`` counts instructions instead:
the same code, inputs and environment give the same count, whatever else the machine is doing.

One http check with three assertions (as in ``bench/probes.py``) runs N times in a row against a
local nginx, inside callgrind, for two values of N; the difference divided by the difference in N is
the cost of one probe, start-up excluded. ``--baseline-src DIR`` measures another tree's ``src`` (a
``git worktree`` of an older commit) in the same run and prints the ratio.

    python bench/probe_instructions.py --baseline-src /tmp/old/src
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # bench/ is not a package: the sys.path line above makes this importable

_PROBES = """
import asyncio, sys, tempfile
from livesite.checks import RunContext, run_check
from livesite.config import loads
import uvloop

YAML = '''
checks:
  - name: asserted
    url: {url}
    assert: [status == 200, json.ok == true, header.X-Version == {revision}]
'''

async def main(n: int, store_url: str) -> None:
    config = loads(YAML.format(url=sys.argv[1], revision=sys.argv[3]))
    [spec] = config.checks
    ctx = RunContext(zone=config.zone("local"), defaults=config.defaults)
    writer = None
    if store_url:
        from livesite.store import BatchWriter, open_store
        store = await open_store(store_url)
        writer = BatchWriter(store)
        writer.start()
    for _ in range(n):
        result = await run_check(spec, ctx)
        assert result.passed, result.reason()
        if writer is not None:
            writer.put(result)
    if writer is not None:
        await writer.close()
        await store.close()

uvloop.run(main(int(sys.argv[2]), sys.argv[4]))
"""


def _instructions(src: Path, url: str, probes: int, store: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="livesite-bench-insn-") as tmp:
        return _count(src, url, probes, f"sqlite:///{tmp}/results.db" if store else "")


def _count(src: Path, url: str, probes: int, store_url: str) -> int:
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            _PROBES,
            url,
            str(probes),
            h.REVISION,
            store_url,
        ],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"probe_instructions: the run under callgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_probe(src: Path, url: str, few: int, many: int, store: bool) -> float:
    return (_instructions(src, url, many, store) - _instructions(src, url, few, store)) / (many - few)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline-src", type=Path, help="another tree's src/ to measure alongside")
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--many", type=int, default=600)
    parser.add_argument(
        "--store", action="store_true", help="store every Result in SQLite, as bench/probes.py does"
    )
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("probe_instructions: valgrind is not installed (apt-get install valgrind)")
    here = Path(__file__).resolve().parents[1] / "src"
    print(
        f"load: one http check with 3 assertions, {args.few} and {args.many} probes in a row, nginx on 127.0.0.1"
    )
    with h.nginx(port_count=1) as web:
        url = web.url(0)
        ours = per_probe(here, url, args.few, args.many, args.store)
        print(f"  this tree   {ours:12,.0f} instructions per probe")
        if args.baseline_src is not None:
            base = per_probe(args.baseline_src.resolve(), url, args.few, args.many, args.store)
            print(f"  baseline    {base:12,.0f} instructions per probe ({args.baseline_src})")
            print(
                f"probe_instructions: this tree {ours:,.0f} vs baseline {base:,.0f} → ratio {ours / base:.3f}×"
            )
        else:
            print(f"probe_instructions: {ours:,.0f} instructions per probe")


if __name__ == "__main__":
    main()
