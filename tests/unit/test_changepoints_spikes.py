"""Spikes in the noise's scale (``alerting.noise.with_spikes``): the nights left out as outliers
still count, capped, in the scale every test judges by."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerting import noise as nz
from alerting.changepoints import detect
from benchmarks import cp_corpus
from tests.unit.test_changepoints_online import SD, white


def heavy(seed: int, n: int) -> np.ndarray:
    """Student-t(3) noise of standard deviation SD around 2."""
    return 2.0 + SD * cp_corpus.noise(np.random.default_rng(seed), "t3", n)


def test_each_spike_adds_its_departure_capped_spread_over_the_nights() -> None:
    base = nz.Noise(2.0, 0.3, 40.0, nz.Evidence(0.28, 45))
    assert nz.with_spikes(base, [], 50) is base
    counted = nz.with_spikes(base, [100.0, -2.0], 50)
    capped = nz.SPIKE_CAP * 2.0
    assert counted.sd == pytest.approx(math.sqrt(4.0 + (capped**2 + 4.0) / 50))
    assert (counted.rho, counted.df, counted.evidence) == (base.rho, base.df, base.evidence)


def test_the_scale_detect_judges_by_counts_the_spikes_it_left_out() -> None:
    y = white(4, 80)
    y[[15, 40, 62]] += np.array([12.0, -9.0, 30.0]) * SD
    found = detect(list(y))
    assert [o.index for o in found.outliers] == [15, 40, 62]
    clean = detect(list(np.delete(y, [15, 40, 62])))
    # each departure is capped at SPIKE_CAP sd of the nights left
    expected = math.sqrt(clean.noise**2 * (1.0 + 3 * nz.SPIKE_CAP**2 / 80))
    assert found.noise == pytest.approx(expected, rel=1e-9)


def test_three_ordinary_nights_of_heavy_tailed_noise_are_no_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Student-t(3) noise: nights 100-102 are among its larger ones, no step. Judged against the
    scale of the nights that are not spikes (0.83 of the true one; 0.90 with them), they passed
    for a step."""
    y = list(heavy(18, 104))
    assert detect(y).changes == ()
    monkeypatch.setattr(nz, "SPIKE_CAP", 0.0)
    assert [c.index for c in detect(y).changes] == [100]


def test_one_broken_night_does_not_blind_the_series() -> None:
    """A measurement gone wrong by 1,000 sd counts as SPIKE_CAP sd: a 4 sd step on the newest
    three nights is still confirmed on its third night (counted whole, the scale would read
    126 sd, and the step would stay pending)."""
    y = white(5, 63)
    y[20] += 1000 * SD
    y[60:] += 4 * SD
    found = detect(list(y))
    assert [o.index for o in found.outliers] == [20]
    assert [c.index for c in found.changes] == [60]
    assert found.noise == pytest.approx(SD, rel=0.1)
