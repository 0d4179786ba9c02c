"""``tare analyze``: the ledger and Graphite in, the overhead table out (and written back to
Graphite on the nightly paths, and to CSV). Wiring only: the statistics are in ``pipeline``."""

from __future__ import annotations

import calendar
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from collectors.names import label
from collectors.sender import CarbonSender
from harness.ledger import Ledger, RunRow
from pipeline.analysis import (
    Overhead,
    Refusal,
    RunInfo,
    as_rows,
    by_configuration,
    overheads,
    summaries,
)
from pipeline.fetch import RunRef, fetch_run
from pipeline.graphite import GraphiteClient
from pipeline.kpis import KPIS
from tare.errors import UsageError
from tare.stack.settings import StackSettings

TABLE_KPIS = (
    "cpu_cgroup",
    "cpu_workload_core",
    "mem_available",
    "mem_cgroup",
    "throughput",
    "conn_rate",
)


@dataclass
class Analysis:
    campaign: dict[str, Any]
    overheads: list[Overhead]
    refusals: list[Refusal]
    invalid: list[RunRow]
    summaries: pd.DataFrame
    configurations: pd.DataFrame
    absent: dict[str, list[str]]  # run_id -> KPIs with no series
    output_dir: Path | None = None
    written_points: int = 0


def _levels(mapping: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(mapping.items())


def pick_campaign(ledger: Ledger, campaign_id: str | None) -> dict[str, Any]:
    if campaign_id:
        found = ledger.campaign(campaign_id)
        if found is None:
            raise UsageError(f"no campaign {campaign_id!r} in the ledger")
        return found
    campaigns = [
        c for c in ledger.campaigns() if any(r.status == "done" for r in ledger.runs(c["id"]))
    ]
    if not campaigns:
        raise UsageError("the ledger holds no campaign with a finished run; run one first")
    return campaigns[-1]


def run_ref(row: RunRow, default_prefix: str) -> RunRef:
    m = row.manifest
    prefix = (m.get("graphite") or {}).get("prefix", default_prefix)
    host = label((m.get("host") or {}).get("host", "localhost"))
    core = str((m.get("lab") or {}).get("workload_cpus") or "0").split(",")[0].split("-")[-1]
    assert row.steady_start is not None and row.steady_end is not None
    return RunRef(
        row.run_id, host, prefix, math.ceil(row.steady_start), math.floor(row.steady_end), core
    )


def analyze(
    ledger: Ledger, campaign_id: str | None, stack: StackSettings, output_root: Path | None
) -> Analysis:
    campaign = pick_campaign(ledger, campaign_id)
    rows = ledger.runs(campaign["id"])
    done = [r for r in rows if r.status == "done" and r.steady_start is not None]
    invalid = [r for r in rows if r.status in ("invalid", "failed")]
    render_url = stack.render_url
    for r in done:
        render_url = (r.manifest.get("graphite") or {}).get("render_url", render_url)
    client = GraphiteClient(render_url, timeout_s=30)
    frames: list[pd.DataFrame] = []
    absent: dict[str, list[str]] = {}
    for row in done:
        frame = fetch_run(client, run_ref(row, "tare"), KPIS, required=False)
        got = set(frame["kpi"].unique()) if len(frame) else set()
        missing = [k.name for k in KPIS if k.name not in got]
        if missing:
            absent[row.run_id] = missing
        frames.append(frame)
    data = pd.concat(frames) if frames else pd.DataFrame(columns=["run_id", "kpi", "time", "value"])
    infos = [
        RunInfo(
            r.run_id,
            _levels(r.levels),
            tuple(_levels(c) for c in r.manifest.get("baseline_of", [])),
            r.status == "done",
        )
        for r in rows
        if r.status in ("done", "invalid", "failed")
    ]
    found, refusals = overheads(data, infos) if len(data) else ([], [])
    result = Analysis(
        campaign,
        found,
        refusals,
        invalid,
        summaries(data) if len(data) else pd.DataFrame(),
        by_configuration(data, infos),
        absent,
    )
    if output_root is not None:
        result.output_dir = write_tables(result, output_root)
    return result


def write_tables(a: Analysis, root: Path) -> Path:
    out = root / label(a.campaign["id"])
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(as_rows(a.overheads)).to_csv(out / "overhead.csv", index=False)
    a.summaries.to_csv(out / "summary.csv", index=False)
    a.configurations.to_csv(out / "configurations.csv", index=False)
    return out


def night_timestamp(night: str) -> int:
    return calendar.timegm(time.strptime(night, "%Y-%m-%d"))


def nightly_base(prefix: str, campaign: dict[str, Any], o: Overhead) -> str:
    cell = dict(o.cell)
    parts = [
        prefix,
        "nightly",
        label(campaign["platform"]),
        label(campaign["name"]),
        label(cell["mode"]),
        f"rate_{label(cell['rate'])}",
    ]
    parts += [f"{label(k)}_{label(v)}" for k, v in o.cell if k not in ("mode", "rate")]
    return ".".join([*parts, label(o.kpi)])


def write_back(a: Analysis, carbon: tuple[str, int], prefix: str, spool: Path) -> int:
    """Every overhead on its stable nightly path, timestamped at the campaign's night."""
    ts = night_timestamp(a.campaign["night"])
    points: list[tuple[str, float, int]] = []
    for o in a.overheads:
        base = nightly_base(prefix, a.campaign, o)
        values: dict[str, float | None] = {
            "baseline": o.baseline_mean,
            "contender": o.contender_mean,
            "overhead_pct": o.relative_pct,
            "pvalue": o.pvalue,
            "mde": o.mde,
        }
        if o.absolute is not None:
            values.update(
                {
                    "overhead": o.absolute.delta,
                    "ci_low": o.absolute.ci_low,
                    "ci_high": o.absolute.ci_high,
                }
            )
        elif o.relative_ci is not None:
            values.update({"ci_low_pct": o.relative_ci[0], "ci_high_pct": o.relative_ci[1]})
        points += [
            (f"{base}.{k}", float(v), ts)
            for k, v in values.items()
            if v is not None and math.isfinite(v)
        ]
    sender = CarbonSender(carbon[0], carbon[1], spool)
    try:
        sender.add(points)
    finally:
        sender.close()
    return len(points)


def fmt_cell(o: Overhead | None) -> str:
    if o is None:
        return "-"
    if o.absolute is not None:
        c = o.absolute
        text = f"{c.delta:+.2f} [{c.ci_low:+.2f},{c.ci_high:+.2f}]"
    elif o.relative_pct is not None and o.relative_ci is not None:
        text = f"{o.relative_pct:+.2f}% [{o.relative_ci[0]:+.2f},{o.relative_ci[1]:+.2f}]"
    else:
        return "-"
    return text + ("*" if o.significant else " ")


def table(a: Analysis) -> list[str]:
    cells: dict[tuple[tuple[str, Any], ...], dict[str, Overhead]] = {}
    for o in a.overheads:
        cells.setdefault(o.cell, {})[o.kpi] = o
    units = {k.name: k.unit.replace("pp of a core", "pp") for k in KPIS}
    head = ["cell".ljust(30)] + [f"{k} ({units[k]})".ljust(27) for k in TABLE_KPIS]
    head += ["mde cpu (pp)".ljust(24), "mde mem (MB)"]
    lines = [
        f"campaign {a.campaign['id']} ({a.campaign['night']}, {a.campaign['platform']}): "
        "overhead vs baseline, 95% CI, * significant (p<0.05); "
        "mde: the smallest overhead this cell could detect (80% power)",
        "  ".join(head),
    ]
    order = {m: i for i, m in enumerate(("baseline", "idle", "visibility", "enforced"))}

    def key(cell: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
        d = dict(cell)
        return (float(d.get("rate", 0)), order.get(str(d.get("mode")), 99), str(cell))

    for cell in sorted(cells, key=key):
        by = cells[cell]
        name = " ".join(f"{v}" if k == "mode" else f"{k}={v}" for k, v in cell)
        name = name.replace("policy_size=", "policy=")
        cols = [fmt_cell(by.get(k)).ljust(27) for k in TABLE_KPIS]
        cpu, mem = by.get("cpu_cgroup"), by.get("mem_cgroup")
        mde_cpu = f"{cpu.mde:.2f} ({cpu.method})" if cpu else "-"
        mde_mem = f"{mem.mde:.2f}" if mem else "-"
        lines.append("  ".join([name.ljust(30), *cols, mde_cpu.ljust(24), mde_mem]))
    if any(o.method == "block-bootstrap" for o in a.overheads):
        lines.append(
            "block-bootstrap: one run on a side, so the interval covers within-run "
            "noise only; between-run noise needs design.repeats >= 2 (Welch)"
        )
    for r in a.refusals:
        lines.append(f"refused {dict(r.cell)}: {r.reason}")
    for row in a.invalid:
        lines.append(f"not used: {row.run_id}: {row.status}: {row.reason}")
    for run_id, kpis in a.absent.items():
        lines.append(f"no series in Graphite for {run_id}: {', '.join(kpis)}")
    return lines


def to_json(a: Analysis) -> dict[str, Any]:
    return {
        "campaign": {k: a.campaign[k] for k in ("id", "name", "night", "platform")},
        "overheads": as_rows(a.overheads),
        "refused": [{"cell": dict(r.cell), "reason": r.reason} for r in a.refusals],
        "invalid_runs": [
            {"run_id": r.run_id, "status": r.status, "reason": r.reason} for r in a.invalid
        ],
        "absent_series": a.absent,
        "output_dir": str(a.output_dir) if a.output_dir else None,
        "written_points": a.written_points,
    }
