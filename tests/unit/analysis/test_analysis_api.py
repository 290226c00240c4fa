"""The analysis package's public names are a promise: pinned here."""

from __future__ import annotations

import livesite.analysis
import livesite.analysis.sources


def test_the_analysis_api_is_exactly_what_we_promise() -> None:
    assert sorted(livesite.analysis.__all__) == [
        "AppliedThreshold",
        "ContinuousSides",
        "Count",
        "CountSides",
        "Direction",
        "Effect",
        "Kind",
        "Outcome",
        "RankSpec",
        "RateSpec",
        "SamplesUsed",
        "SequentialSpec",
        "Sides",
        "Threshold",
        "Verdict",
        "judge",
        "judge_continuous",
        "judge_counts",
        "judge_sequential",
        "judge_sides",
        "judge_threshold",
    ]
    assert sorted(livesite.analysis.sources.__all__) == [
        "BackendSample",
        "ContinuousSides",
        "CountSides",
        "LatencyBucket",
        "PromContinuous",
        "PromCounts",
        "PromSource",
        "RouterSource",
        "Sides",
        "Source",
        "SourceError",
        "SourceUnavailable",
        "StoreSource",
        "router_sides",
        "sides_from_samples",
    ]
    for module in (livesite.analysis, livesite.analysis.sources):
        for name in module.__all__:
            assert hasattr(module, name)


def test_importing_the_judges_does_no_io_and_needs_no_scipy() -> None:
    import ast
    from pathlib import Path

    root = Path(livesite.analysis.__file__).parent
    for path in root.glob("*.py"):  # the judges; sources/ is where I/O lives
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not names & {"httpx", "socket", "asyncio", "sqlite3", "scipy", "numpy", "os"}, path.name
        assert not any(n.startswith("livesite.store") for n in names), path.name
