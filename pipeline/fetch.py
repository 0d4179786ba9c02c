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
    core: str  # the workload core, for cpu_workload_core
    interface: str | None = None  # the workload's interface, for throughput


def series_path(ref: RunRef, kpi: Kpi) -> str | None:
    series = kpi.series(ref.prefix, ref.run_id, ref.host, ref.core, ref.interface)
    return series.format() if series is not None else None


def fetch_run(
    client: GraphiteClient, ref: RunRef, kpis: Sequence[Kpi], required: bool = True
) -> pd.DataFrame:
    """Columns: run_id, kpi, time, value (value in the KPI's unit; NaN where missing)."""
    targets = [series_path(ref, k) for k in kpis]
    wanted = [t for t in targets if t is not None]
    found = {s.target: s for s in client.render(wanted, ref.start, ref.end - 1)} if wanted else {}
    rows: list[tuple[str, str, int, float]] = []
    for kpi, target in zip(kpis, targets, strict=True):
        series = found.get(target) if target is not None else None
        if series is None or not series.values():
            if required:
                where = target or f"{kpi.name} (the run's manifest lacks what its path needs)"
                raise SeriesMissing(f"{where}: no data in Graphite for run {ref.run_id}")
            continue
        values = dict(series.points)
        for t in range(ref.start, ref.end):
            v = values.get(t)
            rows.append((ref.run_id, kpi.name, t, float("nan") if v is None else v * kpi.scale))
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
