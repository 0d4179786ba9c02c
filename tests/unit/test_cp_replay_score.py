"""The replay's scoring on hand-built replays: what counts as a step alerted in time, and as a
step reported in time (an alert, or a pending report dated on it) though not yet alerted."""

from __future__ import annotations

from benchmarks import cp_corpus, cp_replay
from contracts.states import AlertKind

STEP = 50  # the step's first night; 50 nights of history before it: an established step


def replayed(
    *, raised: tuple[cp_replay.Raised, ...], pending: tuple[cp_replay.Raised, ...]
) -> cp_replay.Replayed:
    case = cp_corpus.Case("s", "ar0.5", "steps", tuple([0.0] * 100), steps=((STEP, 3.5),))
    return cp_replay.Replayed(case, raised, (), pending)


def alert(night: int, dated: int) -> cp_replay.Raised:
    return cp_replay.Raised(night, dated, AlertKind.REGRESSION)


def pending(night: int, dated: int) -> cp_replay.Raised:
    return cp_replay.Raised(night, dated, "pending")


def scored(r: cp_replay.Replayed) -> cp_replay.FamilyScore:
    return cp_replay.score([r])["ar0.5"]


def test_a_step_alerted_in_three_nights_is_both_recalled_and_reported() -> None:
    s = scored(replayed(raised=(alert(STEP + 2, STEP),), pending=(pending(STEP, STEP),)))
    assert (s.steps3, s.hit3, s.reported3) == (1, 1, 1)
    assert s.delays == [2] and s.late_alerts == 0


def test_a_step_pending_in_time_and_alerted_late_is_reported_not_recalled() -> None:
    s = scored(replayed(raised=(alert(STEP + 9, STEP),), pending=(pending(STEP + 2, STEP),)))
    assert (s.steps3, s.hit3, s.reported3) == (1, 0, 1)
    assert s.late_alerts == 1 and s.recall3 == 0.0 and s.reported_recall3 == 1.0


def test_a_report_counts_only_in_time_and_dated_within_a_night() -> None:
    late = scored(replayed(raised=(), pending=(pending(STEP + 4, STEP),)))
    misdated = scored(replayed(raised=(), pending=(pending(STEP + 1, STEP - 2),)))
    a_night_off = scored(replayed(raised=(), pending=(pending(STEP + 3, STEP + 1),)))
    assert (late.reported3, misdated.reported3, a_night_off.reported3) == (0, 0, 1)
    assert late.hit3 == misdated.hit3 == a_night_off.hit3 == 0


def test_an_alert_in_time_is_reported_whatever_night_it_names() -> None:
    s = scored(replayed(raised=(alert(STEP + 2, STEP - 3),), pending=()))
    assert (s.hit3, s.reported3) == (1, 1)
