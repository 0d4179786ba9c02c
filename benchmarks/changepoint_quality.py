"""How well tare's change-point detector does on labelled nightly series, against Apache Otava
and MongoDB's E-Divisive, side by side.

    .venv/bin/python -m benchmarks.changepoint_quality --replay [--scale 1] [--seed 7] [--nightly N]
    .venv/bin/python -m benchmarks.changepoint_quality [--series 600] [--seed 7] [--json]

``--replay`` is how the nightly meets a series: night by night through `tare alert`'s own path,
scored by alerts, per noise family (``benchmarks/cp_corpus.py`` and ``benchmarks/cp_replay.py``
say what is generated and how it is scored). tare is replayed ``--nightly`` series of a family
at a time, as one nightly evaluates the series of one KPI together (3 modes x 4 rates: 12; the
quickstart's 3 x 2: 6) and they pool their correlation; ``--nightly 1`` judges each series
alone. Without ``--replay``, the offline score below.

The corpus (seeded, so every run judges the same series): 60-400 nights each; a third of the
series are step-free, the others hold 1-3 steps of 2-6 standard deviations of the noise (at least
10 nights from either end and 15 apart); Gaussian or Student-t (3 degrees of freedom, scaled to
unit variance) noise; single-night outliers of 5-10 sd in most series; 1-5 % missing nights in
half of them. A detection is right when it lies within 2 nights of a true step (each step
matched once). The references run in their own virtualenvs (created on first use under
``~/.cache/tare/benchmarks``) and are given the series without its missing nights, their indices
mapped back; they are benchmark references, not dependencies of tare.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alerting.changepoints import detect
from alerting.evaluate import Detector, Settings
from benchmarks import cp_corpus, cp_replay

REFERENCES = {
    "otava": "apache-otava==0.8.0",
    "edivisive": "signal-processing-algorithms==2.1.6",
}
TOLERANCE = 2  # nights
NIGHTLY = 12  # replay: series of one KPI a nightly evaluates together (3 modes x 4 rates)
VENVS = Path.home() / ".cache" / "tare" / "benchmarks"


@dataclass(frozen=True, slots=True)
class Case:
    values: tuple[float | None, ...]
    steps: tuple[tuple[int, float], ...]  # (first night at the new level, size in sd)
    outliers: tuple[int, ...]
    noise: str


def _positions(rng: np.random.Generator, n: int, want: int) -> list[int]:
    chosen: list[int] = []
    for _ in range(200):
        if len(chosen) == want:
            break
        p = int(rng.integers(10, n - 10))
        if all(abs(p - c) >= 15 for c in chosen):
            chosen.append(p)
    return sorted(chosen)


def make_case(rng: np.random.Generator, quiet: bool, noise: str) -> Case:
    n = int(rng.integers(60, 401))
    sd = 0.25
    gaussian = noise == "gaussian"
    e = rng.normal(0.0, 1.0, n) if gaussian else rng.standard_t(3, n) / math.sqrt(3.0)
    level = np.full(n, 2.0)
    steps: list[tuple[int, float]] = []
    if not quiet:
        for p in _positions(rng, n, int(rng.integers(1, 4))):
            size = float(rng.uniform(2.0, 6.0)) * (1 if rng.random() < 0.5 else -1)
            level[p:] += size * sd
            steps.append((p, size))
    y = level + sd * e
    outliers: list[int] = []
    if rng.random() < 0.7:
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(1, n - 3))
            if all(abs(i - p) > 3 for p, _s in steps) and all(abs(i - o) > 3 for o in outliers):
                y[i] += sd * float(rng.uniform(5.0, 10.0)) * (1 if rng.random() < 0.5 else -1)
                outliers.append(i)
    values: list[float | None] = [float(v) for v in y]
    if rng.random() < 0.5:
        for i in rng.choice(np.arange(1, n), size=max(1, int(n * rng.uniform(0.01, 0.05)))):
            if int(i) not in outliers:
                values[int(i)] = None
    return Case(tuple(values), tuple(steps), tuple(sorted(outliers)), noise)


def corpus(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    return [
        make_case(rng, quiet=i % 3 == 0, noise="gaussian" if i % 2 == 0 else "t3")
        for i in range(count)
    ]


def timing_cases(seed: int, count: int = 20) -> list[Case]:
    """365-night series with one 4-sd step, for the time per series."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(count):
        y = 2.0 + 0.25 * rng.normal(0.0, 1.0, 365)
        y[200:] += 1.0
        out.append(Case(tuple(float(v) for v in y), ((200, 4.0),), (), "gaussian"))
    return out


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall_3sd: float
    recall: float
    f1: float
    false_alarms_per_1000: float
    outliers_called_changes: int
    outliers: int
    seconds_per_365: float


def score(cases: Sequence[Case], found: Sequence[Sequence[int]], seconds_365: float) -> Score:
    tp = detections = steps = steps3 = hit3 = quiet_nights = quiet_hits = 0
    out_called = out_total = 0
    for case, idx in zip(cases, found, strict=True):
        detections += len(idx)
        unmatched = sorted(idx)
        for p, size in case.steps:
            steps += 1
            steps3 += abs(size) >= 3
            near = [d for d in unmatched if abs(d - p) <= TOLERANCE]
            if near:
                unmatched.remove(min(near, key=lambda d: abs(d - p)))
                tp += 1
                hit3 += abs(size) >= 3
        if not case.steps:
            quiet_nights += len(case.values)
            quiet_hits += len(idx)
        for o in case.outliers:
            out_total += 1
            out_called += any(abs(d - o) <= 1 for d in unmatched)
    precision = tp / detections if detections else 1.0
    recall = tp / steps if steps else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(
        precision,
        hit3 / steps3 if steps3 else 1.0,
        recall,
        f1,
        1000 * quiet_hits / quiet_nights if quiet_nights else 0.0,
        out_called,
        out_total,
        seconds_365,
    )


def run_tare(cases: Sequence[Case]) -> tuple[list[list[int]], list[float]]:
    found: list[list[int]] = []
    seconds: list[float] = []
    for case in cases:
        start = time.perf_counter()
        findings = detect(list(case.values))
        seconds.append(time.perf_counter() - start)
        found.append([c.index for c in findings.changes])
    return found, seconds


def reference_python(name: str) -> Path | None:
    venv = VENVS / name
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == REFERENCES[name]:
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", REFERENCES[name]],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"{name}: could not install {REFERENCES[name]}: {exc}", file=sys.stderr)
        return None
    stamp.write_text(REFERENCES[name])
    return python


def ask_reference(name: str, python: Path, job: dict[str, Any]) -> dict[str, Any] | None:
    """One job for ``cp_reference.py`` in the reference's virtualenv; its answer, or None (said)."""
    worker = Path(__file__).with_name("cp_reference.py")
    out = subprocess.run(
        [str(python), str(worker)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        print(f"{name}: worker failed: {out.stderr.strip()[-400:]}", file=sys.stderr)
        return None
    answer: dict[str, Any] = json.loads(out.stdout)
    return answer


def run_reference(name: str, cases: Sequence[Case]) -> tuple[list[list[int]], list[float]] | None:
    python = reference_python(name)
    if python is None:
        return None
    present = [[i for i, v in enumerate(c.values) if v is not None] for c in cases]
    series = [[c.values[i] for i in p] for c, p in zip(cases, present, strict=True)]
    result = ask_reference(name, python, {"detector": name, "series": series})
    if result is None:
        return None
    mapped = [
        [p[i] for i in idx if 0 <= i < len(p)]
        for p, idx in zip(present, result["indices"], strict=True)
    ]
    return mapped, [float(s) for s in result["seconds"]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["tare", *REFERENCES], action="append")
    parser.add_argument("--replay", action="store_true", help="night by night, scored by alerts")
    parser.add_argument("--scale", type=float, default=1.0, help="replay corpus size, x default")
    parser.add_argument("--family", choices=cp_corpus.FAMILIES, action="append")
    parser.add_argument(
        "--nightly", type=int, default=NIGHTLY, help="replay: series of one KPI in one nightly"
    )
    args = parser.parse_args(argv)
    if args.replay:
        return replay_main(args)
    cases = corpus(args.series, args.seed)
    timed = timing_cases(args.seed)
    n_steps = sum(len(c.steps) for c in cases)
    n_quiet = sum(len(c.values) for c in cases if not c.steps)
    print(
        f"corpus: {len(cases)} series, {sum(len(c.values) for c in cases)} nights, "
        f"{n_steps} steps, {n_quiet} step-free nights, "
        f"{sum(len(c.outliers) for c in cases)} single-night outliers",
        file=sys.stderr,
    )
    scores: dict[str, Score] = {}
    for name in args.only or ["tare", *REFERENCES]:
        if name == "tare":
            found, _ = run_tare(cases)
            _, secs = run_tare(timed)
        else:
            ran = run_reference(name, cases)
            timing = run_reference(name, timed)
            if ran is None or timing is None:
                continue
            found, secs = ran[0], timing[1]
        scores[name] = score(cases, found, float(np.median(secs)))
    if args.json:
        print(json.dumps({k: _asdict(v) for k, v in scores.items()}))
        return 0
    print_table(scores)
    return 0


def _asdict(s: Score) -> dict[str, float | int]:
    return {f: getattr(s, f) for f in Score.__slots__}


def print_table(scores: dict[str, Score]) -> None:
    rows = [
        ("precision", "{:.3f}", lambda s: s.precision),
        ("recall, steps >= 3 sd", "{:.3f}", lambda s: s.recall_3sd),
        ("recall, all steps", "{:.3f}", lambda s: s.recall),
        ("F1", "{:.3f}", lambda s: s.f1),
        ("false alarms / 1000 quiet nights", "{:.2f}", lambda s: s.false_alarms_per_1000),
        ("outliers called changes", "{}", lambda s: f"{s.outliers_called_changes}/{s.outliers}"),
        ("ms per 365-night series", "{:.1f}", lambda s: 1000 * s.seconds_per_365),
    ]
    names = list(scores)
    print(f"{'':34}" + "".join(f"{n:>12}" for n in names))
    for title, fmt, get in rows:
        print(f"{title:34}" + "".join(f"{fmt.format(get(scores[n])):>12}" for n in names))
    if "otava" in scores and "tare" in scores:
        ratio = scores["tare"].seconds_per_365 / scores["otava"].seconds_per_365
        print(f"tare time / otava time: {ratio:.2f}")


REPLAY_COUNTS = {"quiet": 30, "steps": 40, "drift": 12, "short": 24}


def replay_reference(name: str, cases: Sequence[cp_corpus.Case]) -> list[Detector] | None:
    """One detector per case, answering from the reference's run on every prefix."""
    python = reference_python(name)
    if python is None:
        return None
    job = {"detector": name, "series": [c.values for c in cases], "from": cp_replay.FIRST_NIGHTS}
    result = ask_reference(name, python, job)
    if result is None:
        return None
    return [cp_replay.reference_detector(p, cp_replay.FIRST_NIGHTS) for p in result["indices"]]


def replay_main(args: argparse.Namespace) -> int:
    counts = {k: max(1, round(v * args.scale)) for k, v in REPLAY_COUNTS.items()}
    families = tuple(args.family or cp_corpus.FAMILIES)
    cases = cp_corpus.corpus(args.seed, counts, families)
    quiet = sum(len(c.values) for c in cases if not c.steps and c.drift is None)
    print(
        f"replay corpus: {len(cases)} series ({counts} per family), "
        f"{sum(len(c.values) for c in cases)} nights, {quiet} of them quiet, "
        f"{sum(len(c.steps) for c in cases)} steps, {sum(len(c.outliers) for c in cases)} "
        "outliers of 3-5 sd",
        file=sys.stderr,
    )
    settings = Settings()
    scores: dict[str, dict[str, cp_replay.FamilyScore]] = {}
    seconds: dict[str, float] = {}
    for name in args.only or ["tare", *REFERENCES]:
        start = time.perf_counter()
        nightly = 1  # the references judge each series alone: they have no pool
        if name == "tare":
            detectors: list[Detector] | None = [detect for _ in cases]
            nightly = args.nightly
        else:
            detectors = replay_reference(name, cases)
        if detectors is None:
            continue
        replayed = cp_replay.replay(cases, settings, detectors.__getitem__, nightly)
        scores[name] = cp_replay.score(replayed)
        seconds[name] = time.perf_counter() - start
    if args.json:
        out = {n: {f: _family_dict(s) for f, s in by.items()} for n, by in scores.items()}
        print(json.dumps(out))
        return 0
    print_replay(scores, families)
    print("seconds: " + ", ".join(f"{n} {s:.0f}" for n, s in seconds.items()))
    return 0


REPLAY_ROWS: list[tuple[str, Callable[[cp_replay.FamilyScore], str]]] = [
    ("false alerts / 1000 quiet nights", lambda s: f"{s.false_per_1000:.2f}"),
    ("recall, steps >= 3 sd", lambda s: f"{s.recall3:.3f}"),
    ("... alerted or pending in 3 nights", lambda s: f"{s.reported3}/{s.steps3}"),
    ("... in young series (8-29 nights)", lambda s: f"{s.young_hit3}/{s.young3}"),
    ("delay median / p90 (nights)", lambda s: f"{s.delay(50):.0f} / {s.delay(90):.0f}"),
    ("precision (change alerts)", lambda s: f"{s.precision:.3f}"),
    ("F1 (precision, recall of all steps)", lambda s: f"{s.f1:.3f}"),
    ("late alerts (a step, > 3 nights on)", lambda s: f"{s.late_alerts}"),
    ("start steps confirmed in 3 nights", lambda s: f"{s.start_confirmed}/{s.start_steps}"),
    ("... reported (pending or confirmed)", lambda s: f"{s.start_reported}/{s.start_steps}"),
    ("newest-night steps reported", lambda s: f"{s.newest_reported}/{s.newest}"),
    ("... dated on their first night", lambda s: f"{s.newest_dated}/{s.newest}"),
    ("drifts reported as drift", lambda s: f"{s.drifts_found}/{s.drifts}"),
    ("change alerts on drift series", lambda s: f"{s.drift_change_alerts}"),
    ("drift alerts elsewhere", lambda s: f"{s.false_drifts}"),
]


def _family_dict(s: cp_replay.FamilyScore) -> dict[str, float | int]:
    return {
        "false_per_1000": s.false_per_1000,
        "recall3": s.recall3,
        "reported_recall3": s.reported_recall3,
        "young_recall3": s.young_recall3,
        "delay_median": s.delay(50),
        "delay_p90": s.delay(90),
        "precision": s.precision,
        "f1": s.f1,
        "quiet_nights": s.quiet_nights,
        "newest": s.newest,
        "newest_reported": s.newest_reported,
        "newest_dated": s.newest_dated,
        "drifts": s.drifts,
        "drifts_found": s.drifts_found,
        "drift_change_alerts": s.drift_change_alerts,
        "false_drifts": s.false_drifts,
    }


def print_replay(
    scores: dict[str, dict[str, cp_replay.FamilyScore]], families: Sequence[str]
) -> None:
    names = list(scores)
    for family in families:
        print(f"\n{family:36}" + "".join(f"{n:>13}" for n in names))
        for title, get in REPLAY_ROWS:
            cells = [get(scores[n][family]) if family in scores[n] else "-" for n in names]
            print(f"  {title:34}" + "".join(f"{c:>13}" for c in cells))


if __name__ == "__main__":
    sys.exit(main())
