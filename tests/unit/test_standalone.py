"""The collection loop with a fake clock: whole seconds, no back-filling, stops on time."""

from __future__ import annotations

import pytest

from collectors.standalone import collect
from contracts.labels import label
from contracts.paths import Source, run_base


class FakeTime:
    def __init__(self, start: float) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class Sampler:
    def __init__(self, time: FakeTime, cost: float = 0.01, stall_at: int | None = None) -> None:
        self.time = time
        self.cost = cost
        self.calls = 0
        self.stall_at = stall_at

    def sample(self) -> list[tuple[str, str, float]]:
        self.calls += 1
        self.time.t += self.cost
        if self.stall_at is not None and self.calls == self.stall_at:
            self.time.t += 3.5
        return [("memory", "available_bytes", 1.0)]

    def close(self) -> None:
        return None


class Sink:
    def __init__(self) -> None:
        self.points: list[tuple[str, float, int]] = []

    def add(self, points: list[tuple[str, float, int]]) -> None:
        self.points.extend(points)

    def flush(self) -> bool:
        return True


def test_samples_at_whole_seconds_for_the_duration() -> None:
    t = FakeTime(1000.4)
    sink = Sink()
    stats = collect(
        Sampler(t), sink, "tare.runs.r.h.tare", duration_s=5, clock=t.clock, sleep=t.sleep
    )
    stamps = [ts for _, _, ts in sink.points]
    assert stamps == [1001, 1002, 1003, 1004, 1005]
    assert stats.samples == 5
    assert sink.points[0][0] == "tare.runs.r.h.tare.memory.available_bytes"


def test_falls_behind_skips_and_never_backfills() -> None:
    t = FakeTime(2000.0)
    sink = Sink()
    stats = collect(Sampler(t, stall_at=4), sink, "b", duration_s=10, clock=t.clock, sleep=t.sleep)
    stamps = [ts for _, _, ts in sink.points]
    assert stamps == sorted(set(stamps))
    # the third sample stalls 3.5 s: seconds 2004 and 2005 are skipped, 2006 is sampled late
    assert stats.skipped_seconds == 2
    assert stamps == [2001, 2002, 2003, 2006, 2007, 2008, 2009, 2010]


def test_stop_condition() -> None:
    t = FakeTime(10.0)
    sink = Sink()
    sampler = Sampler(t)
    collect(
        sampler,
        sink,
        "b",
        duration_s=None,
        clock=t.clock,
        sleep=t.sleep,
        should_stop=lambda: sampler.calls >= 4,
    )
    assert len(sink.points) == 3


def test_interval_must_be_whole_seconds() -> None:
    t = FakeTime(0)
    with pytest.raises(ValueError, match="whole number"):
        collect(Sampler(t), Sink(), "b", duration_s=1, interval_s=0, clock=t.clock, sleep=t.sleep)


def test_run_base_path_sanitizes_labels() -> None:
    assert (
        run_base("tare", "night 1;x", "web.host", Source.TARE)
        == f"tare.runs.{label('night 1;x')}.{label('web.host')}.tare"
    )
