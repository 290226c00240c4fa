"""``livesite analyze``: judge exported samples (retrospective mode), or calibrate the judges.

Parse, call :mod:`livesite.analysis`, render. Exit codes: 0 pass, 1 fail, 5 inconclusive (too
little data to say: collect more and run again), 2 for a file or option that is wrong.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Annotated, cast

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from livesite.analysis import (
    Count,
    Direction,
    Kind,
    RankSpec,
    RateSpec,
    Threshold,
    Verdict,
    judge_continuous,
    judge_counts,
    judge_threshold,
)
from livesite.analysis.calibrate import FALSE_ALARM_BOUND, CalibrationRow, calibrate
from livesite.cli import render
from livesite.errors import UsageError

console = render.make_console()

EXIT_INCONCLUSIVE = 5
_STYLE = {"pass": "green", "fail": "red", "inconclusive": "yellow"}

Samples = list[float] | list[Count]


def analyze(
    baseline: Annotated[
        Path | None,
        typer.Option(help="The baseline's samples: one per line, 'events,trials' lines, or JSON."),
    ] = None,
    canary: Annotated[Path | None, typer.Option(help="The canary's samples, in the same format.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="continuous (numbers) or counts (events,trials); default: what the files hold."),
    ] = None,
    direction: Annotated[
        str, typer.Option(help="Which change is bad: increase, decrease or either.")
    ] = "increase",
    alpha: Annotated[float | None, typer.Option(help="Significance level (default 0.005).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the Verdict (or calibration) as JSON.")
    ] = False,
    calibrate_: Annotated[
        bool, typer.Option("--calibrate", help="Run A/A simulations and print the false-alarm rates.")
    ] = False,
    runs: Annotated[int, typer.Option(min=10, max=100_000, help="Simulations per row (--calibrate).")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the simulations (--calibrate).")] = 1,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            "-t",
            help="Also hold the canary to a limit: 'p99 < 300ms', 'error_rate < 1%' (repeatable).",
        ),
    ] = None,
) -> None:
    """Judge a canary's exported samples against the baseline's: exit 0 pass, 1 fail, 5 inconclusive."""
    direction_ = cast(Direction, _choice(direction, ("increase", "decrease", "either"), "--direction"))
    rank, rate = _specs(alpha)
    if calibrate_:
        rows = calibrate(random.Random(seed), runs, rank, rate, direction=direction_)
        _print_calibration(rows, as_json, runs, seed)
        return
    limits = [_threshold(text) for text in threshold or ()]
    if canary is None or (baseline is None and not limits):
        raise UsageError(
            "give --baseline FILE and --canary FILE (or --canary FILE with --threshold)",
            hint="or --calibrate to run A/A simulations",
        )
    c = read_samples(canary)
    b = read_samples(baseline) if baseline is not None else []
    found = _kind_of(b, c, baseline or canary, canary)
    wanted = cast(Kind, _choice(kind, ("continuous", "counts"), "--kind")) if kind else found
    if wanted != found and (b or c):
        raise UsageError(
            f"--kind {wanted} but the files hold {found} samples",
            hint="counts are 'events,trials' lines; continuous samples are one number per line",
        )
    for limit in limits:
        if limit.on_counts != (wanted == "counts"):
            needs = "'events,trials' counts" if limit.on_counts else "numbers (durations in seconds)"
            raise UsageError(f"--threshold {limit.text!r} needs {needs}, but {canary} holds {wanted} samples")
    verdicts: list[Verdict] = []
    try:
        if baseline is not None:
            if wanted == "counts":
                verdicts.append(judge_counts(_counts(b), _counts(c), direction_, rate))
            else:
                verdicts.append(judge_continuous(_numbers(b), _numbers(c), direction_, rank))
        verdicts += [
            judge_threshold(limit, _counts(c) if limit.on_counts else _numbers(c)) for limit in limits
        ]
    except ValueError as e:
        raise UsageError(str(e)) from None
    _print_verdicts(verdicts, as_json, as_list=bool(limits))
    outcomes = {v.outcome for v in verdicts}
    if "fail" in outcomes:
        raise typer.Exit(1)
    if "inconclusive" in outcomes:
        raise typer.Exit(EXIT_INCONCLUSIVE)


def _threshold(text: str) -> Threshold:
    try:
        return Threshold.parse(text)
    except ValueError as e:
        raise UsageError(f"--threshold: {e}") from None


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise UsageError(f"{option} {value!r} is not one of {', '.join(allowed)}")
    return value


def _counts(samples: Samples) -> list[Count]:
    return [s for s in samples if isinstance(s, tuple)]


def _numbers(samples: Samples) -> list[float]:
    return [s for s in samples if not isinstance(s, tuple)]


def _specs(alpha: float | None) -> tuple[RankSpec, RateSpec]:
    if alpha is None:
        return RankSpec(), RateSpec()
    try:
        return RankSpec(alpha=alpha), RateSpec(alpha=alpha)
    except ValidationError:
        raise UsageError(f"--alpha {alpha:g} must be above 0 and below 0.5") from None


def read_samples(path: Path) -> Samples:
    """Numbers or (events, trials) pairs from a file: one per line (``#`` comments and blank lines
    skipped), or a JSON list of numbers or of [events, trials] pairs."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else "it is not UTF-8 text"
        raise UsageError(f"cannot read samples from {path}: {why}") from None
    if text.lstrip().startswith("["):
        return _from_json(path, text)
    numbers: list[float] = []
    pairs: list[Count] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{number}"
        if "," in line:
            pairs.append(_pair(line.split(","), where))
        else:
            numbers.append(_number(line, where))
        if numbers and pairs:
            raise UsageError(
                f"{where}: mixes numbers and 'events,trials' pairs", hint="a file holds one kind of sample"
            )
    return pairs or numbers


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"{where}: {text!r} is not a finite number")
    return value


def _pair(parts: list[str], where: str) -> Count:
    if len(parts) != 2:
        raise UsageError(f"{where}: write 'events,trials', e.g. '3,1000'")
    try:
        events, trials = int(parts[0].strip()), int(parts[1].strip())
    except ValueError:
        raise UsageError(f"{where}: events and trials are whole numbers, e.g. '3,1000'") from None
    if events < 0 or trials < 0 or events > trials:
        raise UsageError(f"{where}: {events} events out of {trials} trials is impossible")
    return events, trials


def _from_json(path: Path, text: str) -> Samples:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    if not isinstance(data, list):
        raise UsageError(f"{path}: the JSON must be a list")
    numbers: list[float] = []
    pairs: list[Count] = []
    for i, item in enumerate(data, start=1):
        where = f"{path}: item {i}"
        if isinstance(item, list):
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in item):
                raise UsageError(f"{where}: [events, trials] are whole numbers")
            pairs.append(_pair([str(x) for x in item], where))
        elif isinstance(item, int | float) and not isinstance(item, bool):
            numbers.append(_number(repr(item), where))
        else:
            raise UsageError(f"{where}: {item!r} is neither a number nor [events, trials]")
        if numbers and pairs:
            raise UsageError(f"{where}: mixes numbers and [events, trials] pairs")
    return pairs or numbers


def _kind_of(b: Samples, c: Samples, b_path: Path, c_path: Path) -> Kind:
    kinds = {
        p: "counts" if s and isinstance(s[0], tuple) else "continuous"
        for p, s in ((b_path, b), (c_path, c))
        if s
    }
    if len(set(kinds.values())) > 1:
        raise UsageError(f"{b_path} holds {kinds[b_path]} samples but {c_path} holds {kinds[c_path]}")
    found = next(iter(kinds.values()), "continuous")
    return "counts" if found == "counts" else "continuous"


def _print_verdicts(verdicts: list[Verdict], as_json: bool, as_list: bool) -> None:
    """One Verdict object in JSON, or a list of them when thresholds were asked for."""
    if as_json:
        if as_list:
            print(json.dumps([json.loads(v.model_dump_json()) for v in verdicts], indent=2))
        else:
            print(verdicts[0].model_dump_json(indent=2))
        return
    for verdict in verdicts:
        lines = verdict.explain()
        head, _, rest = lines[0].partition(": ")
        console.print(Text.assemble((head, f"bold {_STYLE[verdict.outcome]}"), ": ", render.printable(rest)))
        for line in lines[1:]:
            console.print(Text("  " + render.printable(line)), soft_wrap=True)


def _print_calibration(rows: list[CalibrationRow], as_json: bool, runs: int, seed: int) -> None:
    if as_json:
        print(
            json.dumps(
                [{**row.model_dump(), "rate": row.rate, "bound": FALSE_ALARM_BOUND} for row in rows], indent=2
            )
        )
        return
    table = Table(title=f"A/A false-alarm rate ({runs} runs per row, seed {seed})")
    for column in ("scenario", "n per side", "false alarms", "rate", f"<= {FALSE_ALARM_BOUND:.0%}"):
        table.add_column(column)
    for row in rows:
        ok = row.rate <= FALSE_ALARM_BOUND
        table.add_row(
            row.scenario,
            str(row.n),
            f"{row.false_alarms}/{row.runs}",
            f"{row.rate:.2%}",
            Text("yes" if ok else "no", style="green" if ok else "red"),
        )
    console.print(table)
