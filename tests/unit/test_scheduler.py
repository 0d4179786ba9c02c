"""The scheduler with an injected clock (no real waiting): times in a time zone and on chosen
days, one job at a time (the lab lock), a missed night run once after downtime, and a stop
signal passed on to the running night."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import schedule

from contracts.interrupts import Interrupted, stop_on_signals
from harness.lock import LabLock
from harness.scheduler import Scheduler, Spec, missed, occurrences, parse_days
from tare.cli_nightly import run_child

UTC = dt.UTC


class Clock:
    """The one clock of a test: the scheduler's and the ``schedule`` library's."""

    def __init__(self, start: dt.datetime) -> None:
        self.t = start

    def __call__(self) -> dt.datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock(dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC))  # a Tuesday

    class FakeDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            real = c.t
            return real.astimezone(tz) if tz is not None else real.astimezone().replace(tzinfo=None)

    fake = types.SimpleNamespace(**{k: getattr(dt, k) for k in dir(dt) if not k.startswith("__")})
    fake.datetime = FakeDatetime
    monkeypatch.setattr(schedule, "datetime", fake)
    yield c


def test_occurrences_in_a_time_zone_and_on_chosen_days() -> None:
    spec = Spec(("02:00",), "Europe/Berlin", parse_days(["mon", "Wednesday"]))
    found = occurrences(
        spec, dt.datetime(2026, 11, 29, tzinfo=UTC), dt.datetime(2026, 12, 6, tzinfo=UTC)
    )
    # 02:00 in Berlin is 01:00 UTC in winter; Monday 30 Nov and Wednesday 2 Dec only
    assert [o.astimezone(UTC) for o in found] == [
        dt.datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
    ]
    with pytest.raises(ValueError, match="unknown day 'fun'"):
        parse_days(["fun"])


def test_a_missed_night_is_caught_up_once_however_many_were_missed() -> None:
    spec = Spec(("02:00",))
    now = dt.datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    three_nights_ago = dt.datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert missed(spec, three_nights_ago, now) == dt.datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert missed(spec, dt.datetime(2026, 12, 5, 2, 0, tzinfo=UTC), now) is None
    assert missed(spec, None, now) is None  # never ran here: nothing to catch up


def test_jobs_run_at_their_times_and_a_restart_catches_up_once(
    clock: Clock, tmp_path: Path
) -> None:
    ran: list[dt.datetime] = []

    def job() -> int:
        ran.append(clock.t)
        clock.sleep(3 * 3600)  # a three-hour night
        return 0

    spec = Spec(("02:00", "14:00"), "UTC", parse_days(["tue", "wed"]))
    state = tmp_path / "state" / "schedule" / "c.json"
    lines: list[str] = []
    s = Scheduler(spec, job, state, tmp_path / "lock", now=clock, tell=lines.append)
    end = dt.datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # Thursday noon
    s.loop(lambda: clock.t >= end, sleep=clock.sleep)
    starts = [(r.weekday(), r.hour, r.minute) for r in ran]
    assert starts == [(1, 14, 0), (2, 2, 0), (2, 14, 0)]  # Tue 14:00, Wed 02:00, Wed 14:00
    assert all(abs(r.second) < 1 for r in ran)
    assert lines[0].startswith("nightly (scheduled) started 2026-12-01T14:00:")
    assert lines[0].endswith(": exit 0 after 10800 s")
    assert lines[1] == "next nightly 2026-12-02T02:00+00:00"
    # down from Thursday noon to the next Thursday: Tue and Wed nights missed; one catch-up
    clock.t = dt.datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
    ran.clear()
    again = Scheduler(spec, job, state, tmp_path / "lock", now=clock)
    assert again.catch_up() is not None and len(ran) == 1
    assert again.catch_up() is None and len(ran) == 1
    assert again.outcomes[0].why == "catch-up for 2026-12-09T14:00:00+00:00"


def test_no_job_starts_while_the_lab_is_held(clock: Clock, tmp_path: Path) -> None:
    ran: list[int] = []
    spec = Spec(("02:00",))
    s = Scheduler(
        spec, lambda: ran.append(1) or 0, tmp_path / "s" / "c.json", tmp_path / "lock", clock
    )
    with LabLock("run", "other", tmp_path / "other", tmp_path / "lock"):
        out = s.run_job("scheduled")  # a campaign holds the lab: this night is not started
    assert out.code is None and ran == []
    assert "not run:" in out.note and "other" in out.note
    assert s.run_job("scheduled").code == 0 and ran == [1]


def test_a_stop_signal_is_passed_on_to_the_running_night(tmp_path: Path) -> None:
    marker = tmp_path / "stopped"
    child = (
        "import signal, sys, time\n"
        "def stop(*_):\n"
        f"    open({str(marker)!r}, 'w').write('torn down')\n"
        "    sys.exit(130)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    with pytest.raises(Interrupted), stop_on_signals():
        run_child([sys.executable, "-c", child])
    assert marker.read_text() == "torn down"  # the night had its SIGTERM and its teardown
