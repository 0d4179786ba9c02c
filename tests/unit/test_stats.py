"""The comparison statistics: known overheads recovered, identical samples give nothing,
swapping the sides flips the sign."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.stats import benjamini_hochberg, compare, compare_paired, paired, welch

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
