"""The frontier benchmark's scoring: alerts merged as the store merges them, a monotone frontier."""

from __future__ import annotations

import itertools

import numpy as np

from benchmarks import changepoint_frontier as frontier


def test_alerts_dated_within_two_nights_are_one_alert() -> None:
    p = np.ones((40, len(frontier.SPLITS)))
    p[31, 0] = 1e-6  # dated 29 (3-night split)
    p[32, 1] = 1e-6  # dated 29 again (4-night split, a night later): the same alert
    p[33, 0] = 1e-6  # dated 31: within 2 nights of 29, the same alert
    p[39, 1] = 1e-6  # dated 36: a new one
    assert frontier.false_alerts(p, 1e-3) == 2
    assert frontier.false_alerts(p, 1e-7) == 0


def test_a_looser_limit_buys_recall_with_false_alerts() -> None:
    points = frontier.frontier("ar0.5", frontier.oracle("ar0.5"), quiet=4, steps=60, seed=3)
    assert [p.limit for p in points] == sorted(p.limit for p in points)
    assert all(a.recall <= b.recall for a, b in itertools.pairwise(points))
    assert all(a.false_per_1000 <= b.false_per_1000 for a, b in itertools.pairwise(points))
    assert points[-1].recall > 0.9  # 3-6 sd steps, known noise: nearly all found


def test_the_oracle_finds_more_than_the_measured_noise_at_the_same_limit() -> None:
    known = frontier.frontier("ar0.5", frontier.oracle("ar0.5"), quiet=1, steps=200, seed=5)
    measured = frontier.frontier("ar0.5", frontier.measured, quiet=1, steps=200, seed=5)
    assert sum(p.recall for p in known) > sum(p.recall for p in measured)
