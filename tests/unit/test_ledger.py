"""The run ledger: planned, running, finished, interrupted, resumed."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.states import CampaignState, RunState
from harness.ledger import Ledger, LedgerError
from tests.records import FACTS, manifest, planned


def make(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.db")
    runs = [
        planned(f"c1-{i}", i, (("mode", "baseline" if i % 2 else "enforced"), ("rate", 1000)))
        for i in (1, 2, 3)
    ]
    ledger.create_campaign("c1", "quick", "2026-11-27", "linux", "q.toml", "h1", FACTS, runs)
    return ledger


def test_lifecycle_and_resume_query(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    assert [r.status for r in ledger.runs("c1")] == ["planned"] * 3
    levels = (("mode", "baseline"), ("rate", 1000))
    first = manifest("c1-1", levels)
    ledger.start_run("c1-1", first)
    done = manifest("c1-1", levels, agent_version="v2")
    ledger.finish_run("c1-1", RunState.DONE, None, done, (10.0, 20.0), 999.0)
    ledger.start_run("c1-2", manifest("c1-2", levels))
    ledger.interrupt_run("c1-2")
    rows = {r.run_id: r for r in ledger.runs("c1")}
    assert rows["c1-1"].status is RunState.DONE and rows["c1-1"].manifest == done
    assert rows["c1-1"].steady_start == 10.0 and rows["c1-1"].achieved_rate == 999.0
    assert rows["c1-2"].status == "interrupted"
    assert ledger.latest_unfinished("quick") == ("c1", "h1")
    assert rows["c1-3"].status is RunState.PLANNED and rows["c1-3"].manifest is None
    ledger.finish_campaign("c1", CampaignState.FINISHED)
    assert ledger.latest_unfinished("quick") is None
    campaign = ledger.campaign("c1")
    assert campaign is not None and campaign.host == FACTS
    assert campaign.status is CampaignState.FINISHED
    ledger.close()


def test_finish_requires_a_final_status(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    m = manifest("c1-1", (("mode", "baseline"), ("rate", 1000)))
    with pytest.raises(ValueError, match="running"):
        ledger.finish_run("c1-1", RunState.RUNNING, None, m, None, None)
    ledger.close()


def test_survives_reopen(tmp_path: Path) -> None:
    make(tmp_path).close()
    again = Ledger(tmp_path / "ledger.db")
    assert len(again.runs()) == 3
    again.close()


def test_a_manifest_of_another_version_is_refused_naming_the_run(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    ledger.db.execute("UPDATE runs SET manifest=? WHERE run_id='c1-1'", ('{"version": 0}',))
    with pytest.raises(LedgerError, match=r"ledger.db: run c1-1: manifest version 0"):
        ledger.runs("c1")
    ledger.close()
