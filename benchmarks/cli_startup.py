"""What starting the command costs: ``tare --help`` and ``tare validate`` on the quick start's
campaign against a bare ``python -c pass`` in the same venv, timed in the same process (the
median of N runs each). Every verb imports what it uses when it runs: help and validate load no
pandas, scipy or change-point code.

    .venv/bin/python -m benchmarks.cli_startup [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def median_s(argv: Sequence[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    bare = median_s([sys.executable, "-c", "pass"], args.runs)
    print(f"python -c pass: {bare * 1000:.0f} ms (the reference)")
    for name, cmd in (
        ("tare --help", [str(BIN / "tare"), "--help"]),
        ("tare validate", [str(BIN / "tare"), "validate", str(ROOT / "examples/quickstart.toml")]),
    ):
        took = median_s(cmd, args.runs)
        print(f"{name}: {took * 1000:.0f} ms, {took / bare:.1f}x python -c pass")


if __name__ == "__main__":
    main()
