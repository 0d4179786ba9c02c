"""One campaign's analysis: its runs from the ledger's records and their series from Graphite,
the overhead of every contender cell against its baseline, and the CSV tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from contracts.errors import ErrorKind
from contracts.kpis import KPIS
from contracts.labels import label
from contracts.manifest import CampaignRecord, GraphiteTarget, RunRecord
from contracts.paths import DEFAULT_PREFIX
from contracts.states import RunState
from pipeline.adaptive import Short, short_of
from pipeline.analysis import (
    Levels,
    Overhead,
    Refusal,
    RunInfo,
    as_rows,
    by_configuration,
    derive,
    full_seconds,
    mark_unlike,
    measures,
    overheads,
    summaries,
)
from pipeline.errors import PipelineError
from pipeline.fetch import RunRef, fetch_run
from pipeline.graphite import GraphiteClient

DEFAULT_OUTPUT_DIR = "var/campaigns"


class NothingToAnalyze(PipelineError):
    kind = ErrorKind.USAGE


@dataclass
class Analysis:
    campaign: CampaignRecord
    overheads: list[Overhead]
    refusals: list[Refusal]
    invalid: list[RunRecord]
    summaries: pd.DataFrame
    configurations: pd.DataFrame
    absent: dict[str, list[str]]  # run_id -> KPIs with no series
    runs: list[RunRecord]
    output_dir: Path | None = None
    # per contender cell, the seconds a run's conntrack table was full, on average
    full_s: dict[Levels, float] = field(default_factory=dict)

    @property
    def done(self) -> list[RunRecord]:
        return usable(self.runs)

    def no_result(self) -> list[tuple[Levels, list[RunRecord]]]:
        """The cells with runs finished and none of them valid (their runs failed, were
        invalid or skipped): each with those runs, in the order they ran."""
        cells: dict[Levels, list[RunRecord]] = {}
        for r in sorted(self.runs, key=lambda r: r.seq):
            cells.setdefault(r.levels, []).append(r)
        return [
            (cell, rows) for cell, rows in cells.items() if all(r.status.not_valid for r in rows)
        ]

    @property
    def target_ci(self) -> dict[str, float]:
        """An adaptive night's targets (from its runs' manifests); empty for a fixed design."""
        for r in self.runs:
            if r.manifest is not None and r.manifest.campaign.target_ci:
                return dict(r.manifest.campaign.target_ci)
        return {}

    def too_noisy(self) -> list[Short]:
        """An adaptive night's judged overheads whose CI did not narrow to the target within
        the budget: reported ``too noisy tonight``, never silently accepted."""
        goal = self.target_ci
        return short_of(self.overheads, goal) if goal else []


def usable(rows: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs that are data points: done, with a steady window and a manifest."""
    return [
        r
        for r in rows
        if r.status is RunState.DONE and r.steady is not None and r.manifest is not None
    ]


def pick_campaign(
    campaigns: Sequence[tuple[CampaignRecord, Sequence[RunRecord]]], campaign_id: str | None
) -> tuple[CampaignRecord, list[RunRecord]]:
    """The campaign asked for, or the latest one with a finished run."""
    if campaign_id:
        for c, rows in campaigns:
            if c.campaign_id == campaign_id:
                return c, list(rows)
        raise NothingToAnalyze(f"no campaign {campaign_id!r} in the ledger")
    found = [(c, list(rows)) for c, rows in campaigns if usable(rows)]
    if not found:
        raise NothingToAnalyze("the ledger holds no campaign with a finished run; run one first")
    return found[-1]


def run_ref(row: RunRecord, whole: bool = False) -> RunRef:
    """Where a finished run's series are: its steady window (or, ``whole``, the whole run)."""
    m = row.manifest
    assert m is not None and row.steady is not None
    start, end = (row.started or 0.0, row.ended or 0.0) if whole else row.steady
    lab = m.lab
    return RunRef(
        row.run_id,
        label(m.campaign.host.host),
        m.campaign.graphite.prefix,
        math.ceil(start) if not whole else int(start),
        math.floor(end) if not whole else math.ceil(end),
        lab.workload_cores if lab else ("0",),
        lab.workload_interface if lab else None,
    )


def graphite_of(rows: Sequence[RunRecord]) -> GraphiteTarget | None:
    """Where the campaign's series went, from its first started run."""
    for r in rows:
        if r.manifest is not None:
            return r.manifest.campaign.graphite
    return None


def prefix_of(rows: Sequence[RunRecord]) -> str:
    g = graphite_of(rows)
    return g.prefix if g else DEFAULT_PREFIX


def output_dir(rows: Sequence[RunRecord]) -> Path:
    for r in rows:
        if r.manifest is not None:
            return Path(r.manifest.campaign.output_dir or DEFAULT_OUTPUT_DIR)
    return Path(DEFAULT_OUTPUT_DIR)


def analyze(
    campaign: CampaignRecord, rows: Sequence[RunRecord], client: GraphiteClient
) -> Analysis:
    rows = list(rows)
    done = usable(rows)
    invalid = [r for r in rows if r.status.not_valid]
    frames: list[pd.DataFrame] = []
    absent: dict[str, list[str]] = {}
    for row in done:
        frame = derive(fetch_run(client, run_ref(row), KPIS, required=False))
        got = set(frame["kpi"].unique()) if len(frame) else set()
        missing = [k.name for k in KPIS if k.name not in got and measures(k, row.levels)]
        if missing:
            absent[row.run_id] = missing
        frames.append(frame)
    data = pd.concat(frames) if frames else pd.DataFrame(columns=["run_id", "kpi", "time", "value"])
    infos = [
        RunInfo(
            r.run_id,
            r.levels,
            r.manifest.baseline_of if r.manifest else (),
            r.status is RunState.DONE,
            r.repeat,
            r.manifest.probe.values if r.manifest and r.manifest.probe else (),
        )
        for r in rows
        if r.status.finished
    ]
    paired = any(r.manifest.campaign.paired for r in done if r.manifest)
    covariate = any(r.manifest.campaign.covariate for r in done if r.manifest)
    found, refusals = (
        overheads(data, infos, paired=paired, covariate=covariate) if len(data) else ([], [])
    )
    shares = [r.manifest.campaign.max_error_pct for r in done if r.manifest]
    found = mark_unlike(found, next((s for s in shares if s is not None), None))
    return Analysis(
        campaign,
        found,
        refusals,
        invalid,
        summaries(data) if len(data) else pd.DataFrame(),
        by_configuration(data, infos),
        absent,
        rows,
        full_s=full_seconds(data, infos) if len(data) else {},
    )


def write_tables(a: Analysis, root: Path) -> Path:
    out = root / label(a.campaign.campaign_id)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(as_rows(a.overheads)).to_csv(out / "overhead.csv", index=False)
    a.summaries.to_csv(out / "summary.csv", index=False)
    a.configurations.to_csv(out / "configurations.csv", index=False)
    a.output_dir = out
    return out
