"""Overhead against baseline on synthetic runs with a planted cost."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from contracts.kpis import BY_NAME
from pipeline.analysis import (
    RunInfo,
    as_rows,
    conntrack_words,
    derive,
    full_seconds,
    mark_unlike,
    measures,
    overheads,
    pair_cells,
    summaries,
    unlike_words,
)
from pipeline.tables import fmt_cell

BASE = (("mode", "baseline"), ("rate", 5000), ("policy_size", 1000))
ENF = (("mode", "enforced"), ("rate", 5000), ("policy_size", 1000))
ENF_BIG = (("mode", "enforced"), ("rate", 5000), ("policy_size", 10000))


def frame(run_id: str, cpu: float, mem_avail_mb: float, rate: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(30):
        rows.append((run_id, "cpu_cgroup", 1000 + t, cpu + rng.normal(0, 0.5)))
        rows.append((run_id, "mem_available", 1000 + t, mem_avail_mb + rng.normal(0, 0.2)))
        rows.append((run_id, "conn_rate", 1000 + t, rate + rng.normal(0, 5)))
    return pd.DataFrame(rows, columns=["run_id", "kpi", "time", "value"])


def campaign() -> tuple[pd.DataFrame, list[RunInfo]]:
    frames, runs = [], []
    for rep in range(3):
        frames.append(frame(f"b{rep}", 10.0, 20000.0, 5000, rep))
        frames.append(frame(f"e{rep}", 12.0, 19958.0, 5000, 100 + rep))
        runs.append(RunInfo(f"b{rep}", BASE, (ENF, ENF_BIG), True))
        runs.append(RunInfo(f"e{rep}", ENF, (), True))
    return pd.concat(frames), runs


def test_planted_overheads_are_recovered() -> None:
    data, runs = campaign()
    kpis = [BY_NAME["cpu_cgroup"], BY_NAME["mem_available"], BY_NAME["conn_rate"]]
    found, refusals = overheads(data, runs, kpis)
    assert refusals == []
    by = {o.kpi: o for o in found}
    cpu = by["cpu_cgroup"]
    assert cpu.absolute is not None and cpu.absolute.method == "welch"
    assert cpu.absolute.ci_low < 2.0 < cpu.absolute.ci_high and cpu.significant
    assert cpu.relative_pct == pytest.approx(20, abs=3)
    mem = by["mem_available"]  # 42 MB less available is a cost of +42 MB
    assert mem.absolute is not None and mem.absolute.ci_low < 42 < mem.absolute.ci_high
    rate = by["conn_rate"]  # no cost planted: relative only, not significant
    assert rate.absolute is None and not rate.significant
    assert rate.relative_ci is not None and rate.relative_ci[0] < 0 < rate.relative_ci[1]
    rows = as_rows(found)
    assert {r["kpi"] for r in rows} == {"cpu_cgroup", "mem_available", "conn_rate"}
    assert all(r["mode"] == "enforced" for r in rows)


def test_invalid_runs_are_left_out_and_a_missing_baseline_is_refused() -> None:
    data, runs = campaign()
    runs = [RunInfo(r.run_id, r.levels, r.baseline_of, r.mode != "baseline") for r in runs]
    found, refusals = overheads(data, runs, [BY_NAME["cpu_cgroup"]])
    assert found == []
    assert refusals and "no baseline run" in refusals[0].reason


def test_mismatch_names_the_differing_factor() -> None:
    runs = [
        RunInfo("b", (("mode", "baseline"), ("rate", 1000)), (), True),
        RunInfo("e", (("mode", "enforced"), ("rate", 5000)), (), True),
    ]
    pairs, refusals = pair_cells(runs)
    assert pairs == {}
    assert "nearest differs in rate (1000 vs 5000)" in refusals[0].reason


def test_summaries_count_missing_seconds_without_filling() -> None:
    data = frame("r", 10, 1, 1, 0)
    data.loc[data.index[:6], "value"] = float("nan")  # two seconds of each KPI missing
    s = summaries(data).set_index(["run_id", "kpi"])
    assert s.loc[("r", "cpu_cgroup"), "missing"] == 2
    assert s.loc[("r", "cpu_cgroup"), "n"] == 28
    assert s.loc[("r", "cpu_cgroup"), "p5"] < s.loc[("r", "cpu_cgroup"), "p95"]


def test_by_configuration_over_repeats() -> None:
    from pipeline.analysis import by_configuration

    data, runs = campaign()
    table = by_configuration(data, runs).set_index(["cell", "kpi"])
    row = table.loc[("mode=enforced rate=5000 policy_size=1000", "cpu_cgroup")]
    assert row["runs"] == 3
    assert row["mean"] == pytest.approx(12.0, abs=0.3)
    assert 0 < row["between_run_stdev"] < 1


def test_significance_is_false_discovery_controlled_and_context_is_never_starred() -> None:
    data, runs = campaign()
    kpis = [BY_NAME["cpu_cgroup"], BY_NAME["mem_available"], BY_NAME["conn_rate"]]
    by = {o.kpi: o for o in overheads(data, runs, kpis)[0]}
    cpu, mem = by["cpu_cgroup"], by["mem_available"]
    assert cpu.judged and cpu.qvalue >= cpu.pvalue and cpu.significant
    # a 42 MB change in available memory, with a tight interval: context, shown, not starred
    assert not mem.judged and mem.absolute is not None and mem.absolute.significant
    assert not mem.significant and mem.qvalue != mem.qvalue  # NaN: not among the tests
    assert mem.verdict.value == "no inference"
    assert cpu.verdict.value == "cost"
    # twenty null KPIs beside it: the planted one stays, raw p < 0.05 by chance does not
    rng = np.random.default_rng(11)
    extra = []
    for rep in range(3):
        for side in ("b", "e"):
            for k in range(20):
                values = 5.0 + rng.normal(0, 1.0) + rng.normal(0, 0.2, 30)
                extra += [(f"{side}{rep}", f"null{k}", 1000 + t, v) for t, v in enumerate(values)]
    nulls = pd.DataFrame(extra, columns=["run_id", "kpi", "time", "value"])
    from contracts.kpis import Kpi

    null_kpis = [Kpi(f"null{k}", f"x.null{k}", "pp") for k in range(20)]
    found, _ = overheads(pd.concat([data, nulls]), runs, [BY_NAME["cpu_cgroup"], *null_kpis])
    raw = [o for o in found if o.kpi.startswith("null") and o.pvalue < 0.05]
    starred = [o for o in found if o.significant]
    assert [o.kpi for o in starred] == ["cpu_cgroup"]
    assert len(found) == 21 and all(o.qvalue >= o.pvalue for o in found)
    assert len(raw) <= 3  # whatever chance gave, BH kept none of it


THR_BASE = (("mode", "baseline"), ("rate", 5000), ("profile", "throughput"))
THR_ENF = (("mode", "enforced"), ("rate", 5000), ("profile", "throughput"))


def bulk_run(run_id: str, cpu: float, ksegs: float, agent: float | None, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(20):
        rows.append((run_id, "cpu_workload_core", 1000 + t, cpu + rng.normal(0, 0.3)))
        rows.append((run_id, "tcp_ksegs", 1000 + t, ksegs + rng.normal(0, 0.2)))
        rows.append((run_id, "conn_rate", 1000 + t, 3.0))  # none of this profile's business
        if agent is not None:
            rows.append((run_id, "cpu_agent", 1000 + t, agent + rng.normal(0, 0.05)))
    return pd.DataFrame(rows, columns=["run_id", "kpi", "time", "value"])


def test_per_packet_cost_is_derived_per_second_and_compared_between_runs() -> None:
    frames, runs = [], []
    for rep in range(3):
        # 40 points of a core at 40K segments/s in the baseline: 100 per 100K/s; the agent
        # adds 4 points at the same packet rate: 110 per 100K/s
        frames.append(bulk_run(f"b{rep}", 40.0 + rep * 0.2, 40.0, None, rep))
        frames.append(bulk_run(f"e{rep}", 44.0 + rep * 0.2, 40.0, 0.8, 10 + rep))
        runs.append(RunInfo(f"b{rep}", THR_BASE, (THR_ENF,), True))
        runs.append(RunInfo(f"e{rep}", THR_ENF, (), True))
    data = derive(pd.concat(frames))
    assert set(data["kpi"]) >= {"cpu_per_100kpps"}
    kpis = [BY_NAME[k] for k in ("cpu_per_100kpps", "conn_rate", "cpu_agent", "tcp_ksegs")]
    found, refusals = overheads(data, runs, kpis)
    assert refusals == []
    by = {o.kpi: o for o in found}
    assert "conn_rate" not in by  # the connections profile's KPI: not measured here
    per = by["cpu_per_100kpps"]
    assert per.absolute is not None and per.absolute.method == "welch"
    assert per.baseline_mean == pytest.approx(100.5, abs=1)
    assert per.absolute.ci_low < 10.0 < per.absolute.ci_high
    agent = by["cpu_agent"]  # absent from the baseline: zero there, not refused
    assert agent.baseline_mean == 0 and agent.contender_mean == pytest.approx(0.8, abs=0.1)
    assert agent.absolute is not None and agent.absolute.ci_low > 0.5
    assert by["tcp_ksegs"].absolute is not None and not by["tcp_ksegs"].significant


def test_which_kpis_a_run_measures() -> None:
    assert measures(BY_NAME["conn_rate"], ENF) and not measures(BY_NAME["req_rate"], ENF)
    assert measures(BY_NAME["cpu_per_100kpps"], THR_ENF)
    assert not measures(BY_NAME["cpu_per_100kpps"], ENF)
    assert not measures(BY_NAME["cpu_agent"], BASE) and measures(BY_NAME["cpu_agent"], ENF)
    # a zero packet rate gives no per-packet figure, never a division by zero
    zero = derive(bulk_run("z", 10.0, 0.0, None, 1).assign(value=lambda f: f["value"].abs() * 0))
    assert zero[zero["kpi"] == "cpu_per_100kpps"]["value"].isna().all()


def test_the_covariate_adjusts_cpu_by_each_runs_probe_and_nothing_else() -> None:
    """Each run's level is the machine's speed of the moment (read by its probe before the
    agent) plus 2 points on the enforced side; memory has no probe and stays Welch."""
    speeds = [0.0, -4.0, 6.0, 5.0, -5.0, 1.0]  # (baseline, enforced) per repeat
    frames, runs = [], []
    for rep in range(3):
        sb, se = speeds[2 * rep], speeds[2 * rep + 1]
        frames.append(frame(f"b{rep}", 10.0 + sb, 20000.0, 5000, rep))
        frames.append(frame(f"e{rep}", 12.0 + se, 19958.0, 5000, 100 + rep))
        runs.append(RunInfo(f"b{rep}", BASE, (ENF,), True, rep, (("cpu_cgroup", 30.0 + sb),)))
        runs.append(RunInfo(f"e{rep}", ENF, (), True, rep, (("cpu_cgroup", 30.0 + se),)))
    data = pd.concat(frames)
    kpis = [BY_NAME["cpu_cgroup"], BY_NAME["mem_available"]]
    plain = {o.kpi: o for o in overheads(data, runs, kpis)[0]}
    found = {o.kpi: o for o in overheads(data, runs, kpis, covariate=True)[0]}
    cpu, raw = found["cpu_cgroup"].absolute, plain["cpu_cgroup"].absolute
    assert cpu is not None and raw is not None
    assert cpu.method == "welch + covariate" and raw.method == "welch"
    assert cpu.ci_low < 2.0 < cpu.ci_high and found["cpu_cgroup"].significant
    assert not plain["cpu_cgroup"].significant  # the speeds hid it
    assert cpu.narrowed > 5
    assert found["mem_available"].method == "welch"
    row = next(r for r in as_rows(list(found.values())) if r["kpi"] == "cpu_cgroup")
    assert row["narrowed"] == pytest.approx(cpu.narrowed)
    # a run without a probe: the whole comparison stays plain (no run is adjusted alone)
    runs[0] = RunInfo("b0", BASE, (ENF,), True, 0)
    again = {o.kpi: o for o in overheads(data, runs, kpis, covariate=True)[0]}
    assert again["cpu_cgroup"].method == "welch"


def test_a_full_conntrack_table_is_said_in_words() -> None:
    """The agent's table filled and dropped new connections: its cost, in one line per cell."""
    frames, runs = [], []
    rows = []
    for rep in range(3):
        for run_id, fill, drops in ((f"b{rep}", 0.0, 0.0), (f"e{rep}", 97.0 + rep, 50.0 + rep)):
            for t in range(10):
                rows.append((run_id, "conntrack_fill_pct", 1000 + t, fill))
                rows.append((run_id, "conntrack_drops_per_s", 1000 + t, drops))
        runs.append(RunInfo(f"b{rep}", BASE, (ENF,), True, rep))
        runs.append(RunInfo(f"e{rep}", ENF, (), True, rep))
    frames.append(pd.DataFrame(rows, columns=["run_id", "kpi", "time", "value"]))
    kpis = [BY_NAME["conntrack_fill_pct"], BY_NAME["conntrack_drops_per_s"]]
    found, _ = overheads(pd.concat(frames), runs, kpis)
    by = {o.kpi: o for o in found}
    assert by["conntrack_drops_per_s"].significant and by["conntrack_fill_pct"].significant
    assert conntrack_words(found) == [
        "enforced rate=5000 policy_size=1000: the table 98 % full on average, 51.0 new "
        "connections' packets dropped a second"
    ]
    full = full_seconds(pd.concat(frames), runs)
    assert full == {ENF: pytest.approx(10 / 3)}  # of 97, 98, 99 % full: one run full 10 s
    assert conntrack_words(found, {ENF: 3.3})[0].startswith(
        "enforced rate=5000 policy_size=1000: the table full for 3 s of each run (98 % full "
        "on average), 51.0"
    )
    quiet = [o for o in found if o.kpi == "conntrack_fill_pct"]
    assert conntrack_words([replace(o, contender_mean=40.0) for o in quiet]) == []


def test_cpu_and_memory_of_a_cell_that_failed_requests_are_not_like_for_like() -> None:
    """A contender that failed 2 % of its requests did less work than its baseline: its CPU and
    memory are marked (≠), its latency and its failures themselves are compared as ever."""
    rows = []
    runs = []
    for rep in range(3):
        for run_id, cpu, errors in ((f"b{rep}", 10.0, 0.0), (f"e{rep}", 11.0, 2.0 + rep / 10)):
            for t in range(10):
                rows.append((run_id, "cpu_cgroup", 1000 + t, cpu + (t % 3) / 10))
                rows.append((run_id, "mem_cgroup", 1000 + t, 2e7 + rep * 1e5))
                rows.append((run_id, "latency_p99_ms", 1000 + t, 1.0 + rep / 10))
            rows.append((run_id, "error_pct", 1005, errors))
        runs.append(RunInfo(f"b{rep}", BASE, (ENF,), True, rep))
        runs.append(RunInfo(f"e{rep}", ENF, (), True, rep))
    data = pd.DataFrame(rows, columns=["run_id", "kpi", "time", "value"])
    names = ("cpu_cgroup", "mem_cgroup", "latency_p99_ms", "error_pct")
    found, _ = overheads(data, runs, [BY_NAME[k] for k in names])
    marked = {o.kpi: o.like_for_like for o in mark_unlike(found, 0.5)}
    assert marked == {
        "cpu_cgroup": False,
        "mem_cgroup": False,
        "latency_p99_ms": True,
        "error_pct": True,
    }
    assert all(o.like_for_like for o in mark_unlike(found, 5.0))  # within the stated share
    assert all(o.like_for_like for o in mark_unlike(found, None))  # a manifest without it
    assert unlike_words(mark_unlike(found, 0.5)) == [
        "enforced rate=5000 policy_size=1000: 2.10 % of requests failed (baseline 0.00 %), so "
        "its CPU and memory (marked ≠) are not like-for-like: a failed request spares the "
        "server the work of a served one"
    ]
    cpu = next(o for o in mark_unlike(found, 0.5) if o.kpi == "cpu_cgroup")
    assert fmt_cell(cpu).endswith("≠")
    assert next(r for r in as_rows([cpu]))["like_for_like"] is False
