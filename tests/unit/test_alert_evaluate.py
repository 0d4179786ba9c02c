"""From nightly frames to alerts: regressions grouped per cell and night, baseline shifts as
environment changes, thresholds, history left alone."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from alerting.evaluate import Settings, ThresholdRule, evaluate, gating
from alerting.messages import Context, build
from contracts.frames import NIGHTLY_COLUMNS as COLUMNS
from contracts.paths import NightlySeries
from pipeline.nightly import to_frame

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
START = dt.date(2026, 9, 1)


def nights(n: int) -> list[str]:
    return [(START + dt.timedelta(days=i)).isoformat() for i in range(n)]


def series_rows(
    cell: str, kpi: str, stat: str, values: list[float | None], campaign: str = "quickstart"
) -> list[tuple[object, ...]]:
    mode, rate, *factors = cell.split(".")
    name = f"linux.{campaign}.{cell}.{kpi}"
    return [
        (
            name,
            "linux",
            campaign,
            mode,
            rate.removeprefix("rate_"),
            ".".join(factors),
            kpi,
            stat,
            n,
            v,
        )
        for n, v in zip(nights(len(values)), values, strict=True)
        if v is not None
    ]


def noisy(seed: int, n: int, level: float, sd: float) -> list[float]:
    return [float(v) for v in level + sd * np.random.default_rng(seed).normal(0, 1, n)]


def frame(*parts: list[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame([r for p in parts for r in p], columns=COLUMNS)


def test_nightly_paths_parse_with_and_without_factors() -> None:
    parsed = NightlySeries.parse(
        "tare", "tare.nightly.linux.qs.enforced.rate_5000.policy_size_1000.cpu_cgroup.overhead"
    )
    assert parsed is not None and parsed.stat == "overhead"
    key = parsed.key
    assert (key.mode, key.rate, key.factors, key.kpi) == (
        "enforced",
        "5000",
        ("policy_size_1000",),
        "cpu_cgroup",
    )
    assert key.cell == "enforced.rate_5000.policy_size_1000"
    assert NightlySeries.parse("tare", "tare.runs.x.y.z") is None
    assert NightlySeries.parse("tare", "tare.nightly.linux.qs.enforced.cpu.overhead") is None
    ts = int(dt.datetime(2026, 9, 3, tzinfo=dt.UTC).timestamp())
    f = to_frame("tare", [("tare.nightly.linux.qs.idle.rate_1000.mem_cgroup.overhead", ts, 1.5)])
    assert f.loc[0, "night"] == "2026-09-03" and f.loc[0, "factors"] == ""


def regression_frame() -> pd.DataFrame:
    cell = "enforced.rate_5000.policy_size_1000"
    cpu = noisy(1, 40, 1.5, 0.2)
    mem = noisy(2, 40, 11.0, 0.3)
    for i in range(34, 40):
        cpu[i] += 1.2
        mem[i] += 2.0
    return frame(
        series_rows(cell, "cpu_cgroup", "overhead", list(cpu)),
        series_rows(cell, "cpu_cgroup", "ci_low", [v - 0.4 for v in cpu]),
        series_rows(cell, "cpu_cgroup", "ci_high", [v + 0.4 for v in cpu]),
        series_rows(cell, "cpu_cgroup", "baseline", noisy(3, 40, 12.0, 0.3)),
        series_rows(cell, "mem_cgroup", "overhead", list(mem)),
        series_rows(
            "idle.rate_5000.policy_size_1000", "cpu_cgroup", "overhead", noisy(4, 40, 0.3, 0.2)
        ),
    )


def test_kpis_of_one_cell_changing_the_same_night_make_one_regression() -> None:
    ev = evaluate(regression_frame())
    assert len(ev.alerts) == 1
    a = ev.alerts[0]
    assert (a.kind, a.cell, a.night) == (
        "regression",
        "enforced.rate_5000.policy_size_1000",
        nights(40)[34],
    )
    assert sorted(i.kpi for i in a.items) == ["cpu_cgroup", "mem_cgroup"]
    cpu = next(i for i in a.items if i.kpi == "cpu_cgroup")
    assert cpu.before is not None and abs(cpu.before - 1.5) < 0.15 and abs(cpu.after - 2.7) < 0.2
    assert cpu.ci is not None and cpu.ci[0] < cpu.after < cpu.ci[1]
    assert gating(ev.alerts) == [a]
    assert ev.latest_night == nights(40)[-1]


def test_a_baseline_shift_alone_is_an_environment_change_not_a_regression() -> None:
    base = noisy(5, 40, 12.0, 0.3)
    base = [v + (3.0 if i >= 30 else 0.0) for i, v in enumerate(base)]
    parts = [
        series_rows(f"{mode}.rate_1000", "cpu_cgroup", "baseline", base)
        for mode in ("idle", "enforced")
    ] + [
        series_rows(f"{mode}.rate_1000", "cpu_cgroup", "overhead", noisy(6 + k, 40, 1.0, 0.2))
        for k, mode in enumerate(("idle", "enforced"))
    ]
    ev = evaluate(frame(*parts))
    assert [(a.kind, a.cell, a.night) for a in ev.alerts] == [("environment", "*", nights(40)[30])]
    assert [i.cell for i in ev.alerts[0].items] == ["baseline.rate_1000"]
    assert gating(ev.alerts) == []


def test_old_changes_are_history_and_not_alerted() -> None:
    y = noisy(7, 60, 1.0, 0.2)
    y = [v + (1.0 if i >= 20 else 0.0) for i, v in enumerate(y)]
    f = frame(series_rows("enforced.rate_1000", "cpu_cgroup", "overhead", y))
    assert evaluate(f, settings=Settings(recent_nights=14)).alerts == ()
    assert len(evaluate(f, settings=Settings(recent_nights=45)).alerts) == 1


def test_an_improvement_is_reported_but_does_not_gate() -> None:
    y = noisy(8, 40, 3.0, 0.2)
    y = [v - (1.5 if i >= 33 else 0.0) for i, v in enumerate(y)]
    ev = evaluate(frame(series_rows("visibility.rate_5000", "cpu_cgroup", "overhead", y)))
    assert [a.kind for a in ev.alerts] == ["improvement"]
    assert gating(ev.alerts) == []


def test_the_newest_night_jump_is_pending_and_a_spike_an_outlier() -> None:
    y = noisy(9, 40, 1.0, 0.2)
    y[30] += 2.5  # outliers are listed for the recent nights only
    y[-1] += 2.5
    ev = evaluate(frame(series_rows("enforced.rate_1000", "cpu_cgroup", "overhead", y)))
    assert ev.alerts == ()
    assert [(o.night, o.stat) for o in ev.pending] == [(nights(40)[-1], "overhead")]
    assert [o.night for o in ev.outliers] == [nights(40)[30]]


def test_missing_nights_stay_missing() -> None:
    y: list[float | None] = list(noisy(10, 40, 1.0, 0.2))
    for i in range(33, 40):
        y[i] = float(y[i] or 0) + 1.5
    y[33] = None
    other = noisy(11, 40, 0.5, 0.1)  # another cell ran that night: the night exists
    ev = evaluate(
        frame(
            series_rows("enforced.rate_1000", "cpu_cgroup", "overhead", y),
            series_rows("idle.rate_1000", "cpu_cgroup", "overhead", other),
        )
    )
    assert [(a.kind, a.night) for a in ev.alerts] == [("regression", nights(40)[34])]


def test_thresholds_alert_from_the_night_the_breach_began() -> None:
    y = [1.0] * 30 + [2.6, 2.8, 2.7]
    rel = [5.0] * 33
    rows = frame(
        series_rows("enforced.rate_10000", "cpu_cgroup", "overhead", y),
        series_rows("enforced.rate_10000", "cpu_cgroup", "overhead_pct", rel),
        series_rows("enforced.rate_1000", "cpu_cgroup", "overhead", [2.9] * 33),
    )
    rules = [
        ThresholdRule("cpu_cgroup", 2.5, rate="10000"),
        ThresholdRule("cpu_cgroup", 10.0, relative=True),
        ThresholdRule("mem_cgroup", 1.0),
    ]
    ev = evaluate(rows, rules)
    thresholds = [a for a in ev.alerts if a.kind == "threshold"]
    assert [(a.cell, a.night) for a in thresholds] == [("enforced.rate_10000", nights(33)[30])]
    item = thresholds[0].items[0]
    assert (item.before, item.after, item.rule) == (1.0, 2.7, "cpu_cgroup overhead > 2.5")
    lower = evaluate(rows, [ThresholdRule("cpu_cgroup", 6.0, relative=True, upper=False)])
    assert [a.night for a in lower.alerts if a.kind == "threshold"] == [nights(33)[0]]


def test_the_message_matches_its_golden_file() -> None:
    a = evaluate(regression_frame()).alerts[0]
    ctx = Context(
        "0123456789",
        "new",
        ("tare-refagent, version 1.0.0",),
        ("tare-refagent, version 1.1.0",),
        "http://grafana.example:3000/d/tare-overview",
    )
    message = build(a, ctx).payload()
    golden = GOLDEN / "slack_regression.json"
    text = json.dumps(message, indent=2, sort_keys=True) + "\n"
    if os.environ.get("TARE_UPDATE_GOLDEN"):  # rewrite on purpose, then review the diff
        golden.write_text(text)
    assert text == golden.read_text()
    assert "1.0.0 -> tare-refagent, version 1.1.0" in message["text"]
    assert "mode enforced / 5000 conn/s" in message["text"]
