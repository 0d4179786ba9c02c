"""The campaign matrix and run order, as plain values."""

from __future__ import annotations

from harness.matrix import BASELINE, Design, contender_cells, plan, wall_time_s

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


def test_interleaved_order_puts_each_baseline_before_its_contenders_every_repeat() -> None:
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
