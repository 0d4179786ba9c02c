"""Worker run inside a reference detector's own virtualenv (its numpy pins are not ours).

stdin: {"detector": "otava"|"edivisive", "series": [[float, ...], ...]} (no missing values),
and optionally "from": K (replay: each series' prefixes of K nights and more, one by one)
stdout: {"indices": [[int, ...], ...], "seconds": [float, ...]}: the index where each new level
starts, and the time each series took; in replay, "indices" holds a list per prefix. Standard
library + the reference package only.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable


def _otava() -> Callable[[list[float]], list[int]]:
    from otava.analysis import compute_change_points  # type: ignore[import-not-found]

    def run(series: list[float]) -> list[int]:
        found, _weak = compute_change_points(series)  # the defaults: window 50, p 0.001
        return sorted(int(c.index) for c in found)

    return run


def _edivisive() -> Callable[[list[float]], list[int]]:
    from signal_processing_algorithms.energy_statistics.energy_statistics import (  # type: ignore[import-not-found]
        e_divisive,
    )

    def run(series: list[float]) -> list[int]:
        return sorted(int(i) for i in e_divisive(series))  # defaults: p 0.05, 100 permutations

    return run


def _quiet(run: Callable[[list[float]], list[int]], series: list[float]) -> list[int]:
    """A reference that cannot judge so short a history finds nothing in it."""
    try:
        return run(series)
    except Exception:  # a reference's own limits, not ours to fix
        return []


def main() -> None:
    job = json.load(sys.stdin)
    run = {"otava": _otava, "edivisive": _edivisive}[job["detector"]]()
    first = job.get("from")
    indices: list[object] = []
    seconds: list[float] = []
    for series in job["series"]:
        start = time.perf_counter()
        if first is None:
            indices.append(run(series))
        else:
            indices.append([_quiet(run, series[:k]) for k in range(first, len(series) + 1)])
        seconds.append(time.perf_counter() - start)
    json.dump({"indices": indices, "seconds": seconds}, sys.stdout)


if __name__ == "__main__":
    main()
