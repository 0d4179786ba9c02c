"""``tare collect``: sample once per second, aligned to whole seconds, and push to carbon.

The loop takes its clock, sleep and stop condition as arguments so that it is tested without
waiting; the CLI wires it to real time, a sampler and a ``CarbonSender``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from collectors.sampler import Value

log = logging.getLogger(__name__)


class SamplerLike(Protocol):
    def sample(self) -> list[Value]: ...

    def close(self) -> None: ...


class SinkLike(Protocol):
    def add(self, points: list[tuple[str, float, int]]) -> None: ...

    def flush(self) -> bool: ...


@dataclass
class CollectStats:
    samples: int = 0
    points: int = 0
    skipped_seconds: int = 0
    unsent_flushes: int = 0
    sampled: list[int] = field(default_factory=list)  # the seconds sampled (sent or spooled)


def collect(
    sampler: SamplerLike,
    sink: SinkLike,
    base_path: str,
    *,
    duration_s: float | None,
    interval_s: int = 1,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
    on_first: Callable[[], None] = lambda: None,
) -> CollectStats:
    """Sample at every whole ``interval_s`` second until ``duration_s`` has passed."""
    if interval_s < 1:
        raise ValueError("interval must be a whole number of seconds >= 1")
    stats = CollectStats()
    start = clock()
    tick = math.floor(start) + 1
    end = None if duration_s is None else start + duration_s
    sampler.sample()  # prime the counters: rates need a previous sample
    while not should_stop():
        now = clock()
        if now < tick:
            sleep(tick - now)
            continue
        if end is not None and tick > end:
            break
        values = sampler.sample()
        ts = int(tick)
        points = [(f"{base_path}.{group}.{metric}", value, ts) for group, metric, value in values]
        sink.add(points)
        if not sink.flush():
            stats.unsent_flushes += 1
        stats.samples += 1
        stats.points += len(points)
        stats.sampled.append(ts)
        if stats.samples == 1:
            on_first()
        tick += interval_s
        late = clock() - tick
        if late >= interval_s:  # fell behind (suspended, overloaded): skip, never back-fill
            skipped = int(late // interval_s)
            stats.skipped_seconds += skipped
            log.warning("collector fell %d interval(s) behind; skipping them", skipped)
            tick += skipped * interval_s
    return stats
