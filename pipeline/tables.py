"""The analysis for people and machines: the overhead table, and its JSON (pure)."""

from __future__ import annotations

import math
from typing import Any

from contracts.kpis import BY_NAME, CPU_UNIT
from contracts.states import RunState
from pipeline.analysis import (
    Overhead,
    as_rows,
    cell_label,
    conntrack_words,
    covariate_effect,
    unlike_words,
)
from pipeline.campaign import Analysis
from pipeline.report import MODE_ORDER

# (column title, the KPIs it shows: the first a cell has); the CSV and JSON carry every KPI
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cpu_cgroup", ("cpu_cgroup",)),
    ("cpu_workload_core", ("cpu_workload_core",)),
    ("cpu_agent", ("cpu_agent",)),
    ("mem_cgroup", ("mem_cgroup",)),
    ("mem_conntrack", ("mem_conntrack",)),
    ("mem_available", ("mem_available",)),
    ("net_mb_per_s", ("net_mb_per_s",)),
    ("load rate", ("conn_rate", "req_rate", "bulk_rate")),
    ("latency_p99_ms", ("latency_p99_ms",)),
)
# shown only when some cell has them: per-packet cost (throughput profile), request errors
# (a campaign that lets a valid run have some)
OPTIONAL: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cpu_per_100kpps", ("cpu_per_100kpps",)),
    ("error_pct", ("error_pct",)),
    ("conntrack_fill_pct", ("conntrack_fill_pct",)),
    ("conntrack_drops_per_s", ("conntrack_drops_per_s",)),
)
# shown only where some run measured more than nothing
ZERO_HIDDEN = frozenset({"error_pct", "conntrack_fill_pct", "conntrack_drops_per_s"})
WIDTH = 25


def columns(items: list[Overhead]) -> list[tuple[str, tuple[str, ...]]]:
    have = {o.kpi for o in items if o.kpi not in ZERO_HIDDEN or o.contender_mean or o.baseline_mean}
    return [*COLUMNS, *(c for c in OPTIONAL if set(c[1]) & have)]


def fmt_cell(o: Overhead | None) -> str:
    """``+1.16 [+0.96,+1.37]*``: the overhead, its 95 % CI, * when significant after BH, ≠
    when not like-for-like (the contender failed requests); ``+1.16 (no inference)`` with
    fewer than 2 runs a side."""
    if o is None:
        return "-"
    if o.absolute is not None:
        c = o.absolute
        if not c.inferred:
            return f"{c.delta:+.2f} (no inference)"
        text = f"{c.delta:+.2f} [{c.ci_low:+.2f},{c.ci_high:+.2f}]"
    elif o.relative_pct is not None:
        if o.relative_ci is None:
            return f"{o.relative_pct:+.2f}% (no inference)"
        text = f"{o.relative_pct:+.2f}% [{o.relative_ci[0]:+.2f},{o.relative_ci[1]:+.2f}]"
    else:
        return "-"
    return text + ("*" if o.significant else " ") + ("" if o.like_for_like else "≠")


def cell_name(cell: tuple[tuple[str, Any], ...]) -> str:
    return cell_label(cell).replace("policy_size=", "policy=")


def no_result_words(a: Analysis) -> list[str]:
    """A cell with no valid run, in words: how its runs ended, and the last reason."""
    out = []
    for cell, rows in a.no_result():
        ended: dict[str, int] = {}
        for r in rows:
            ended[r.status.value] = ended.get(r.status.value, 0) + 1
        how = ", ".join(f"{n} {status}" for status, n in ended.items())
        out.append(f"{cell_name(cell)}: {how} ({rows[-1].status}: {rows[-1].reason})")
    return out


def table(a: Analysis) -> list[str]:
    cells: dict[tuple[tuple[str, Any], ...], dict[str, Overhead]] = {}
    for o in a.overheads:
        cells.setdefault(o.cell, {})[o.kpi] = o
    units = {k.name: k.unit.replace(CPU_UNIT, "pp") for k in BY_NAME.values()}
    context = {k.name for k in BY_NAME.values() if not k.judged}
    shown = columns(a.overheads)
    name_width = max([30, *(len(cell_name(c)) + 2 for c in cells)])
    head = ["cell".ljust(name_width)]
    for title, names in shown:
        unit = units[names[0]]
        head.append(f"{title} ({unit}{', context' if names[0] in context else ''})".ljust(WIDTH))
    head += ["mde cpu (pp)".ljust(14), "mde mem (MB)"]
    c = a.campaign
    tests = sum(1 for o in a.overheads if o.judged and o.inferred)
    lines = [
        f"campaign {c.campaign_id} ({c.night}, {c.platform}): overhead vs baseline with its "
        f"95% CI between runs; * q<0.05, Benjamini-Hochberg over the {tests} judged tests "
        "(q in the CSV); context KPIs are never starred; "
        "mde: the smallest overhead this cell could detect (80% power)",
        "  ".join(head),
    ]
    order = {m: i for i, m in enumerate(MODE_ORDER)}

    def key(cell: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
        d = dict(cell)
        return (float(d.get("rate", 0)), order.get(str(d.get("mode")), 99), str(cell))

    for cell in sorted(cells, key=key):
        by = cells[cell]
        cols = [
            fmt_cell(next((by[k] for k in names if k in by), None)).ljust(WIDTH)
            for _, names in shown
        ]
        cpu, mem = by.get("cpu_cgroup"), by.get("mem_cgroup")
        mde_cpu = f"{cpu.mde:.2f}" if cpu and math.isfinite(cpu.mde) else "-"
        mde_mem = f"{mem.mde:.2f}" if mem and math.isfinite(mem.mde) else "-"
        lines.append(
            "  ".join([cell_name(cell).ljust(name_width), *cols, mde_cpu.ljust(14), mde_mem])
        )
    methods = sorted({o.method for o in a.overheads})
    lines.append("method: " + ", ".join(methods) if methods else "method: -")
    lines += [f"covariate: {text}" for text in covariate_effect(a.overheads)]
    lines += [f"conntrack: {text}" for text in conntrack_words(a.overheads, a.full_s)]
    lines += [f"failed requests: {text}" for text in unlike_words(a.overheads)]
    lines += [f"no result: {text}" for text in no_result_words(a)]
    not_inferred = [o for o in a.overheads if not o.inferred]
    if any("no variation" not in o.method for o in not_inferred):
        lines.append(
            "no inference: fewer than 2 finished runs on a side, so no interval and no star "
            "(within-run noise is no evidence); raise design.repeats"
        )
    if any("no variation" in o.method for o in not_inferred):
        lines.append(
            "no variation between runs: every run of both sides gave the same mean (a KPI the "
            "agent does not touch in that mode, or one too coarse to move), so no interval"
        )
    reran = sum(len(r.manifest.disturbed_attempts) for r in a.runs if r.manifest)
    disturbed = sum(1 for r in a.runs if r.status is RunState.DISTURBED)
    if reran or disturbed:
        lines.append(
            f"disturbed: {reran} attempt(s) left out and run again, {disturbed} run(s) left "
            "out for good (load.max_disturbance_pct)"
        )
    noisy = a.too_noisy()
    if noisy:
        lines.append(
            f"too noisy tonight: {len(noisy)} judged overhead(s) whose CI did not reach its "
            "target (design.target_ci) within design.max_repeats rounds:"
        )
        lines += [f"  {s.describe()}" for s in noisy]
    elif a.target_ci:
        lines.append("adaptive: every judged overhead's CI is within its target (design.target_ci)")
    for r in a.refusals:
        lines.append(f"refused {dict(r.cell)}: {r.reason}")
    for row in a.invalid:
        lines.append(f"not used: {row.run_id}: {row.status}: {row.reason}")
    for run_id, kpis in a.absent.items():
        lines.append(f"no series in Graphite for {run_id}: {', '.join(kpis)}")
    return lines


def to_json(a: Analysis) -> dict[str, Any]:
    c = a.campaign
    return {
        "campaign": {"id": c.campaign_id, "name": c.name, "night": c.night, "platform": c.platform},
        "overheads": as_rows(a.overheads),
        "refused": [{"cell": dict(r.cell), "reason": r.reason} for r in a.refusals],
        "invalid_runs": [
            {"run_id": r.run_id, "status": r.status.value, "reason": r.reason} for r in a.invalid
        ],
        "absent_series": a.absent,
        "no_result": [
            {"cell": dict(cell), "runs": {r.run_id: r.status.value for r in rows}}
            for cell, rows in a.no_result()
        ],
        "disturbed_attempts": sum(len(r.manifest.disturbed_attempts) for r in a.runs if r.manifest),
        "target_ci": a.target_ci,
        "too_noisy": [s.to_json() for s in a.too_noisy()],
        "output_dir": str(a.output_dir) if a.output_dir else None,
    }
