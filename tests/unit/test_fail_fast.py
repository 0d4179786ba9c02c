"""A night fails fast: a mode whose agent fails the same step twice in a row is not tried again
that night, and a cell left with no valid run says so in words."""

from __future__ import annotations

import pandas as pd

from contracts.manifest import CampaignRecord, RunRecord, levels_of
from contracts.states import CampaignState, RunState
from harness.campaign import FailFast
from harness.runner import RunOutcome
from pipeline.campaign import Analysis
from pipeline.tables import no_result_words, to_json


def _failed(step: str, why: str) -> RunOutcome:
    return RunOutcome(RunState.FAILED, why, agent_step=step)


def test_a_mode_failing_one_step_twice_in_a_row_is_skipped_and_the_others_go_on() -> None:
    ff = FailFast()
    ff.record("enforced", _failed("start", "agent start exited 1: no policy engine"))
    assert ff.skip("enforced") is None  # once may be chance
    ff.record("idle", RunOutcome(RunState.DONE, None))
    ff.record("enforced", _failed("start", "agent start exited 1: no policy engine"))
    assert ff.skip("enforced") == (
        "the agent's start step failed in 2 runs of enforced in a row: "
        "agent start exited 1: no policy engine"
    )
    assert ff.skip("idle") is None


def test_a_streak_is_one_step_and_ends_with_a_run_that_brings_the_agent_up() -> None:
    ff = FailFast()
    ff.record("enforced", _failed("install", "agent install exited 7"))
    ff.record("enforced", _failed("health", "agent not healthy within 20 s: down"))
    assert ff.skip("enforced") is None  # two different steps: no pattern yet
    ff.record("enforced", RunOutcome(RunState.INVALID, "achieved 900 conn/s < 98%"))
    ff.record("enforced", _failed("health", "agent not healthy within 20 s: down"))
    assert ff.skip("enforced") is None  # the invalid run in between brought it up
    ff.record("baseline", _failed("start", "never"))  # no agent there: not counted
    assert ff.skip("baseline") is None


def _row(seq: int, mode: str, status: RunState, reason: str | None) -> RunRecord:
    return RunRecord(
        f"r{seq}",
        "c1",
        seq,
        mode,
        500,
        seq,
        levels_of({"mode": mode, "rate": 500}),
        status,
        reason,
        *([None] * 6),
    )


def test_a_cell_with_no_valid_run_says_how_its_runs_ended() -> None:
    campaign = CampaignRecord(
        "c1", "q", "2026-12-07", "linux", "q.toml", "h", 1.0, None, CampaignState.FINISHED, None
    )
    skipped = "the agent's start step failed in 2 runs of enforced in a row: agent start exited 1"
    rows = [
        _row(1, "baseline", RunState.DONE, None),
        _row(2, "enforced", RunState.FAILED, "agent start exited 1"),
        _row(3, "enforced", RunState.FAILED, "agent start exited 1"),
        _row(4, "enforced", RunState.SKIPPED, skipped),
        _row(5, "idle", RunState.DONE, None),
        _row(6, "idle", RunState.INVALID, "achieved 450 conn/s"),
    ]
    a = Analysis(campaign, [], [], [], pd.DataFrame(), pd.DataFrame(), {}, rows)
    assert no_result_words(a) == [f"enforced rate=500: 2 failed, 1 skipped (skipped: {skipped})"]
    assert to_json(a)["no_result"] == [
        {
            "cell": {"mode": "enforced", "rate": 500},
            "runs": {"r2": "failed", "r3": "failed", "r4": "skipped"},
        }
    ]
