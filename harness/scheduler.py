"""The nightly job at set times, on the ``schedule`` library: never two at once, a night missed
while the scheduler was down run once when it comes back, each job logged with its outcome and
duration, and its last run kept in a state file (so a restart knows what it missed).

The job is a callable returning an exit code (``tare schedule`` runs ``tare nightly`` as a child
process); the clock and the sleep are arguments, so the loop is tested without waiting.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import schedule

from harness.lock import LabBusy, LabLock

log = logging.getLogger(__name__)

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class Spec:
    times: tuple[str, ...]  # "HH:MM" in ``timezone``
    timezone: str = "UTC"
    days: tuple[str, ...] = DAYS  # full lower-case day names


def occurrences(spec: Spec, since: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The scheduled instants in (since, until], as aware datetimes (pure)."""
    tz = ZoneInfo(spec.timezone)
    out = []
    day = since.astimezone(tz).date() - dt.timedelta(days=1)
    while day <= until.astimezone(tz).date():
        if DAYS[day.weekday()] in spec.days:
            for t in spec.times:
                hh, mm = (int(x) for x in t.split(":"))
                at = dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz)
                if since < at <= until:
                    out.append(at)
        day += dt.timedelta(days=1)
    return sorted(out)


def missed(spec: Spec, last_started: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """The latest scheduled instant after the last job started and before now: the one night
    to catch up (however many were missed); None when none, or when no job ever ran here."""
    if last_started is None:
        return None
    due = occurrences(spec, last_started, now)
    return due[-1] if due else None


@dataclass
class Outcome:
    why: str
    started: dt.datetime
    code: int | None  # None: not run (the lab was held)
    duration_s: float
    note: str = ""


class Scheduler:
    def __init__(
        self,
        spec: Spec,
        job: Callable[[], int],
        state_file: Path,
        lock_dir: Path | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        tell: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.spec = spec
        self.job = job
        self.tell = tell
        self.state_file = state_file
        self.lock_dir = lock_dir
        self.now = now
        self.outcomes: list[Outcome] = []
        self.sched = schedule.Scheduler()
        for day in spec.days:
            for t in spec.times:
                getattr(self.sched.every(), day).at(t, spec.timezone).do(self.run_job, "scheduled")

    def last_started(self) -> dt.datetime | None:
        try:
            data = json.loads(self.state_file.read_text())
            return dt.datetime.fromisoformat(data["last_started"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def run_job(self, why: str) -> Outcome:
        """Run the job now, unless another holds the lab (then it is logged as not run)."""
        started = self.now()
        try:
            with LabLock("schedule", "-", self.state_file.parent, self.lock_dir):
                pass  # free now: the job's own `tare run` takes it for the night
        except LabBusy as exc:
            out = Outcome(why, started, None, 0.0, f"not run: {exc}")
            self._log(out)
            return out
        self._save(started)
        code = self.job()
        out = Outcome(why, started, code, (self.now() - started).total_seconds())
        self._save(started, code, out.duration_s)
        self._log(out)
        return out

    def _save(self, started: dt.datetime, code: int | None = None, took: float = 0.0) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {"last_started": started.isoformat(), "last_exit": code, "duration_s": round(took)}
            )
        )
        tmp.replace(self.state_file)

    def _log(self, out: Outcome) -> None:
        self.outcomes.append(out)
        when = out.started.isoformat(timespec="seconds")
        if out.code is None:
            line = f"nightly ({out.why}) at {when}: {out.note}"
            log.warning("%s", line)
        else:
            line = (
                f"nightly ({out.why}) started {when}: exit {out.code} after {out.duration_s:.0f} s"
            )
            log.info("%s", line)
        self.tell(line)

    def catch_up(self) -> Outcome | None:
        due = missed(self.spec, self.last_started(), self.now())
        return self.run_job(f"catch-up for {due.isoformat()}") if due is not None else None

    def next_run(self) -> dt.datetime | None:
        nxt = self.sched.next_run
        return None if nxt is None else nxt.astimezone(dt.UTC)

    def loop(
        self,
        should_stop: Callable[[], bool],
        sleep: Callable[[float], None] = time.sleep,
        max_sleep_s: float = 60.0,
    ) -> None:
        """Catch up once, then run what is due until ``should_stop`` (SIGTERM/SIGINT arrive as an
        interrupt in the job or the sleep: the caller stops the job cleanly)."""
        self.catch_up()
        while not should_stop():
            done = len(self.outcomes)
            self.sched.run_pending()
            nxt = self.next_run()
            if len(self.outcomes) > done and nxt is not None:
                self.tell(f"next nightly {nxt.isoformat(timespec='minutes')}")
            idle = self.sched.idle_seconds
            wait = max_sleep_s if idle is None or not math.isfinite(idle) else idle
            sleep(min(max(wait, 0.5), max_sleep_s))


def parse_days(names: Sequence[str]) -> tuple[str, ...]:
    """``mon``..``sun`` or full names, any case; ValueError naming a bad one."""
    out = []
    for name in names:
        found = [d for d in DAYS if d.startswith(name.lower()) and len(name) >= 3]
        if len(found) != 1:
            raise ValueError(f"unknown day {name!r} (mon, tue, ... or monday, tuesday, ...)")
        out.append(found[0])
    return tuple(dict.fromkeys(out))
