"""Covariate adjustment, Holm's correction and the calibration verdicts, on planted values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.precision import adjusted, compare_runs, holm, judge, judge_aa
from pipeline.stats import welch


def test_the_covariate_removes_shared_noise_and_keeps_the_effect() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(30.0, 3.0, 16)  # the load core's busy time: the machine's mood per run
    y = 20.0 + 0.8 * (x - 30.0) + rng.normal(0, 0.2, 16)
    y[8:] += 1.0  # a 1-point overhead on the last 8 runs
    raw = welch(list(y[:8]), list(y[8:]))
    a, b, theta = adjusted(list(y[:8]), list(x[:8]), list(y[8:]), list(x[8:]))
    adj = welch(a, b)
    assert theta == pytest.approx(0.8, abs=0.1)
    assert adj.delta == pytest.approx(1.0, abs=0.3)
    assert adj.ci_high - adj.ci_low < (raw.ci_high - raw.ci_low) / 3
    runs_a = [[v] * 5 for v in y[:8]]
    runs_b = [[v] * 5 for v in y[8:]]
    via = compare_runs(runs_a, runs_b, (list(x[:8]), list(x[8:])))
    assert via.delta == pytest.approx(adj.delta)
    assert via.method == "welch+covariate"


def test_a_covariate_the_contender_moves_is_not_used() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(30.0, 1.0, 16)
    x[8:] += 5.0  # the contender itself changes the covariate
    y = 20.0 + 0.8 * (x - 30.0) + rng.normal(0, 0.2, 16)
    runs_a = [[v] * 5 for v in y[:8]]
    runs_b = [[v] * 5 for v in y[8:]]
    comp = compare_runs(runs_a, runs_b, (list(x[:8]), list(x[8:])))
    assert comp.method == "welch (covariate unbalanced)"
    assert comp.delta == pytest.approx(float(np.mean(y[8:]) - np.mean(y[:8])))


def test_no_covariate_variance_means_no_adjustment() -> None:
    a, b, theta = adjusted([1.0, 2.0], [5.0, 5.0], [3.0, 4.0], [5.0, 5.0])
    assert (a, b, theta) == ([1.0, 2.0], [3.0, 4.0], 0.0)


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8))
def test_holm_rejects_no_more_than_unadjusted_tests(ps: list[float]) -> None:
    flags = holm(ps)
    assert all(p < 0.05 for p, f in zip(ps, flags, strict=True) if f)
    if min(ps) > 0.05 / len(ps):
        assert not any(flags)


def test_holm_steps_down() -> None:
    assert holm([0.001, 0.02, 0.04]) == [True, True, True]
    assert holm([0.001, 0.03, 0.04]) == [True, False, False]


def test_verdicts_name_the_kpi_and_why() -> None:
    ok = judge("cpu_cgroup", 5.0, welch([10, 10.5, 9.5, 10], [15, 15.5, 14.5, 15.2]), 2.0, "pp")
    assert ok.ok and ok.inside and ok.narrow
    wide = judge("cpu_cgroup", 5.0, welch([8, 12, 6, 14], [13, 17, 11, 19]), 2.0, "pp")
    assert not wide.ok and wide.problems[0].startswith("too noisy: CI +-")
    biased = judge("mem_cgroup", 64.0, welch([100.0, 100.1, 99.9], [170.0, 170.1, 169.9]), 5, "MB")
    assert biased.problems == ("biased: injected 64 MB is below the CI [69.77, 70.23]",)
    aa = judge_aa(
        ["a", "b"], [welch([1, 2, 3], [1.1, 2.1, 2.9]), welch([1, 1.1, 0.9], [5, 5.1, 4.9])]
    )
    assert aa[0].ok and not aa[1].ok and "A/A difference significant" in aa[1].problems[0]


def test_a_resolution_allows_a_known_accounting_slack_and_says_so() -> None:
    comp = welch([100.0, 100.2, 99.8, 100.1], [164.5, 164.7, 164.3, 164.6])
    strict = judge("mem_cgroup", 64.0, comp, 5.0, "MB")
    assert not strict.ok and not strict.inside
    slack = judge("mem_cgroup", 64.0, comp, 5.0, "MB", resolution=1.0)
    assert slack.ok and slack.inside is False  # reported as outside, judged within resolution
    far = judge("mem_cgroup", 62.0, comp, 5.0, "MB", resolution=1.0)
    assert far.problems[0].endswith("by more than its resolution 1 MB")
