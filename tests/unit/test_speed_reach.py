"""The machine-speed probe's arithmetic (``harness.speed``) and the rate check's judgement
(``harness.reach``): pure parts, on plain values."""

from __future__ import annotations

import math

import pytest

from contracts.manifest import Probe
from harness.reach import Reach, judge
from harness.speed import HZ, CpuReading, parse_idle, values

STAT = """cpu  100 0 50 1000 10 0 5 0 0 0
cpu0 60 0 30 400 5 0 3 0 0 0
cpu1 40 0 20 600 5 0 2 0 0 0
intr 12345
"""


def test_idle_ticks_per_core_without_the_total() -> None:
    assert parse_idle(STAT) == {"cpu0": 405, "cpu1": 605}


def test_probe_values_are_the_run_kpis_over_the_probe_scaled_to_the_planned_load() -> None:
    a = CpuReading(10.0, 1_000_000_000, {"cpu0": 0, "cpu1": 0})
    # 4 s later: core 1 idle for 3 of them, core 0 for 1; the cgroup used 0.8 s of CPU
    b = CpuReading(14.0, 1_800_000_000, {"cpu0": 1 * HZ, "cpu1": 3 * HZ})
    got = values(a, b, ("1",), 1.0)
    assert got == {"cpu_all": 100.0, "cpu_workload_core": 25.0, "cpu_cgroup": 20.0}
    # 10 % of the probe's requests failed: its CPU stands for 90 % of the planned load
    assert values(a, b, ("1",), 1 / 0.9)["cpu_cgroup"] == pytest.approx(22.2222, abs=1e-3)
    assert "cpu_cgroup" not in values(CpuReading(10.0, None, a.idle), b, ("1",), 1.0)
    assert values(a, a, ("1",), 1.0) == {}  # no time passed: no figure
    # a workload of two cores: its KPI is their sum; unpinned (no cores), none
    assert values(a, b, ("0", "1"), 1.0)["cpu_workload_core"] == 100.0
    assert "cpu_workload_core" not in values(a, b, (), 1.0)


def test_probe_round_trips_through_the_manifest() -> None:
    p = Probe(4.02, 1.0, (("cpu_cgroup", 15.2), ("cpu_workload_core", 21.0)))
    assert Probe.from_json(p.to_json()) == p and p.get("cpu_cgroup") == 15.2


def test_a_rate_is_judged_on_the_seconds_after_the_first() -> None:
    # 1,000/s for 5 s, the first connection at t = 100 s
    starts = [int(100e6 + i * 1000) for i in range(5000)]
    assert judge(starts, 5) == pytest.approx(1000, rel=0.01)
    # a generator that fell behind: 5,000 connections spread over 8 s
    late = [int(100e6 + i * 1600) for i in range(5000)]
    assert judge(late, 5) == pytest.approx(625, rel=0.01)
    assert judge([], 5) == 0.0


def test_reach_says_what_the_host_offers() -> None:
    ok = Reach(5000, 4990.0, 0.98, "0")
    assert ok.ok and ok.describe() == "rate 5000/s offered: 4990/s with the load on core(s) 0"
    short = Reach(10000, 9140.0, 0.98, "0")
    assert not short.ok
    assert short.describe() == (
        "rate 10000/s is out of reach: this host offers at most 9140 conn/s with the load on "
        "core(s) 0 (98% of the target needed)"
    )
    broken = Reach(5000, math.nan, 0.98, why="workload not ready")
    assert not broken.ok and "could not be checked: workload not ready" in broken.describe()
