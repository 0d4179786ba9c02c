"""What one ``tare alert`` evaluation costs: a nightly of 96 series (2 campaigns x 4 KPIs x
3 modes x 4 rates), a year of nights each (lag-1 0.3 noise, a step in every third series),
through ``alerting.evaluate``. Timed with the pooled correlation (each series' floor from the
other 11 of its KPI and campaign) and, as the reference in the same process, with every series
judged alone.

    .venv/bin/python -m benchmarks.evaluate_speed [--nights 365] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from unittest import mock

import numpy as np
import pandas as pd

from alerting import changepoints
from alerting.evaluate import evaluate
from benchmarks import cp_corpus, cp_replay

KPIS = ("cpu_cgroup", "cpu_workload_core", "mem_cgroup", "conn_rate")
MODES = ("idle", "visibility", "enforced")
RATES = (1000, 5000, 10000, 15000)


def nightly(nights: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for campaign in ("night_a", "night_b"):
        for kpi in KPIS:
            for mode in MODES:
                for rate in RATES:
                    y = 2.0 + 0.25 * cp_corpus.noise(rng, "ar0.3", nights)
                    stepped = len(frames) % 3 == 0
                    if stepped:
                        y[int(rng.integers(30, nights - 5)) :] += 1.0
                    kind = "steps" if stepped else "quiet"
                    case = cp_corpus.Case(f"{campaign}.{kpi}", "ar0.3", kind, tuple(y))
                    frames.append(
                        cp_replay.frame_of(case, rate, campaign=campaign, mode=mode, kpi=kpi)
                    )
    return pd.concat(frames, ignore_index=True)


def timed(frame: pd.DataFrame, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        evaluate(frame)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    frame = nightly(args.nights)
    series = frame["series"].nunique()
    pooled = timed(frame, args.repeat)
    with mock.patch.object(changepoints, "floors", lambda xs, _s=None: [0.0] * len(xs)):
        alone = timed(frame, args.repeat)
    print(f"{series} series x {args.nights} nights, best of {args.repeat}:")
    print(f"  pooled correlation  {pooled:6.2f} s  ({1000 * pooled / series:.1f} ms a series)")
    print(f"  each series alone   {alone:6.2f} s  ({1000 * alone / series:.1f} ms a series)")
    print(f"  ratio pooled / alone: {pooled / alone:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
