"""The status page: one row per check, one column per zone, why it is not green. Server-rendered, no JS."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from livesite.monitor.service import CheckStatus
from livesite.results import Status
from livesite.states import CheckState
from livesite.store.rollouts import Decision, RolloutRecord

_ORDER = {CheckState.down: 0, CheckState.degraded: 1, CheckState.unknown: 2, CheckState.up: 3}


def _cell(status: CheckStatus | None) -> str:
    if status is None:
        return '<td class="none">–</td>'
    last = status.last
    detail = ""
    title = ""
    if last is not None:
        detail = f'<span class="ms">{last.duration_seconds * 1000:.0f} ms</span>'
        if last.revision:
            detail += f' <span class="rev">{escape(last.revision)}</span>'
        title = escape(last.reason() if last.status is not Status.ok else f"ok at {last.started_at:%H:%M:%S}")
    state = status.state.value
    return (
        f'<td class="cell {state}" data-check="{escape(status.check)}" data-zone="{escape(status.zone)}" '
        f'data-state="{state}" title="{title}"><b>{state}</b> {detail}</td>'
    )


def _rollouts(rollouts: Sequence[tuple[RolloutRecord, Sequence[Decision]]]) -> str:
    """Each rollout's phase and weight, and its last decisions with the Verdicts behind them."""
    if not rollouts:
        return ""
    rows = []
    for record, decisions in rollouts:
        lines = []
        for d in decisions:
            verdicts = "".join(
                f"<li>{escape(v.metric)}: <b>{escape(v.verdict.outcome)}</b> — {escape(v.verdict.reason)}</li>"
                for v in d.verdicts
            )
            reason = f": {escape(d.reason)}" if d.reason else ""
            lines.append(f"<li>{d.at:%H:%M:%S} {escape(d.action)}{reason}<ul>{verdicts}</ul></li>")
        rows.append(
            f'<tr data-rollout="{escape(record.name)}"><th scope="row">{escape(record.name)}</th>'
            f'<td class="phase">{escape(record.phase)}</td><td>{record.weight}%</td>'
            f'<td class="why">{escape(record.reason)}<ul>{"".join(lines)}</ul></td></tr>'
        )
    return (
        "<h2>rollouts</h2><table><thead><tr><th>rollout</th><th>phase</th><th>canary</th>"
        f"<th>decisions</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render_status(
    statuses: Sequence[CheckStatus],
    now: datetime,
    refresh_seconds: int = 5,
    *,
    rollouts: Sequence[tuple[RolloutRecord, Sequence[Decision]]] = (),
) -> str:
    zones = sorted({s.zone for s in statuses})
    by_check: dict[str, dict[str, CheckStatus]] = {}
    for s in statuses:
        by_check.setdefault(s.check, {})[s.zone] = s
    # Worst first: what needs a human is at the top.
    checks = sorted(by_check, key=lambda c: (min(_ORDER[s.state] for s in by_check[c].values()), c))
    counts = {state: sum(1 for s in statuses if s.state is state) for state in CheckState}
    rows = []
    for check in checks:
        cells = "".join(_cell(by_check[check].get(zone)) for zone in zones)
        reasons = [
            f"<li><b>{escape(zone)}</b>: {escape(s.last.reason())}</li>"
            for zone, s in sorted(by_check[check].items())
            if s.last is not None and s.last.status is not Status.ok
        ]
        why = f"<ul>{''.join(reasons)}</ul>" if reasons else ""
        rows.append(
            f'<tr data-check="{escape(check)}"><th scope="row">{escape(check)}</th>{cells}<td class="why">{why}</td></tr>'
        )
    summary = " · ".join(
        f'<span class="{state.value}" data-count="{state.value}">{counts[state]} {state.value}</span>'
        for state in (CheckState.down, CheckState.degraded, CheckState.up, CheckState.unknown)
    )
    head = "".join(f'<th scope="col">{escape(zone)}</th>' for zone in zones)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{refresh_seconds}">
<title>livesite · {counts[CheckState.down]} down</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse}} th,td{{padding:6px 12px;text-align:left;border-bottom:1px solid #eee;vertical-align:top}}
.up{{color:#1b5e20}} .degraded{{color:#e65100}} .down{{color:#b71c1c}} .unknown{{color:#757575}}
td.cell.up{{background:#e8f5e9}} td.cell.degraded{{background:#fff3e0}} td.cell.down{{background:#ffebee}}
.ms,.rev{{color:#555;font-size:12px}} .why ul{{margin:0;padding-left:1em;color:#555}} footer{{margin-top:1em;color:#777}}
</style></head><body>
<h1>livesite status</h1>
<p class="summary">{summary}</p>
<table><thead><tr><th>check</th>{head}<th>why</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
{_rollouts(rollouts)}
<footer>{len(checks)} checks in {len(zones)} zones · updated {now:%Y-%m-%d %H:%M:%S} UTC ·
<a href="/api/status">/api/status</a> · <a href="/metrics">/metrics</a> · <a href="/api/docs">API</a></footer>
</body></html>
"""
