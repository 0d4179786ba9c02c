"""The campaign matrix and run order, as plain values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contracts.kpis import BY_NAME
from contracts.manifest import BASELINE
from harness.matrix import Design, PlannedRun, contender_cells, plan, wall_time_s
from pipeline.analysis import RunInfo, overheads

FACTORS = {
    "mode": [BASELINE, "idle", "visibility", "enforced"],
    "rate": [1000, 5000, 10000, 15000],
    "policy_size": [100, 1000, 10000],
}


def design(**kw: object) -> Design:
    base = {
        "factors": FACTORS,
        "kind": "one-factor-at-a-time",
        "crossed": ("mode", "rate"),
        "reference": {"mode": "enforced", "rate": 10000, "policy_size": 1000},
        "repeats": 3,
        "interleave": True,
        "baseline_factors": frozenset({"rate"}),
    }
    base.update(kw)
    return Design(**base)  # type: ignore[arg-type]


def test_one_factor_at_a_time_is_the_published_matrix() -> None:
    cells = contender_cells(design())
    # every mode at every rate (reference policy), then policy size varied alone
    assert len(cells) == 3 * 4 + 2
    assert {(c.mode, c.rate) for c in cells if c.get("policy_size") == 1000} == {
        (m, r) for m in ("idle", "visibility", "enforced") for r in (1000, 5000, 10000, 15000)
    }
    varied = [c for c in cells if c.get("policy_size") != 1000]
    assert {(c.mode, c.rate, c.get("policy_size")) for c in varied} == {
        ("enforced", 10000, 100),
        ("enforced", 10000, 10000),
    }


def test_baselines_are_shared_across_factors_the_workload_ignores() -> None:
    runs = plan(design(repeats=1))
    baselines = [r for r in runs if r.cell.mode == BASELINE]
    assert len(baselines) == 4  # one per rate, not one per policy size
    assert all(r.cell.get("policy_size") == 1000 for r in baselines)
    by_rate = {r.cell.rate: r for r in baselines}
    assert len(by_rate[10000].baseline_of) == 5  # 3 modes + 2 policy sizes at 10K/s
    assert len(runs) == 18


def test_a_factor_the_workload_uses_gets_its_own_baselines() -> None:
    runs = plan(design(repeats=1, baseline_factors=frozenset({"rate", "policy_size"})))
    assert len([r for r in runs if r.cell.mode == BASELINE]) == 6


def test_interleaved_order_is_counterbalanced_repeat_after_repeat() -> None:
    runs = plan(design(repeats=2))
    assert [r.seq for r in runs] == list(range(1, len(runs) + 1))
    first_block = [(r.cell.mode, r.cell.rate, r.repeat) for r in runs[:4]]
    assert first_block == [
        (BASELINE, 1000, 1),
        ("idle", 1000, 1),
        ("visibility", 1000, 1),
        ("enforced", 1000, 1),
    ]
    repeats = [r.repeat for r in runs]
    assert repeats == sorted(repeats)  # all of repeat 1, then all of repeat 2 (A B A B)
    # the second repeat is the first one backwards: blocks and the runs in each block
    first = [r.cell for r in runs if r.repeat == 1]
    second = [r.cell for r in runs if r.repeat == 2]
    assert second == first[::-1]
    assert all(r.baseline_of for r in runs if r.cell.mode == BASELINE)


def _drifting_frame(runs: list[PlannedRun], drift: float, seconds: int = 10) -> pd.DataFrame:
    """cpu_cgroup of every run: 20 everywhere (a null agent) plus ``drift`` per run in time."""
    rows = []
    for position, r in enumerate(runs):
        rows += [(f"r{r.seq}", "cpu_cgroup", t, 20.0 + drift * position) for t in range(seconds)]
    return pd.DataFrame(rows, columns=["run_id", "kpi", "time", "value"])


def _infos(runs: list[PlannedRun]) -> list[RunInfo]:
    return [
        RunInfo(f"r{r.seq}", r.cell.levels, tuple(c.levels for c in r.baseline_of), True, r.repeat)
        for r in runs
    ]


@pytest.mark.parametrize("repeats", [2, 4, 6])
@pytest.mark.parametrize("paired", [False, True])
def test_a_linear_drift_adds_nothing_to_any_overhead(repeats: int, paired: bool) -> None:
    runs = plan(design(repeats=repeats))
    found, refused = overheads(
        _drifting_frame(runs, drift=0.5), _infos(runs), [BY_NAME["cpu_cgroup"]], paired
    )
    assert not refused and len(found) == len(contender_cells(design()))
    assert max(abs(o.absolute.delta) for o in found if o.absolute) < 1e-9
    assert {o.method for o in found} == {"paired" if paired else "welch"}


def test_with_an_odd_number_of_repeats_the_drift_left_is_a_third_of_the_fixed_order() -> None:
    runs = plan(design(repeats=3))
    balanced, _ = overheads(_drifting_frame(runs, 0.5), _infos(runs), [BY_NAME["cpu_cgroup"]])
    # the order the harness used before: every block forward in every repeat
    forward = plan(design(repeats=1))
    fixed = [
        PlannedRun(len(forward) * k + r.seq, r.cell, k + 1, r.baseline_of)
        for k in range(3)
        for r in forward
    ]
    unbalanced, _ = overheads(_drifting_frame(fixed, 0.5), _infos(fixed), [BY_NAME["cpu_cgroup"]])
    worst = max(abs(o.absolute.delta) for o in balanced if o.absolute)
    worst_fixed = max(abs(o.absolute.delta) for o in unbalanced if o.absolute)
    assert worst == pytest.approx(worst_fixed / 3)
    # the reference block: its baseline, 3 modes and 2 more policy sizes, the last 5 runs late
    assert np.isclose(worst_fixed, 0.5 * 5)


def test_blocks_without_interleaving() -> None:
    runs = plan(design(repeats=3, interleave=False))
    first = [(r.cell.mode, r.cell.rate, r.repeat) for r in runs[:6]]
    assert first == [
        (BASELINE, 1000, 1),
        (BASELINE, 1000, 2),
        (BASELINE, 1000, 3),
        ("idle", 1000, 1),
        ("idle", 1000, 2),
        ("idle", 1000, 3),
    ]


def test_full_design_crosses_everything() -> None:
    runs = plan(design(kind="full", repeats=1))
    contenders = [r for r in runs if r.cell.mode != BASELINE]
    assert len(contenders) == 3 * 4 * 3


def test_wall_time() -> None:
    runs = plan(design(repeats=1))
    assert wall_time_s(runs, 300, 4, 3) == len(runs) * 304 + 14 * 3
