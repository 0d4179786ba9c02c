"""The nightly's shared memory of yesterday: the series of one metric pool what they measured of
their lag-1 correlation, and each is judged with at least the others' (seeded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alerting import noise as nz
from alerting.changepoints import Settings, detect, evidence
from alerting.evaluate import evaluate
from benchmarks import cp_replay
from tests.conftest import run_tare
from tests.unit.test_changepoints_online import ar1, quiet_case


def test_the_pool_weighs_each_series_by_its_pairs_and_needs_enough_of_them() -> None:
    assert nz.pooled([nz.Evidence(0.5, 200), nz.Evidence(0.2, 100)]) == pytest.approx(0.4)
    assert nz.pooled([nz.Evidence(0.5, 1000)]) == 0.0  # one series is no pool
    assert nz.pooled([nz.Evidence(0.5, 40), nz.Evidence(0.5, 40)]) == 0.0  # too few pairs
    assert nz.pooled([nz.Evidence(-0.2, 200), nz.Evidence(0.1, 200)]) == 0.0
    assert nz.pooled([nz.Evidence(0.95, 200), nz.Evidence(0.9, 200)]) == nz.MAX_RHO


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_series_of_one_metric_pool_their_true_correlation(rho: float) -> None:
    """Each series' evidence is its correlation as measured, not limited at 0: independent
    series pool near 0, not at the average of their estimates clipped to [0, 0.8]."""
    found = [evidence(list(ar1(10 + s, 100, rho))) for s in range(12)]
    assert all(e is not None and e.pairs > 90 for e in found)
    assert nz.pooled(e for e in found if e is not None) == pytest.approx(rho, abs=0.08)


def test_a_floor_raises_the_correlation_and_never_lowers_it() -> None:
    y = ar1(3, 120, 0.5) - 2.0
    own = nz.around(y, [])
    assert nz.around(y, [], 0.1).rho == own.rho  # below the series' own: no change
    raised = nz.around(y, [], 0.7)
    assert raised.rho == 0.7 and raised.df < own.df  # fewer independent nights: more wary
    assert raised.evidence == own.evidence  # what the series measured is its own


def test_a_young_series_is_judged_with_the_memory_its_nightly_shares() -> None:
    """36 quiet nights of lag-1 0.5 read as 0.25 alone, and a wander on night 23 as a change
    (p 3e-6); with five long siblings of the same KPI in the nightly it is no change."""
    young = list(ar1(642, 36, 0.5))
    assert [c.index for c in detect(young).changes] == [23]
    assert detect(young, Settings(rho_floor=0.5)).changes == ()
    nights = cp_replay.nights(120)
    rows = cp_replay.frame_of(quiet_case(np.array(young), "y"), 0)
    rows["night"] = nights[-36:]
    alone = evaluate(rows)
    assert [(a.cell, a.night) for a in alone.alerts] == [("enforced.rate_0", nights[-36 + 23])]
    siblings = [
        cp_replay.frame_of(quiet_case(ar1(700 + k, 120, 0.5), f"s{k}"), k) for k in range(1, 6)
    ]
    together = evaluate(pd.concat([rows, *siblings], ignore_index=True))
    assert [a for a in together.alerts if a.cell == "enforced.rate_0"] == []


def test_a_series_repeated_in_several_paths_is_no_pool() -> None:
    """The baseline is the same series in every mode's path: copies of one series must not pool
    with themselves (their floor would be their own correlation, read as known)."""
    young = list(ar1(642, 36, 0.5))
    copies = [cp_replay.frame_of(quiet_case(np.array(young), f"c{k}"), k) for k in range(4)]
    ev = evaluate(pd.concat(copies, ignore_index=True))
    assert len(ev.alerts) == 4  # each copy alone, as one series alone alerts


def test_nightlies_take_every_case_once_and_mix_the_kinds() -> None:
    groups = cp_replay.nightlies(30, 12)
    assert sorted(i for g in groups for i in g) == list(range(30))
    assert [len(g) for g in groups] == [10, 10, 10]
    assert groups[0] == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
    assert cp_replay.nightlies(5, 1) == [[0], [1], [2], [3], [4]]


def test_tare_changepoints_pools_a_files_columns_when_told(tmp_path: Path) -> None:
    """`tare changepoints --pool` judges a file's columns as `tare alert` judges a nightly's
    series of one KPI; without it, each column alone."""
    young = ar1(642, 36, 0.5)
    siblings = [ar1(700 + k, 120, 0.5) for k in range(1, 6)]
    rows = ["night,young," + ",".join(f"s{k}" for k in range(1, 6))]
    for i, night in enumerate(cp_replay.nights(120)):
        first = "" if i < 84 else f"{young[i - 84]:.6f}"
        rows.append(",".join([night, first, *(f"{s[i]:.6f}" for s in siblings)]))
    path = tmp_path / "nightly.csv"
    path.write_text("\n".join(rows) + "\n")
    alone = json.loads(run_tare("changepoints", str(path), "--json").out)["series"]
    pooled = run_tare("changepoints", str(path), "--pool", "--json")
    assert pooled.code == 0, pooled.err
    together = json.loads(pooled.out)["series"]
    assert [c["index"] for c in alone[0]["change_points"]] == [84 + 23]
    assert together[0]["change_points"] == []
    assert together[0]["noise"]["lag1"] > alone[0]["noise"]["lag1"]
