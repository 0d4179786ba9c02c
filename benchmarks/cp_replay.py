"""Replay: each series fed night by night through `tare alert`'s own path, scored by alerts.

Every night the series' history to date goes through ``alerting.cycle.run_alert`` (the nightly
frame, ``evaluate`` with its ``recent_nights``, pending and confirmation, and the real SQLite
alert store with its de-duplication); what the store records as new is an alert. With
``nightly`` > 1 that many series of a family share each night's frame, as a campaign's series of
one KPI do, and so pool their correlation (``alerting.changepoints.floors``). The references
go through the same path with their detector in tare's place (their change indices, computed on
each prefix in their own virtualenv, become ``Findings``).

Scoring, per series:
- a **true alert** is the first change alert (regression or improvement) raised on the step's
  night or within 3 nights after it; its delay is the night it was raised minus the step's night;
- a **late alert** is a step's first alert raised after that, dated within 2 nights of it: not
  true, but not noise either (counted apart; precision counts it against);
- every other change alert is **false** (on a quiet series, it counts per quiet series-night);
- recall counts the steps with at least ``ESTABLISHED`` nights before them, and apart those of a
  *young* series (``HISTORY`` to ``ESTABLISHED`` nights before); a step earlier than that (a
  *start step*: a series' first nights cannot say much about its level) is counted apart too,
  reported when a pending report or an alert dated within a night of it comes within 3 nights;
  an established step is *reported* when it is alerted in time, or listed as pending within 3
  nights dated within a night of it (beside recall, which counts alerts only: a step pending
  from its first nights is seen in time, though not yet alerted);
- a step with fewer than 4 nights after it in the history is a **newest-night step**: recall
  does not count it; it is *reported* when the last night's evaluation lists it as pending or
  as a change, *dated right* when that report names its first night;
- a **drift** is found when a ``drift`` alert is raised from the middle of its ramp to 15 nights
  after its end; change alerts on a drift series are counted apart.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alerting import changepoints, cycle
from alerting.evaluate import Detector, Evaluation, Settings
from alerting.store import AlertStore
from benchmarks.cp_corpus import Case
from contracts.frames import NIGHTLY_COLUMNS
from contracts.states import AlertKind

FIRST_NIGHTS = 3  # the replay starts once a series has this many nights
HISTORY = 8  # nights before a step for it to count in recall (earlier: a start step)
ESTABLISHED = 30  # nights before a step for the series to be established (before: young)
WITHIN = 3  # a true alert comes at most this many nights after its step
NEWEST = 4  # a step with fewer nights than this after it is a newest-night step
NIGHT0 = pd.Timestamp("2026-01-01")
CHANGE_KINDS = (AlertKind.REGRESSION, AlertKind.IMPROVEMENT)


@dataclass(frozen=True, slots=True)
class Raised:
    night: int  # the night the alert was raised on
    dated: int  # the night it names as the first at the new level
    kind: str


@dataclass(frozen=True, slots=True)
class Replayed:
    case: Case
    raised: tuple[Raised, ...]
    last_reported: tuple[int, ...]  # nights the final evaluation names (changes and pending)
    pending: tuple[Raised, ...] = ()  # each pending report, the first night it was listed


def nights(n: int) -> list[str]:
    return [(NIGHT0 + pd.Timedelta(days=i)).date().isoformat() for i in range(n)]


def frame_of(
    case: Case,
    cell: int,
    *,
    campaign: str = "replay",
    mode: str = "enforced",
    kpi: str = "cpu_cgroup",
) -> pd.DataFrame:
    """The case as one series of a nightly frame (an overhead), its cell the rate."""
    rows = [
        (
            f"linux.{campaign}.{mode}.rate_{cell}.{kpi}",
            "linux",
            campaign,
            mode,
            str(cell),
            "",
            kpi,
            "overhead",
            night,
            value,
        )
        for night, value in zip(nights(len(case.values)), case.values, strict=True)
    ]
    return pd.DataFrame(rows, columns=NIGHTLY_COLUMNS)


def _reported(ev: Evaluation, series: str, names: dict[str, int]) -> tuple[int, ...]:
    found = {
        names[a.night] for a in ev.alerts if a.kind in CHANGE_KINDS and a.items[0].series == series
    }
    found |= {names[p.night] for p in ev.pending if p.series == series}
    return tuple(sorted(found))


def nightlies(count: int, size: int) -> list[list[int]]:
    """Case indices into nightlies of about ``size`` series, each taking every k-th case (the
    corpus lists a family's kinds in blocks: so each nightly holds some of every kind)."""
    k = max(1, math.ceil(count / size))
    return [list(range(j, count, k)) for j in range(min(k, count))]


def replay(
    cases: Sequence[Case],
    settings: Settings,
    detector_for: Callable[[int], Detector],
    nightly: int = 1,
) -> list[Replayed]:
    """``detector_for(i)``: the detector to judge case ``i`` with. ``nightly``: how many series
    one nightly evaluates together (all night 0 on the same night; a series leaves when its
    history ends), as the nightly does when its series share what they measure (the pooled
    correlation). Cases of one nightly must share their family and their detector."""
    out: dict[int, Replayed] = {}
    with tempfile.TemporaryDirectory() as tmp, AlertStore(Path(tmp) / "alerts.db") as store:
        by_family: dict[str, list[int]] = {}
        for i, case in enumerate(cases):
            by_family.setdefault(case.family, []).append(i)
        for members in by_family.values():
            for chosen in nightlies(len(members), nightly):
                batch = [members[j] for j in chosen]
                out.update(_replay_nightly(cases, batch, settings, detector_for(batch[0]), store))
    return [out[i] for i in range(len(cases))]


def _replay_nightly(
    cases: Sequence[Case], batch: list[int], settings: Settings, detect: Detector, store: AlertStore
) -> dict[int, Replayed]:
    frames = {i: frame_of(cases[i], i) for i in batch}
    name = {i: str(frames[i]["series"].iloc[0]) for i in batch}
    series = {n: i for i, n in name.items()}
    longest = max(len(cases[i].values) for i in batch)
    names = {n: k for k, n in enumerate(nights(longest))}
    raised: dict[int, list[Raised]] = {i: [] for i in batch}
    pending: dict[int, dict[int, Raised]] = {i: {} for i in batch}
    last: dict[int, tuple[int, ...]] = {i: () for i in batch}
    for t in range(FIRST_NIGHTS, longest + 1):
        active = [i for i in batch if len(cases[i].values) >= t]
        frame = pd.concat([frames[i].iloc[:t] for i in active], ignore_index=True)
        outcome = cycle.run_alert(frame, (), settings, None, store, None, {}, detect)
        for _, a in outcome.new:
            raised[series[a.items[0].series]].append(Raised(t - 1, names[a.night], a.kind))
        for p in outcome.evaluation.pending:
            at = names[p.night]
            pending[series[p.series]].setdefault(at, Raised(t - 1, at, "pending"))
        for i in active:
            if len(cases[i].values) == t:
                last[i] = _reported(outcome.evaluation, name[i], names)
    return {
        i: Replayed(cases[i], tuple(raised[i]), last[i], tuple(pending[i].values())) for i in batch
    }


def findings_from(values: list[float | None], indices: Sequence[int]) -> changepoints.Findings:
    """A reference's change indices as tare's findings (levels: the segments' means)."""
    y = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    bounds = [0, *sorted(i for i in indices if 0 < i < len(y)), len(y)]
    changes = []
    for k in range(1, len(bounds) - 1):
        before = float(np.nanmean(y[bounds[k - 1] : bounds[k]]))
        after = float(np.nanmean(y[bounds[k] : bounds[k + 1]]))
        changes.append(
            changepoints.Change(bounds[k], before, after, 0.0, bounds[k + 1] - bounds[k])
        )
    return changepoints.Findings(changes=tuple(changes))


def reference_detector(prefixes: Sequence[Sequence[int]], first: int) -> Detector:
    """A detector answering from a reference's precomputed answers, one per prefix length."""

    def detect(values: list[float | None], _s: changepoints.Settings) -> changepoints.Findings:
        k = len(values) - first
        return findings_from(values, prefixes[k] if 0 <= k < len(prefixes) else ())

    return detect


def _share(part: int, whole: int) -> float:
    """``part`` of ``whole``; NaN when there is none to count."""
    return part / whole if whole else math.nan


@dataclass(slots=True)
class FamilyScore:
    quiet_nights: int = 0
    quiet_false: int = 0
    change_alerts: int = 0
    true_alerts: int = 0
    steps3: int = 0
    hit3: int = 0
    reported3: int = 0  # of steps3: alerted in time, or listed as pending (dated within a night)
    young3: int = 0
    young_hit3: int = 0
    steps_all: int = 0  # every step with HISTORY nights before it and NEWEST after
    hit_all: int = 0
    delays: list[int] = field(default_factory=list)
    late_alerts: int = 0  # a real step's alert, more than WITHIN nights after it
    start_steps: int = 0
    start_confirmed: int = 0
    start_reported: int = 0  # pending or confirmed within WITHIN nights, dated within a night
    newest: int = 0
    newest_reported: int = 0
    newest_dated: int = 0
    drifts: int = 0
    drifts_found: int = 0
    drift_nights: int = 0
    drift_change_alerts: int = 0
    false_drifts: int = 0

    @property
    def false_per_1000(self) -> float:
        return 1000.0 * self.quiet_false / self.quiet_nights if self.quiet_nights else 0.0

    @property
    def recall3(self) -> float:
        return _share(self.hit3, self.steps3)

    @property
    def reported_recall3(self) -> float:
        return _share(self.reported3, self.steps3)

    @property
    def young_recall3(self) -> float:
        return _share(self.young_hit3, self.young3)

    @property
    def precision(self) -> float:
        return _share(self.true_alerts, self.change_alerts)

    @property
    def f1(self) -> float:
        """Alerts' precision against the recall of every step (any size) in time."""
        recall = _share(self.hit_all, self.steps_all)
        p = self.precision
        return 2 * p * recall / (p + recall) if p + recall > 0 else 0.0

    def delay(self, q: float) -> float:
        return float(np.percentile(self.delays, q)) if self.delays else math.nan


def _in_time(p: int, reports: Sequence[Raised]) -> bool:
    """A report (pending or an alert) dated within a night of step ``p``, listed within
    ``WITHIN`` nights of it: what the on-call engineer sees of the step in time."""
    return any(p <= a.night <= p + WITHIN and abs(a.dated - p) <= 1 for a in reports)


def _score_steps(r: Replayed, s: FamilyScore, changes: list[Raised]) -> list[Raised]:
    """Match each step with its true alert; return the alerts left (false)."""
    left = list(changes)
    n = len(r.case.values)
    for p, size in r.case.steps:
        hit = next((a for a in left if p <= a.night <= p + WITHIN), None)
        if hit is not None:
            left.remove(hit)
            s.true_alerts += 1
        late = [a for a in left if p + WITHIN < a.night and abs(a.dated - p) <= 2]
        if late and hit is None:
            left.remove(late[0])
            s.late_alerts += 1
        if p < HISTORY and n - p >= NEWEST and abs(size) >= 3:
            s.start_steps += 1
            s.start_confirmed += hit is not None
            s.start_reported += _in_time(p, (*r.pending, *changes))
            continue
        if n - p < NEWEST:
            if abs(size) >= 4:
                s.newest += 1
                near = [d for d in r.last_reported if abs(d - p) <= 1]
                s.newest_reported += bool(near) or hit is not None
                s.newest_dated += p in r.last_reported or (hit is not None and hit.dated == p)
            continue
        s.steps_all += 1
        s.hit_all += hit is not None
        if abs(size) >= 3 and p < ESTABLISHED:
            s.young3 += 1
            s.young_hit3 += hit is not None
        elif abs(size) >= 3:
            s.steps3 += 1
            s.hit3 += hit is not None
            s.reported3 += hit is not None or _in_time(p, r.pending)
        if hit is not None:
            s.delays.append(hit.night - p)
    return left


def score(replayed: Sequence[Replayed]) -> dict[str, FamilyScore]:
    out: dict[str, FamilyScore] = {}
    for r in replayed:
        s = out.setdefault(r.case.family, FamilyScore())
        changes = [a for a in r.raised if a.kind in CHANGE_KINDS]
        drifts = [a for a in r.raised if a.kind == AlertKind.DRIFT]
        s.change_alerts += len(changes)
        false = _score_steps(r, s, changes)
        d = r.case.drift
        if d is not None:
            s.drifts += 1
            s.drift_nights += len(r.case.values)
            s.drift_change_alerts += len(false)
            lo, hi = d.start + d.nights // 2, d.start + d.nights + 15
            s.drifts_found += any(lo <= a.night <= hi for a in drifts)
            s.false_drifts += sum(not lo <= a.night <= hi for a in drifts)
        else:
            s.false_drifts += len(drifts)
        if not r.case.steps and d is None:
            s.quiet_nights += len(r.case.values) - FIRST_NIGHTS + 1
            s.quiet_false += len(false)
    return out
