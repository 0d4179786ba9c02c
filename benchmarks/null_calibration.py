"""Proven under the null: the analysis code ``tare analyze`` runs (``harness.matrix.plan`` for the
order, ``pipeline.analysis.overheads`` for the statistics, not a copy), on simulated campaigns
with this lab's noise and an agent that costs nothing.

Noise (docs/precision.md): per-second sd 2.7 points of a core with lag-1 correlation 0.7 between
neighbouring seconds, a between-run sd of 1.4 points, a 10 s steady window per run. Campaigns
are quickstart-shaped: baseline and three agent modes at two rates, R repeats, three judged KPIs
with independent noise (24 judged tests a campaign). Printed per design:

- false stars per test before and after Benjamini-Hochberg, and the share of campaigns with
  any star after it (targets: <= 5 % per test, <= 1 % per test after BH);
- 95 % CI coverage of the true overhead, 0 (target 0.93-0.97);
- bias under a linear drift of the machine (the mean overhead found, in between-run sds;
  target < 0.1 sd), for the counterbalanced order and for the order used before (every repeat
  forward);
- a known overhead of 2 points on one mode, recovered (mean and coverage).

    .venv/bin/python benchmarks/null_calibration.py [--campaigns 400] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts.kpis import BY_NAME
from contracts.manifest import BASELINE
from harness.matrix import Design, PlannedRun, plan
from pipeline.analysis import Overhead, RunInfo, overheads

PER_SECOND_SD = 2.7
LAG1 = 0.7
BETWEEN_RUN_SD = 1.4
STEADY_S = 10
# How much of the between-run spread is the machine's speed of the moment, which each run's
# probe (its load on the bare workload before the agent) reads with noise of its own
# (``harness.speed``); the rest is the run's own. Set from a real calibration's runs.
SPEED_SHARE = 0.8
PROBE_SD = 0.5
KPIS = [BY_NAME[k] for k in ("cpu_cgroup", "cpu_workload_core", "cpu_all")]
MODES = [BASELINE, "idle", "visibility", "enforced"]


def design(repeats: int) -> Design:
    return Design(
        factors={"mode": MODES, "rate": [1000, 5000]},
        kind="full",
        crossed=("mode", "rate"),
        reference={},
        repeats=repeats,
        interleave=True,
        baseline_factors=frozenset({"rate"}),
    )


def forward_order(repeats: int) -> list[PlannedRun]:
    """The order the harness used before: every repeat walks every block forward."""
    one = plan(design(1))
    return [
        PlannedRun(len(one) * k + r.seq, r.cell, k + 1, r.baseline_of)
        for k in range(repeats)
        for r in one
    ]


def ar1(rng: np.random.Generator, n: int) -> np.ndarray:
    e = rng.normal(0.0, PER_SECOND_SD * math.sqrt(1 - LAG1**2), n)
    out = np.empty(n)
    out[0] = rng.normal(0.0, PER_SECOND_SD)
    for i in range(1, n):
        out[i] = LAG1 * out[i - 1] + e[i]
    return out


def campaign_frame(
    rng: np.random.Generator,
    runs: Sequence[PlannedRun],
    drift_per_run: float,
    effect: dict[str, float],
    walk_sd: float = 0.0,
) -> tuple[pd.DataFrame, dict[str, tuple[tuple[str, float], ...]]]:
    """The runs' per-second series, and each run's probe. The machine's speed of the moment
    (between-run noise, a linear drift and a random walk of ``walk_sd`` per run) moves the
    probe and the run alike; the agent's effect moves the run only (the probe is taken before
    the agent starts)."""
    frames = []
    probes: dict[str, tuple[tuple[str, float], ...]] = {}
    speed_sd = BETWEEN_RUN_SD * math.sqrt(SPEED_SHARE)
    own_sd = BETWEEN_RUN_SD * math.sqrt(1 - SPEED_SHARE)
    walk = np.cumsum(rng.normal(0.0, walk_sd, len(runs))) if walk_sd else np.zeros(len(runs))
    for position, r in enumerate(runs):
        probe = []
        for kpi in KPIS:
            speed = rng.normal(0.0, speed_sd) + drift_per_run * position + walk[position]
            probe.append((kpi.name, 30.0 + speed + rng.normal(0.0, PROBE_SD)))
            level = 30.0 + speed + rng.normal(0.0, own_sd)
            level += effect.get(r.cell.mode, 0.0) if kpi.name == "cpu_cgroup" else 0.0
            values = level + ar1(rng, STEADY_S)
            frames.append(
                pd.DataFrame(
                    {
                        "run_id": f"r{r.seq}",
                        "kpi": kpi.name,
                        "time": np.arange(STEADY_S),
                        "value": values,
                    }
                )
            )
        probes[f"r{r.seq}"] = tuple(probe)
    return pd.concat(frames, ignore_index=True), probes


def infos(
    runs: Sequence[PlannedRun], probes: dict[str, tuple[tuple[str, float], ...]] | None = None
) -> list[RunInfo]:
    return [
        RunInfo(
            f"r{r.seq}",
            r.cell.levels,
            tuple(c.levels for c in r.baseline_of),
            True,
            r.repeat,
            (probes or {}).get(f"r{r.seq}", ()),
        )
        for r in runs
    ]


@dataclass
class Tally:
    tests: int = 0
    raw_stars: int = 0
    bh_stars: int = 0
    campaigns: int = 0
    campaigns_with_star: int = 0
    covered: int = 0
    with_ci: int = 0
    deltas: list[float] | None = None

    def add(self, found: Sequence[Overhead], truth: dict[str, float]) -> None:
        self.campaigns += 1
        self.deltas = self.deltas or []
        any_star = False
        for o in found:
            c = o.absolute
            if c is None:
                continue
            self.tests += 1
            mode = str(dict(o.cell)["mode"])
            true = truth.get(mode, 0.0) if o.kpi == "cpu_cgroup" else 0.0
            if c.inferred:
                self.with_ci += 1
                self.covered += int(c.ci_low <= true <= c.ci_high)
                self.raw_stars += int(true == 0.0 and c.pvalue < 0.05)
            self.bh_stars += int(true == 0.0 and o.significant)
            any_star = any_star or (true == 0.0 and o.significant)
            self.deltas.append(c.delta - true)
        self.campaigns_with_star += int(any_star)


def simulate(
    rng: np.random.Generator,
    runs: Sequence[PlannedRun],
    n: int,
    drift: float = 0.0,
    effect: dict[str, float] | None = None,
    paired: bool = False,
    covariate: bool = False,
    walk_sd: float = 0.0,
    only: str | None = None,
) -> Tally:
    """``n`` campaigns analysed as ``tare analyze`` would; ``only``: tally one mode's tests."""
    tally = Tally()
    for _ in range(n):
        frame, probes = campaign_frame(rng, runs, drift, effect or {}, walk_sd)
        found, _ = overheads(frame, infos(runs, probes), KPIS, paired, covariate)
        if only is not None:
            found = [o for o in found if dict(o.cell)["mode"] == only]
        tally.add(found, effect or {})
    return tally


def main(argv: Sequence[str] | None = None) -> int:
    global SPEED_SHARE, PROBE_SD
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--speed-share",
        type=float,
        default=SPEED_SHARE,
        help="share of the between-run variance the probe reads (the machine's speed)",
    )
    parser.add_argument("--probe-sd", type=float, default=PROBE_SD)
    args = parser.parse_args(argv)
    SPEED_SHARE, PROBE_SD = args.speed_share, args.probe_sd
    rng = np.random.default_rng(args.seed)
    n = args.campaigns
    t0 = time.perf_counter()
    # the run-to-run sd of a run's mean: between-run noise plus what 10 AR(1) seconds leave
    run_sd = math.sqrt(
        BETWEEN_RUN_SD**2
        + PER_SECOND_SD**2
        / STEADY_S
        * (1 + 2 * sum((1 - k / STEADY_S) * LAG1**k for k in range(1, STEADY_S)))
    )
    print(
        f"null agent, {n} quickstart-shaped campaigns per design (2 rates x baseline + 3 modes,"
        f" 3 judged KPIs); per-second sd {PER_SECOND_SD}, lag-1 {LAG1}, between-run sd "
        f"{BETWEEN_RUN_SD}, {STEADY_S} s steady: a run mean's sd {run_sd:.2f} points; the "
        f"probe reads {SPEED_SHARE:.0%} of the between-run variance, with sd {PROBE_SD}"
    )
    header = (
        f"{'design':<34}{'tests':>7}{'star/test':>11}{'after BH':>10}{'campaigns*':>12}"
        f"{'coverage':>10}{'bias (sd)':>11}"
    )
    print(header)
    drift = 0.05 * run_sd  # per run: 1.2 run sds over a 24-run campaign

    def row(name: str, t: Tally) -> None:
        deltas = np.asarray(t.deltas or [0.0])
        print(
            f"{name:<34}{t.tests:>7}{t.raw_stars / max(t.tests, 1):>11.3f}"
            f"{t.bh_stars / max(t.tests, 1):>10.4f}"
            f"{t.campaigns_with_star / max(t.campaigns, 1):>12.3f}"
            f"{(t.covered / t.with_ci if t.with_ci else float('nan')):>10.3f}"
            f"{deltas.mean() / run_sd:>+11.3f}"
        )

    for repeats in (1, 3, 4):
        row(f"{repeats} repeat(s), Welch", simulate(rng, plan(design(repeats)), n))
    row("3 repeats, paired", simulate(rng, plan(design(3)), n, paired=True))
    row("3 repeats, Welch + covariate", simulate(rng, plan(design(3)), n, covariate=True))
    row("4 repeats, Welch + covariate", simulate(rng, plan(design(4)), n, covariate=True))
    row(
        "3 repeats, paired + covariate",
        simulate(rng, plan(design(3)), n, paired=True, covariate=True),
    )
    print(f"under a linear drift of {drift / run_sd:.2f} run sd per run (enforced's bias shown):")
    for name, runs, kw in (
        ("3 repeats, counterbalanced", plan(design(3)), {}),
        ("4 repeats, counterbalanced", plan(design(4)), {}),
        ("3 repeats, forward (before)", forward_order(3), {}),
        ("3 repeats, covariate", plan(design(3)), {"covariate": True}),
        ("3 repeats, paired + covariate", plan(design(3)), {"covariate": True, "paired": True}),
    ):
        row(name, simulate(rng, runs, n, drift, only="enforced", **kw))
    walk = 0.3 * run_sd
    print(f"under a random walk of {walk / run_sd:.2f} run sd per run (enforced's tests):")
    for name, kw in (
        ("3 repeats, Welch", {}),
        ("3 repeats, paired", {"paired": True}),
        ("3 repeats, Welch + covariate", {"covariate": True}),
        ("3 repeats, paired + covariate", {"covariate": True, "paired": True}),
    ):
        row(name, simulate(rng, plan(design(3)), n, walk_sd=walk, only="enforced", **kw))
    for name, kw in (("Welch", {}), ("Welch + covariate", {"covariate": True})):
        known = simulate(rng, plan(design(3)), n, effect={"enforced": 2.0}, **kw)
        print(
            f"a known +2.00 on enforced's cpu_cgroup, 3 repeats, {name}: bias "
            f"{np.mean(known.deltas or [0.0]):+.3f} points, coverage "
            f"{known.covered / max(known.with_ci, 1):.3f} (all tests)"
        )
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
