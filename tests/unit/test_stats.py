"""The comparison statistics: known overheads recovered, identical samples give nothing,
swapping the sides flips the sign."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.stats import block_bootstrap, compare, welch

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=2, max_size=30)


@given(samples)
def test_identical_samples_give_zero_overhead_not_significant(values: list[float]) -> None:
    c = welch(values, values)
    assert c.delta == pytest.approx(0.0, abs=1e-6 * (1 + max(map(abs, values))))
    assert not c.significant
    assert c.ci_low <= 1e-6 * (1 + max(map(abs, values))) and c.ci_high >= -1e-6 * (
        1 + max(map(abs, values))
    )


@given(samples, samples)
def test_swapping_flips_the_sign(a: list[float], b: list[float]) -> None:
    ab, ba = welch(a, b), welch(b, a)
    scale = 1e-6 * (1 + max(map(abs, a + b)))
    assert ab.delta == pytest.approx(-ba.delta, abs=scale)
    assert ab.ci_low == pytest.approx(-ba.ci_high, abs=scale)
    assert ab.pvalue == pytest.approx(ba.pvalue, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(finite, min_size=4, max_size=40), st.lists(finite, min_size=4, max_size=40))
def test_bootstrap_swapping_flips_the_sign(a: list[float], b: list[float]) -> None:
    ab, ba = block_bootstrap(a, b), block_bootstrap(b, a)
    scale = 1e-6 * (1 + max(map(abs, a + b)))
    assert ab.delta == pytest.approx(-ba.delta, abs=scale)
    assert ab.pvalue == pytest.approx(ba.pvalue, rel=1e-6, abs=1e-9)


def test_known_overhead_is_recovered_with_its_interval() -> None:
    rng = np.random.default_rng(1)
    base = [list(20 + rng.normal(0, 1.0, 30)) for _ in range(6)]
    cont = [list(25 + rng.normal(0, 1.0, 30)) for _ in range(6)]
    c = compare(base, cont)
    assert c.method == "welch" and (c.n_baseline, c.n_contender) == (6, 6)
    assert c.ci_low < 5 < c.ci_high
    assert c.significant
    assert 0 < c.mde < 2


def test_one_run_per_side_falls_back_to_block_bootstrap() -> None:
    rng = np.random.default_rng(2)
    c = compare([list(10 + rng.normal(0, 1, 60))], [list(13 + rng.normal(0, 1, 60))])
    assert c.method == "block-bootstrap"
    assert c.ci_low < 3 < c.ci_high and c.significant
    assert compare([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]]).delta == 0.0


def test_deterministic_and_degenerate_cases() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 6.0]
    assert block_bootstrap(a, b) == block_bootstrap(a, b)
    same = welch([5.0, 5.0], [5.0, 5.0])
    assert (same.delta, same.pvalue, same.mde) == (0.0, 1.0, 0.0)
    exact = welch([5.0, 5.0], [7.0, 7.0])
    assert exact.delta == 2.0 and exact.pvalue == 0.0
    with pytest.raises(ValueError, match="two values"):
        welch([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="no values"):
        compare([], [[1.0]])


def test_flipped_is_the_cost_of_less_memory() -> None:
    c = welch([100.0, 101.0, 99.0], [90.0, 91.0, 89.0]).flipped()
    assert c.delta == pytest.approx(10.0) and c.ci_low < 10 < c.ci_high


def test_tiny_variances_do_not_divide_by_zero() -> None:
    c = welch([0.0, 1.4680052650254525e-95], [0.0, 1.4680052650254525e-95])
    assert c.delta == 0.0 and not c.significant


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=4, max_size=40), st.lists(finite, min_size=4, max_size=40))
def test_significant_exactly_when_the_interval_excludes_zero(
    a: list[float], b: list[float]
) -> None:
    for c in (welch(a, b), block_bootstrap(a, b)):
        if c.ci_low == c.ci_high:
            continue
        excludes = c.ci_low > 0 or c.ci_high < 0
        near_edge = min(abs(c.ci_low), abs(c.ci_high)) < 1e-9 * (1 + abs(c.delta))
        assert near_edge or excludes == c.significant
