"""The adaptive night: its stopping rule, its rounds, and the campaign loop that adds them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from contracts.manifest import BASELINE, RunRecord
from contracts.noise import Noise
from contracts.states import RunState
from harness import matrix
from harness.matrix import Cell, Design
from pipeline.adaptive import (
    DEFAULT_TARGET,
    expected,
    looks_at,
    rounds_needed,
    short_of,
    targets,
    welch_half_width,
)
from pipeline.analysis import Overhead
from pipeline.stats import Comparison, no_variation
from tare import adaptive
from tests.unit.test_matrix import design


def overhead(cell: Cell, kpi: str, half: float | None, unit: str = "pp of a core") -> Overhead:
    """An overhead of +1 whose 95 % CI is +-``half`` (None: the runs did not vary)."""
    if half is None:
        comp = no_variation(1.0, 3, 3)
    else:
        comp = Comparison(1.0, 1.0 - half, 1.0 + half, 0.01, half, 4, 4, "welch")
    return Overhead(
        cell.levels,
        cell.levels,
        kpi,
        unit,
        10,
        11,
        comp,
        None,
        None,
        comp.pvalue,
        False,
        comp.mde,
        comp.method,
    )


def test_targets_default_by_unit_and_take_the_campaigns() -> None:
    goal = targets({"cpu_cgroup": 0.5})
    assert goal["cpu_cgroup"] == 0.5
    assert goal["cpu_workload_core"] == DEFAULT_TARGET["pp of a core"] == 1.0
    assert goal["mem_cgroup"] == 2.0 and goal["conn_rate"] == 1.0
    assert "mem_available" not in goal  # context KPIs are never judged
    # machine-wide CPU with the generator in it, and softirq: judged, waited for only if named
    assert "cpu_all" not in goal and "softirq_all" not in goal
    assert targets({"cpu_all": 3.0})["cpu_all"] == 3.0


def test_short_of_looks_at_the_width_only() -> None:
    cell = matrix.contender_cells(design())[0]
    narrow, wide = overhead(cell, "cpu_cgroup", 0.1), overhead(cell, "cpu_workload_core", 3.0)
    alike = overhead(cell, "mem_cgroup", None)  # every run the same: nothing to narrow
    short = short_of([narrow, wide, alike], targets({}))
    assert [(s.kpi, s.target) for s in short] == [("cpu_workload_core", 1.0)]
    assert short[0].half_width is not None and short[0].half_width > 1.0
    assert "cpu_workload_core: +-" in short[0].describe() and "target +-1" in short[0].describe()


def test_a_look_after_every_second_round() -> None:
    assert [n for n in range(1, 12) if looks_at(n, 4)] == [4, 6, 8, 10]


def test_rounds_needed_follows_the_t_quantile() -> None:
    # sd 1.0 at +-1.0: 2.31 x sqrt(2/4) is wider at 4, 2.07 x sqrt(2/12) = 0.85 fits at 12
    assert welch_half_width(1.0, 4) > 1.0
    n = rounds_needed({"cpu_cgroup": 1.0}, {"cpu_cgroup": 1.0}, 4, 20)
    assert n % 2 == 0 and welch_half_width(1.0, n) <= 1.0 < welch_half_width(1.0, n - 2)
    assert rounds_needed({"cpu_cgroup": 0.1}, {"cpu_cgroup": 1.0}, 4, 20) == 4
    assert rounds_needed({"cpu_cgroup": 9.0}, {"cpu_cgroup": 1.0}, 4, 20) == 20  # the budget


def test_rounds_walk_only_the_open_blocks_counterbalanced() -> None:
    d = design()
    bases = [b for b, _ in matrix.blocks(d)]
    runs = matrix.rounds(d, 5, 2, [bases[0], bases[2]], seq=100)
    assert [r.seq for r in runs] == list(range(100, 100 + len(runs)))
    assert {r.repeat for r in runs} == {5, 6}
    assert {
        matrix.baseline_cell(d, r.cell) if r.cell.mode != BASELINE else r.cell for r in runs
    } == {bases[0], bases[2]}
    fifth = [r for r in runs if r.repeat == 5]
    sixth = [r for r in runs if r.repeat == 6]
    assert [r.cell for r in fifth] == [r.cell for r in reversed(sixth)]  # odd forward, even back
    assert fifth[0].cell == bases[0] and fifth[0].baseline_of  # a baseline serves its block
    # the fixed interleaved plan is the same rounds from the first
    assert matrix.plan(d) == matrix.rounds(d, 1, d.repeats)


def record(d: Design, run: matrix.PlannedRun) -> RunRecord:
    levels = run.cell.levels
    return RunRecord(
        f"r{run.seq}",
        "c",
        run.seq,
        run.cell.mode,
        run.cell.rate,
        run.repeat,
        levels,
        RunState.DONE,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )


class Nights:
    """``analyze`` as the Rounds see it: each block's CPU half-width after n rounds."""

    def __init__(self, half_at: dict[int, list[float]]) -> None:
        self.half_at = half_at  # rate -> half-width after round 4, 6, 8, ...

    def __call__(self, _record: Any, rows: Sequence[RunRecord], _client: Any) -> Any:
        rounds = max(r.repeat for r in rows)
        out = []
        for cell in {Cell(r.levels) for r in rows if r.mode != BASELINE}:
            widths = self.half_at[cell.rate]
            out.append(
                overhead(cell, "cpu_cgroup", widths[min((rounds - 4) // 2, len(widths) - 1)])
            )

        class A:
            overheads = out

        return A()


def test_blocks_stop_when_narrow_and_end_too_noisy_at_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = design(
        factors={"mode": [BASELINE, "enforced"], "rate": [1000, 5000, 10000]},
        reference={"mode": "enforced", "rate": 5000},
        repeats=4,
    )
    # 1K/s narrow at the first look; 5K/s at the second; 10K/s never
    monkeypatch.setattr(adaptive, "analyze", Nights({1000: [0.5], 5000: [1.5, 0.9], 10000: [3.0]}))
    said: list[str] = []
    more = adaptive.Rounds(d, 4, 8, targets({}), lambda: None, None, said.append)  # type: ignore[arg-type]
    rows = [record(d, r) for r in matrix.plan(d)]
    looks = 0
    while True:
        extra = more(rows)
        looks += 1
        if not extra:
            break
        assert all(r.seq > max(x.seq for x in rows) for r in extra)
        rows += [record(d, r) for r in extra]
    by_rate = {rate: max(r.repeat for r in rows if r.rate == rate) for rate in (1000, 5000, 10000)}
    assert by_rate == {1000: 4, 5000: 6, 10000: 8} and looks == 3
    assert any(
        "rate=1000: after 4 round(s) every judged KPI is within its target" in s for s in said
    )
    assert any(
        "rate=10000: after 8 round(s) the budget is spent; too noisy tonight" in s for s in said
    )


def test_plan_expects_rounds_from_the_measured_noise() -> None:
    d = design(
        factors={"mode": [BASELINE, "enforced"], "rate": [1000, 10000]},
        reference={"mode": "enforced", "rate": 1000},
        repeats=4,
    )
    costs = adaptive.block_costs(d, lambda runs: 10.0 * len(runs))
    assert [(c.name, c.rate, c.round_s) for c in costs] == [
        ("rate=1000", 1000, 20.0),
        ("rate=10000", 10000, 20.0),
    ]
    noise = [
        Noise(1000, 30, 23, {"cpu_cgroup": 0.2}, 10, 0),
        Noise(10000, 30, 23, {"cpu_cgroup": 1.2}, 10, 0),
    ]
    e = expected(costs, 4, 12, targets({}), noise, 30)
    assert e.least_s == 4 * 20 * 2 and e.most_s == 12 * 20 * 2
    assert "rate=1000: 4 rounds" in e.lines[0] and "widest cpu_cgroup sd 0.20" in e.lines[0]
    tenk = rounds_needed({"cpu_cgroup": 1.2}, targets({}), 4, 12)
    assert tenk > 4 and e.expected_s == (4 + tenk) * 20
    unknown = expected(costs, 4, 12, targets({}), [], 30)
    assert unknown.expected_s == unknown.most_s and "no noise measured" in unknown.lines[0]


def test_the_campaign_loop_adds_rounds_to_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.campaign as hc
    from harness.ledger import Ledger
    from harness.progress import Progress
    from harness.runner import RunOutcome
    from tests.records import FACTS, manifest

    d = design(
        factors={"mode": [BASELINE, "enforced"], "rate": [1000]},
        reference={"mode": "enforced", "rate": 1000},
        repeats=2,
    )
    ledger = Ledger(tmp_path / "ledger.db")
    first = matrix.plan(d)
    cid = hc.start_or_resume(ledger, "n", "linux", "f", "h", first, False, FACTS)
    monkeypatch.setattr(
        hc, "execute_with_reruns", lambda *a, **k: (RunOutcome(RunState.DONE, None), [])
    )

    class Hooks:
        def run_finished(self, *a: Any) -> None:
            pass

    calls: list[int] = []

    def more(rows: list[RunRecord]) -> list[matrix.PlannedRun]:
        calls.append(len(rows))
        assert all(r.status is RunState.DONE for r in rows)
        if len(calls) > 1:
            return []
        return matrix.rounds(d, 3, 2, None, max(r.seq for r in rows) + 1)

    import io

    from harness.agent import AgentCommands
    from harness.runner import RunnerConfig

    argv = ("true",)
    runner = RunnerConfig(
        argv,
        8080,
        "/",
        1.0,
        AgentCommands(argv, argv, argv, argv, argv, argv, None, 5.0),
        "h2load",
        12,
        1,
        1,
        0.98,
        60,
        tmp_path,
        tmp_path,
    )

    summary = hc.run_campaign(
        ledger,
        manifest("x", (("mode", BASELINE),), cid=cid).campaign,
        {r.seq: r for r in first},
        runner,
        None,  # type: ignore[arg-type]
        Hooks(),  # type: ignore[arg-type]
        Progress(len(first), 1, io.StringIO(), False),
        more=more,
    )
    rows = ledger.runs(cid)
    assert calls == [4, 8] and summary.ran == 8 and len(rows) == 8
    assert [r.repeat for r in rows] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert all(r.status is RunState.DONE for r in rows)
    assert [r.seq for r in rows] == list(range(1, 9))
