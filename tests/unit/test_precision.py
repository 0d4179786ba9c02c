"""The calibration's verdicts: equivalence within a margin, never a pass without measuring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from contracts.calibration import Ballast, Group
from contracts.states import RunState
from pipeline.calibration import Criteria, RunData, evaluate, narrow_enough
from pipeline.precision import CPU_MARGIN, MEMORY_MARGIN, judge
from pipeline.stats import compare, welch

JUDGED = {"cpu_cgroup", "cpu_workload_core", "mem_cgroup"}


def test_margins() -> None:
    assert CPU_MARGIN.of(5.0) == 1.0 and CPU_MARGIN.of(10.0) == pytest.approx(2.0)
    assert MEMORY_MARGIN.of(10.0) == 2.0 and MEMORY_MARGIN.of(96.0) == pytest.approx(9.6)


def test_equivalence_passes_a_precise_lab_and_fails_a_biased_or_noisy_one() -> None:
    ok = judge("cpu_cgroup", 5.0, welch([10, 10.5, 9.5, 10], [15, 15.5, 14.5, 15.2]), 1.0, "pp")
    assert ok.ok
    noisy = judge("cpu_cgroup", 5.0, welch([8, 12, 6, 14], [13, 17, 11, 19]), 1.0, "pp")
    assert noisy.problems[0].startswith("too noisy")
    # a 40 % bias with a wide CI that still covers the truth: the old rule passed it
    biased = judge("cpu_cgroup", 5.0, welch([10, 10.2, 9.8], [17, 17.2, 16.8]), 1.0, "pp")
    assert biased.problems[0].startswith("biased")
    # a perfect lab whose CI happens to miss the injected value by a hair passes
    tight = judge("mem_cgroup", 64.0, welch([100.0, 100.1, 99.9], [164.6, 164.7, 164.5]), 6.4, "MB")
    assert tight.ok and tight.inside is False


def test_no_interval_is_never_a_pass() -> None:
    one = compare([[10.0] * 5], [[15.0] * 5])
    v = judge("cpu_cgroup", 5.0, one, 1.0, "pp")
    assert not v.ok and v.problems[0].startswith("not measured: no inference (1 vs 1 runs)")
    assert not judge("cpu_cgroup", 5.0, None, 1.0, "pp", "no runs").ok


def _runs(groups: dict[Group, list[tuple[RunState, dict[str, float]]]]) -> list[RunData]:
    rng = np.random.default_rng(5)
    out = []
    for g, runs in groups.items():
        for i, (state, levels) in enumerate(runs):
            values = (
                {k: list(v + rng.normal(0, 0.1, 10)) for k, v in levels.items()}
                if state is RunState.DONE
                else {}
            )
            out.append(RunData(f"{g.value}{i}", g, state, None, values))
    return out


BASE = {"cpu_cgroup": 20.0, "cpu_workload_core": 30.0, "mem_cgroup": 50.0, "cpu_all": 60.0}
BALLAST = {"cpu_cgroup": 25.0, "cpu_workload_core": 35.0, "mem_cgroup": 114.0, "cpu_all": 65.0}
DONE = RunState.DONE


def test_a_good_calibration_passes() -> None:
    runs = _runs(
        {
            Group.A: [(DONE, BASE)] * 3,
            Group.B: [(DONE, BALLAST)] * 3,
            Group.A2: [(DONE, BASE)] * 3,
        }
    )
    aa, ballast = evaluate(Criteria(Ballast(5.0, 64.0)), runs)
    judged = [v for t, v in ballast if t.judged]
    assert {v.kpi for v in judged} == JUDGED == {v.kpi for v in aa}
    assert all(v.ok for v in judged + aa), [v.problems for v in judged + aa]
    assert narrow_enough(Criteria(Ballast(5.0, 64.0)), runs)


def test_failed_ballast_runs_fail_the_calibration() -> None:
    failed = (RunState.FAILED, BALLAST)
    runs = _runs({Group.A: [(DONE, BASE)] * 3, Group.B: [failed] * 3, Group.A2: [(DONE, BASE)] * 3})
    aa, ballast = evaluate(Criteria(Ballast(5.0, 64.0)), runs)
    judged = [v for t, v in ballast if t.judged]
    assert {v.kpi for v in judged} == JUDGED  # every judged KPI has a verdict: a problem
    assert all(not v.ok for v in judged)
    assert "0 finished run(s) with cpu_cgroup in group B (3 failed)" in judged[0].problems[0]
    assert all(v.ok for v in aa)
    # one finished ballast run is no between-run evidence either
    runs = _runs(
        {
            Group.A: [(DONE, BASE)] * 3,
            Group.B: [(DONE, BALLAST), failed, failed],
            Group.A2: [(DONE, BASE)] * 3,
        }
    )
    _, ballast = evaluate(Criteria(Ballast(5.0, 64.0)), runs)
    assert all("1 finished run(s)" in v.problems[0] for t, v in ballast if t.judged)


def test_a_missing_series_is_a_problem_not_a_skipped_kpi() -> None:
    no_cgroup = {k: v for k, v in BASE.items() if k != "cpu_cgroup"}
    no_cgroup_b = {k: v for k, v in BALLAST.items() if k != "cpu_cgroup"}
    runs = _runs(
        {
            Group.A: [(DONE, no_cgroup)] * 3,
            Group.B: [(DONE, no_cgroup_b)] * 3,
            Group.A2: [(DONE, no_cgroup)] * 3,
        }
    )
    aa, ballast = evaluate(Criteria(Ballast(5.0, 64.0)), runs)
    by = {v.kpi: v for t, v in ballast if t.judged}
    assert "no cpu_cgroup series" in by["cpu_cgroup"].problems[0]
    assert by["mem_cgroup"].ok
    assert not {v.kpi: v for v in aa}["cpu_cgroup"].ok
    assert not math.isnan(by["mem_cgroup"].half_width)
