"""What an adaptive night costs: simulated nights of the published lab's matrix (baseline and
three modes x 1K/5K/10K/15K new connections/s, policy size varied alone at 10K/s; the cells of
``examples/nightly.toml`` as ``harness.matrix`` plans them) with the between-run noise ``tare
calibrate`` measured on this machine, per rate and judged KPI (``<state>/noise/``).

Each simulated night runs the adaptive rule as ``tare nightly`` does (``pipeline.adaptive``: a
look after every second round from ``min_repeats``, Welch CIs from ``pipeline.stats``, every
judged KPI against its ``target_ci``) and, beside it, fixed designs of n repeats. Printed:

- the adaptive night's wall time (mean, median, 90th percentile), the share of nights with a
  cell ``too noisy tonight``, and the 95 % CI coverage at the stop (early stopping on the
  interval's width may cost coverage; nominal 0.95);
- the fixed design that reaches the same precision in 90 % of nights, its wall time, and the
  ratio (the issue's target: the adaptive night in a third of the time, <= 2 h expected);
- the fixed design the campaign file asks for (its repeats), and how often it reaches the target.

Contenders are given the baselines' noise (the A/A sd); an agent that adds noise of its own
needs more rounds (``--contender-sd x`` scales it).

    .venv/bin/python benchmarks/nightly_budget.py [--state-dir var] [--nights 400] [--run-s 30]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import noise as noise_store
from contracts.durations import fmt_duration
from harness import matrix
from pipeline.adaptive import looks_at, targets
from pipeline.stats import NO_VARIATION, welch
from tare.config import Campaign, load_campaign
from tare.run import design, run_seconds

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Block:
    rate: int
    contenders: int
    round_s: float  # wall time of one round of the block
    sd: Mapping[str, float]  # judged KPI -> between-run sd (its overhead's unit)
    noise_rate: int  # the calibrated rate whose noise stands in for this block's


def blocks_of(
    campaign: Campaign, d: matrix.Design, run_s: int, records: Sequence[noise_store.Noise]
) -> list[Block]:
    out = []
    for base, contenders in matrix.blocks(d):
        round_s = run_seconds(campaign, matrix.rounds(d, 1, 1, [base]))
        same = [n for n in records if n.run_s == run_s] or list(records)
        nearest = min(same, key=lambda n: abs(n.rate - base.rate))
        out.append(Block(base.rate, len(contenders), round_s, dict(nearest.sd), nearest.rate))
    return out


def within(
    base: np.ndarray, cont: np.ndarray, goal: Mapping[str, float], kpis: Sequence[str]
) -> tuple[bool, int, int]:
    """(every CI within its target, CIs holding the true difference 0, CIs); arrays are
    [rounds, contender, kpi] (baseline: [rounds, kpi])."""
    ok, covered, total = True, 0, 0
    for c in range(cont.shape[1]):
        for j, kpi in enumerate(kpis):
            comp = welch(base[:, j].tolist(), cont[:, c, j].tolist())
            if comp.method.startswith(NO_VARIATION):  # as the rule: nothing to narrow
                continue
            half = (comp.ci_high - comp.ci_low) / 2
            ok = ok and math.isfinite(half) and half <= goal[kpi]
            covered += comp.ci_low <= 0 <= comp.ci_high
            total += 1
    return ok, covered, total


def night(
    rng: np.random.Generator,
    blocks: Sequence[Block],
    goal: Mapping[str, float],
    lo: int,
    hi: int,
    fixed: Sequence[int],
    contender_sd: float,
) -> tuple[float, bool, float, dict[int, bool], list[tuple[int, bool]]]:
    """(adaptive wall s, any cell too noisy, share of the CIs at the stop that hold the true
    difference, per fixed n whether every CI of the night was within target, and per block
    (rounds, too noisy))."""
    wall, noisy, covered, total = 0.0, False, 0, 0
    per_block = []
    fixed_ok = dict.fromkeys(fixed, True)
    for b in blocks:
        kpis = [k for k in b.sd if k in goal]
        sd = np.array([b.sd[k] for k in kpis])
        n_max = max(hi, *fixed)
        base = rng.normal(0, 1, (n_max, len(kpis))) * sd
        cont = rng.normal(0, 1, (n_max, b.contenders, len(kpis))) * sd * contender_sd
        stop, ok, cov, cis = hi, False, 0, 0
        for n in range(lo, hi + 1):
            if not looks_at(n, lo) and n < hi:
                continue
            ok, cov, cis = within(base[:n], cont[:n], goal, kpis)
            if ok:
                stop = n
                break
        wall += stop * b.round_s
        per_block.append((stop, not ok))
        noisy = noisy or not ok
        covered, total = covered + cov, total + cis
        for n in fixed:
            fixed_ok[n] = fixed_ok[n] and within(base[:n], cont[:n], goal, kpis)[0]
    return wall, noisy, covered / max(total, 1), fixed_ok, per_block


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=ROOT / "examples" / "nightly.toml")
    ap.add_argument("--state-dir", type=Path, default=ROOT / "var")
    ap.add_argument("--nights", type=int, default=400)
    ap.add_argument("--run-s", type=int, help="run length [the calibrated one]")
    ap.add_argument("--min-repeats", type=int, default=4)
    ap.add_argument("--max-repeats", type=int, default=12)
    ap.add_argument("--contender-sd", type=float, default=1.0)
    ap.add_argument(
        "--sd-scale", type=float, default=1.0, help="every measured sd times this (a quieter night)"
    )
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    records = [
        replace(n, sd={k: v * args.sd_scale for k, v in n.sd.items()})
        for n in noise_store.load_all(args.state_dir)
    ]
    if not records:
        sys.exit(f"no noise measured in {args.state_dir}/noise: run `tare calibrate --rate R`")
    run_s = args.run_s or records[0].run_s
    written = load_campaign(args.config)
    spec = written.spec
    load = spec.load.model_copy(update={"duration_s": run_s})
    campaign = Campaign(written.path, spec.model_copy(update={"load": load}))
    d = replace(design(campaign), interleave=True)
    goal = targets(spec.design.target_ci)
    blocks = blocks_of(campaign, d, run_s, records)
    print(
        f"matrix of {args.config.name}: {len(matrix.contender_cells(d))} contender cells in "
        f"{len(blocks)} blocks; {run_s} s runs; targets "
        + ", ".join(f"{k} +-{v:g}" for k, v in goal.items())
    )
    print("noise (between-run sd, tare calibrate):")
    for n in records:
        print(
            f"  {n.rate:>6}/s, {n.run_s} s runs, {n.runs} runs: "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(n.sd.items()) if k in goal)
        )
    for b in blocks:
        if b.noise_rate != b.rate:
            print(f"  the {b.rate}/s block takes the noise measured at {b.noise_rate}/s")
    simulate(args, blocks, goal, spec.design.repeats)
    fixed_design = replace(design(written), repeats=spec.design.repeats, interleave=True)
    published = run_seconds(written, matrix.plan(fixed_design))
    print(
        f"the fixed design as written ({spec.design.repeats} repeats of "
        f"{spec.load.duration_s} s): {fmt_duration(published)}; "
        f"{len(blocks)} baselines and {sum(b.contenders for b in blocks)} contenders a round"
    )


def simulate(
    args: argparse.Namespace, blocks: Sequence[Block], goal: Mapping[str, float], repeats: int
) -> None:
    lo, hi = args.min_repeats, args.max_repeats
    fixed = sorted({repeats, *range(2, hi + 1)})
    rng = np.random.default_rng(args.seed)
    results = [
        night(rng, blocks, goal, lo, hi, fixed, args.contender_sd) for _ in range(args.nights)
    ]
    walls = np.array([r[0] for r in results])
    noisy = np.mean([r[1] for r in results])
    cover = np.mean([r[2] for r in results])
    one_round = sum(b.round_s for b in blocks)
    print(
        f"\nadaptive ({lo} to {hi} rounds, {args.nights} nights): mean "
        f"{fmt_duration(float(walls.mean()))}, median {fmt_duration(float(np.median(walls)))}, "
        f"p90 {fmt_duration(float(np.quantile(walls, 0.9)))}; a cell too noisy in "
        f"{noisy:.1%} of nights; the 95 % CIs at the stop hold the truth in {cover:.1%}"
    )
    for i, b in enumerate(blocks):
        stops = [r[4][i][0] for r in results]
        print(
            f"  {b.rate:>6}/s block: {np.mean(stops):.1f} rounds on average, too noisy in "
            f"{np.mean([r[4][i][1] for r in results]):.0%} of nights"
        )
    reached = {n: float(np.mean([r[3][n] for r in results])) for n in fixed}
    enough = next((n for n in fixed if reached[n] >= 0.9), None)
    for n in fixed:
        mark = "  <- the same precision in 90 % of nights" if n == enough else ""
        mark += "  <- the campaign's repeats" if n == repeats else ""
        print(
            f"  fixed {n:>2} repeats: {fmt_duration(n * one_round):>9}, every CI within "
            f"target in {reached[n]:6.1%} of nights{mark}"
        )
    if enough is not None:
        ratio = walls.mean() / (enough * one_round)
        print(
            f"adaptive / fixed at the same precision: {ratio:.2f} "
            f"({fmt_duration(float(walls.mean()))} vs {fmt_duration(enough * one_round)})"
        )
    else:
        print(f"no fixed design up to {hi} repeats reaches the target in 90 % of nights")


if __name__ == "__main__":
    main()
