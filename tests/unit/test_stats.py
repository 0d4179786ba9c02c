"""The comparison statistics: known overheads recovered, identical samples give nothing,
swapping the sides flips the sign."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from pipeline.stats import (
    ancova,
    benjamini_hochberg,
    compare,
    compare_adjusted,
    compare_paired,
    paired,
    paired_ancova,
    pooled_slope,
    welch,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=2, max_size=30)


@given(samples)
def test_identical_samples_give_zero_overhead_not_significant(values: list[float]) -> None:
    c = welch(values, values)
    assert c.delta == pytest.approx(0.0, abs=1e-6 * (1 + max(map(abs, values))))
    assert not c.significant
    if c.method.startswith("no inference"):  # no variation at all: no interval either
        assert c.method.startswith("no inference") and math.isnan(c.ci_low)
        return
    assert c.ci_low <= 1e-6 * (1 + max(map(abs, values))) and c.ci_high >= -1e-6 * (
        1 + max(map(abs, values))
    )


@given(samples, samples)
# found by a wider exploration: runs that did not vary, 2 against 3. The method names the run
# counts in order (baseline vs contender), so swapping the sides swaps them in the text too
@example(a=[0.0, 0.0], b=[0.0, 0.0, 0.0])
def test_swapping_flips_the_sign(a: list[float], b: list[float]) -> None:
    ab, ba = welch(a, b), welch(b, a)
    scale = 1e-6 * (1 + max(map(abs, a + b)))
    assert ab.delta == pytest.approx(-ba.delta, abs=scale)
    assert (ba.n_baseline, ba.n_contender) == (ab.n_contender, ab.n_baseline)
    counts, swapped = f"{len(a)} vs {len(b)}", f"{len(b)} vs {len(a)}"
    assert ba.method == ab.method.replace(counts, swapped)
    if ab.method.startswith("no inference"):
        return
    assert ab.ci_low == pytest.approx(-ba.ci_high, abs=scale)
    assert ab.pvalue == pytest.approx(ba.pvalue, abs=1e-9)


@given(samples, samples)
def test_paired_swapping_flips_the_sign(a: list[float], b: list[float]) -> None:
    n = min(len(a), len(b))
    ab, ba = paired(a[:n], b[:n]), paired(b[:n], a[:n])
    scale = 1e-6 * (1 + max(map(abs, a + b)))
    assert ab.delta == pytest.approx(-ba.delta, abs=scale)
    assert ab.method == ba.method
    if not ab.method.startswith("no inference"):
        assert ab.pvalue == pytest.approx(ba.pvalue, abs=1e-9)


def test_known_overhead_is_recovered_with_its_interval() -> None:
    rng = np.random.default_rng(1)
    base = [list(20 + rng.normal(0, 1.0, 30)) for _ in range(6)]
    cont = [list(25 + rng.normal(0, 1.0, 30)) for _ in range(6)]
    c = compare(base, cont)
    assert c.method == "welch" and (c.n_baseline, c.n_contender) == (6, 6)
    assert c.ci_low < 5 < c.ci_high
    assert c.significant
    assert 0 < c.mde < 2


def test_fewer_than_two_runs_a_side_is_no_inference() -> None:
    rng = np.random.default_rng(2)
    one = [list(10 + rng.normal(0, 1, 60))]
    three = [list(13 + rng.normal(0, 1, 60)) for _ in range(3)]
    for c in (compare(one, one), compare(one, three), compare(three, one)):
        assert not c.inferred and not c.significant
        assert math.isnan(c.ci_low) and math.isnan(c.pvalue) and math.isnan(c.mde)
    c = compare(three, one)
    assert c.method == "no inference (3 vs 1 runs)" and c.delta < 0
    assert compare([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]]).delta == 0.0
    assert compare_paired(one, one).method == "no inference (1 vs 1 runs)"


def test_paired_removes_what_the_blocks_share() -> None:
    rng = np.random.default_rng(3)
    block = rng.normal(0, 5, 6)  # a large shift per block, common to both sides
    base = list(20 + block + rng.normal(0, 0.2, 6))
    cont = list(21 + block + rng.normal(0, 0.2, 6))
    assert paired(base, cont).ci_low > 0.5
    assert not welch(base, cont).significant  # the block shifts swamp Welch


def test_benjamini_hochberg() -> None:
    # four tests (the NaN was not made): 0.01*4/1, min(0.03*4/2, 0.04*4/3), 0.04*4/3, 0.5*4/4
    q = benjamini_hochberg([0.01, 0.04, 0.03, float("nan"), 0.5])
    assert q[0] == pytest.approx(0.04)
    assert q[1] == pytest.approx(0.04 * 4 / 3) and q[2] == pytest.approx(0.04 * 4 / 3)
    assert math.isnan(q[3]) and q[4] == pytest.approx(0.5)


def test_deterministic_and_degenerate_cases() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 6.0]
    assert welch(a, b) == welch(a, b)
    same = welch([5.0, 5.0], [5.0, 5.0])
    assert same.delta == 0.0 and math.isnan(same.pvalue) and not same.significant
    exact = welch([5.0, 5.0], [7.0, 7.0])
    assert exact.delta == 2.0 and math.isnan(exact.pvalue) and not exact.significant
    with pytest.raises(ValueError, match="two values"):
        welch([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="no values"):
        compare([], [[1.0]])


def test_flipped_is_the_cost_of_less_memory() -> None:
    c = welch([100.0, 101.0, 99.0], [90.0, 91.0, 89.0]).flipped()
    assert c.delta == pytest.approx(10.0) and c.ci_low < 10 < c.ci_high


def test_runs_that_never_vary_give_no_zero_width_interval() -> None:
    """The finding: 3-s windows gave `+9.73 [+9.73,+9.73]*`, certainty from no evidence."""
    for c in (welch([5.0, 5.0], [14.73, 14.73]), paired([5.0, 5.0], [14.73, 14.73])):
        assert c.delta == pytest.approx(9.73) and not c.significant
        assert math.isnan(c.ci_low) and math.isnan(c.pvalue)
        assert c.method.startswith("no inference (no variation between runs")


def test_tiny_variances_do_not_divide_by_zero() -> None:
    c = welch([0.0, 1.4680052650254525e-95], [0.0, 1.4680052650254525e-95])
    assert c.delta == 0.0 and not c.significant


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=4, max_size=40), st.lists(finite, min_size=4, max_size=40))
def test_significant_exactly_when_the_interval_excludes_zero(
    a: list[float], b: list[float]
) -> None:
    n = min(len(a), len(b))
    for c in (welch(a, b), paired(a[:n], b[:n])):
        if c.ci_low == c.ci_high:
            continue
        excludes = c.ci_low > 0 or c.ci_high < 0
        near_edge = min(abs(c.ci_low), abs(c.ci_high)) < 1e-9 * (1 + abs(c.delta))
        assert near_edge or excludes == c.significant


def _speed_runs(
    rng: np.random.Generator, n: int, effect: float
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Runs whose level follows the machine's speed of the moment (the probe reads it with its
    own noise) plus a little noise of their own; ``effect`` on the contender side."""
    speed = rng.normal(40.0, 4.0, 2 * n)
    probe = speed + rng.normal(0.0, 0.5, 2 * n)
    y = speed + rng.normal(0.0, 0.5, 2 * n)
    y[n:] += effect
    return list(y[:n]), list(y[n:]), list(probe[:n]), list(probe[n:])


def test_ancova_removes_what_the_probe_shares_with_the_run() -> None:
    a, b, xa, xb = _speed_runs(np.random.default_rng(7), 6, 2.0)
    plain = welch(a, b)
    adjusted = ancova(a, b, xa, xb)
    assert adjusted.method == "ancova" and adjusted.significant
    assert adjusted.ci_low <= 2.0 <= adjusted.ci_high
    assert adjusted.half_width < plain.half_width / 3
    assert adjusted.narrowed == pytest.approx(plain.half_width / adjusted.half_width)
    assert abs(adjusted.delta - 2.0) < abs(plain.delta - 2.0) / 4  # the speeds of the sides


def test_ancova_counts_the_slope_in_its_degrees_of_freedom() -> None:
    # 3 runs a side: Welch has up to 4 degrees of freedom, the adjustment 3 (6 runs, 3 fitted)
    a, b, xa, xb = _speed_runs(np.random.default_rng(3), 3, 0.0)
    c = ancova(a, b, xa, xb)
    t3 = float(stats.t.ppf(0.975, 3))
    se = (c.ci_high - c.ci_low) / 2 / t3
    assert c.mde == pytest.approx((t3 + float(stats.t.ppf(0.8, 3))) * se)


def test_paired_ancova_adjusts_each_blocks_difference() -> None:
    a, b, xa, xb = _speed_runs(np.random.default_rng(11), 6, 2.0)
    c = paired_ancova(a, b, xa, xb)
    assert c.method == "paired ancova" and c.ci_low <= 2.0 <= c.ci_high
    assert c.half_width < paired(a, b).half_width


def test_a_covariate_that_does_not_vary_leaves_the_plain_test() -> None:
    a, b = [40.0, 42.0, 41.0], [43.0, 44.0, 42.5]
    assert ancova(a, b, [1.0] * 3, [1.0] * 3) == welch(a, b)
    assert paired_ancova(a, b, [1.0] * 3, [1.0] * 3) == paired(a, b)


def test_an_imbalanced_covariate_is_flagged() -> None:
    a, b = [40.0, 42.0, 41.0], [50.0, 52.0, 51.5]
    c = ancova(a, b, [40.0, 41.5, 41.0], [50.5, 51.0, 52.0])  # the probe moved with the side
    assert c.imbalanced
    assert not ancova(a, b, [40.0, 45.0, 41.0], [41.0, 44.0, 42.0]).imbalanced


def test_one_pooled_slope_adjusts_every_comparison_of_a_group() -> None:
    """Four cells of 3 runs that follow the machine's speed (read by the probe): the slope,
    pooled within cells, is the speed's; each comparison adjusted by it is narrower than
    Welch's and keeps almost all of Welch's degrees of freedom (the slope costs the group
    one of its 7)."""
    rng = np.random.default_rng(5)
    cells, runs = [], []
    for effect in (0.0, 0.0, 1.0, 2.0):
        speed = rng.normal(0.0, 4.0, 3)
        x = list(40.0 + speed + rng.normal(0.0, 0.3, 3))
        y = [[v] for v in 20.0 + effect + speed + rng.normal(0.0, 0.3, 3)]
        cells.append(([r[0] for r in y], x))
        runs.append((y, x))
    slope = pooled_slope(cells)
    assert slope is not None and slope.value == pytest.approx(1.0, abs=0.1)
    assert slope.df == 12 - 4 - 1 and slope.df_scale == pytest.approx(7 / 8)
    (ya, xa), (yb, xb) = runs[0], runs[3]
    c = compare_adjusted(ya, yb, xa, xb, slope)
    plain = compare(ya, yb)
    assert c.method == "welch + covariate" and c.ci_low <= 2.0 <= c.ci_high
    assert c.narrowed == pytest.approx(plain.half_width / c.half_width) and c.narrowed > 3
    m = compare_adjusted(ya, yb, xa, xb, slope, matched=True)
    assert m.method == "paired + covariate" and m.ci_low <= 2.0 <= m.ci_high


def test_no_slope_without_variation_within_cells_or_a_degree_of_freedom() -> None:
    assert pooled_slope([([1.0, 2.0], [3.0, 3.0]), ([1.0, 2.0], [5.0, 5.0])]) is None
    assert pooled_slope([([1.0, 2.0], [3.0, 4.0])]) is None  # 2 runs, 1 cell: nothing left
    assert pooled_slope([([1.0], [3.0]), ([2.0], [4.0])]) is None  # no cell with two runs
    with pytest.raises(ValueError, match="one probe per run"):
        pooled_slope([([1.0, 2.0], [3.0])])


def test_an_adjustment_without_inference_stays_without() -> None:
    slope = pooled_slope([([1.0, 2.0, 4.0], [3.0, 4.0, 6.0]), ([1.0, 2.0, 2.5], [3.0, 4.0, 4.2])])
    assert slope is not None
    one = compare_adjusted([[40.0]], [[43.0], [44.0]], [40.0], [41.0, 43.5], slope)
    assert one.method == "no inference (1 vs 2 runs)"
