"""`tare changepoints` at and beyond its row limit: time and peak memory, as a user runs it.

Runs the real command (a child process each, so its peak RSS is its own) on:
- a 10-row file (the reference: start-up cost and the interpreter's own memory),
- one column of 1,000, 10,000 and ``MAX_ROWS`` nights with a planted step,
- a 1,000,000-row file, which is refused at line MAX_ROWS + 2 without reading the rest.
Prints seconds, peak RSS and both as ratios to the reference. Target: every case under 30 s,
the 1M-row refusal in bounded memory (about the MAX_ROWS case, not 20x more).

    .venv/bin/python benchmarks/changepoint_limits.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerting.csvinput import MAX_ROWS  # noqa: E402


def write(path: Path, n: int) -> Path:
    rng = np.random.default_rng(7)
    y = rng.normal(100.0, 1.0, n)
    y[int(n * 0.7) :] += 3.0
    with path.open("w") as fh:
        fh.write("night,v\n")
        fh.writelines(f"{i},{v:.4f}\n" for i, v in enumerate(y))
    return path


def measure(path: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS MB, exit code) of one `tare changepoints` child (its own rusage)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tare", "changepoints", str(path), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(10, "reference"), (1_000, ""), (10_000, ""), (MAX_ROWS, "the limit")]
        cases.append((1_000_000, "refused"))
        ref_s = ref_mb = 0.0
        print(f"{'rows':>10} {'seconds':>8} {'x ref':>6} {'peak MB':>8} {'x ref':>6} exit")
        for n, what in cases:
            s, mb, code = measure(write(Path(tmp) / f"h{n}.csv", n))
            if not ref_s:
                ref_s, ref_mb = s, mb
            print(
                f"{n:>10} {s:>8.2f} {s / ref_s:>6.1f} {mb:>8.1f} {mb / ref_mb:>6.2f} {code:>4}"
                + (f"  {what}" if what else "")
            )


if __name__ == "__main__":
    main()
