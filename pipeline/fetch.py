"""Graphite's render API to tidy pandas frames, one run at a time, over its steady window.

Missing seconds are counted and reported, never filled; a KPI absent from Graphite is an error
naming its series.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from contracts.errors import ErrorKind
from contracts.kpis import Kpi
from pipeline.errors import PipelineError
from pipeline.graphite import GraphiteClient, GraphiteUnavailable


class SeriesMissing(PipelineError):
    """A series the analysis needs is not in Graphite."""

    kind = ErrorKind.BAD_INPUT


@dataclass(frozen=True, slots=True)
class RunRef:
    run_id: str
    host: str
    prefix: str
    start: int  # steady window, epoch seconds [start, end)
    end: int
    cores: tuple[str, ...]  # the workload's cores: cpu_workload_core sums their series
    interface: str | None = None  # the workload's interface, for throughput


def series_paths(ref: RunRef, kpi: Kpi) -> tuple[str, ...]:
    """The series one KPI of one run reads: one per workload core for a per-core KPI (their sum
    is the KPI), else one; () when the run lacks what the path needs."""
    cores = ref.cores if "{core}" in kpi.metric else ref.cores[:1]
    paths = (kpi.series(ref.prefix, ref.run_id, ref.host, c, ref.interface) for c in cores)
    return tuple(p.format() for p in paths if p is not None)


def fetch_run(
    client: GraphiteClient, ref: RunRef, kpis: Sequence[Kpi], required: bool = True
) -> pd.DataFrame:
    """Columns: run_id, kpi, time, value (value in the KPI's unit; NaN where missing, or where
    one of a summed KPI's series is)."""
    targets = [series_paths(ref, k) for k in kpis]
    wanted = [t for paths in targets for t in paths]
    # Graphite's "from" is exclusive (whisper starts at the step after it), "until" inclusive:
    # from start - 1 is the window's first second, which a render from start leaves out
    rendered = client.render(wanted, ref.start - 1, ref.end - 1) if wanted else []
    found = {s.target: s for s in rendered}
    rows: list[tuple[str, str, int, float]] = []
    for kpi, paths in zip(kpis, targets, strict=True):
        series = [found.get(t) for t in paths]
        missing = [t for t, s in zip(paths, series, strict=True) if s is None or not s.values()]
        if not paths or missing:
            if required:
                where = ", ".join(missing) or (
                    f"{kpi.name} (the run's manifest lacks what its path needs)"
                )
                raise SeriesMissing(f"{where}: no data in Graphite for run {ref.run_id}")
            continue
        values = [dict(s.points) for s in series if s is not None]
        for t in range(ref.start, ref.end):
            at_t = [v.get(t) for v in values]
            total = None if any(v is None for v in at_t) else sum(v for v in at_t if v is not None)
            rows.append(
                (ref.run_id, kpi.name, t, float("nan") if total is None else total * kpi.scale)
            )
    return pd.DataFrame(rows, columns=["run_id", "kpi", "time", "value"])


def wait_readable(client: GraphiteClient, ref: RunRef, kpi: Kpi, timeout_s: float = 20) -> bool:
    """Wait until a run just finished has its ``kpi`` readable over its steady window (carbon
    takes a moment to cache what a collector sent last); False after ``timeout_s``."""
    want = ref.end - ref.start - 2
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            frame = fetch_run(client, ref, [kpi], required=False)
            if int(frame["value"].notna().sum()) >= want:
                return True
        except GraphiteUnavailable:
            pass
        time.sleep(0.5)
    return False
