"""The run ledger: planned, running, finished, interrupted, resumed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.ledger import Ledger


def make(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.db")
    runs = [
        {
            "run_id": f"c1-{i}",
            "seq": i,
            "mode": "baseline" if i % 2 else "enforced",
            "rate": 1000,
            "repeat": 1,
            "levels": {"mode": "x", "rate": 1000},
        }
        for i in (1, 2, 3)
    ]
    ledger.create_campaign(
        "c1", "quick", "2026-11-27", "linux", "q.toml", "h1", {"kernel": "6"}, runs
    )
    return ledger


def test_lifecycle_and_resume_query(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    assert [r.status for r in ledger.runs("c1")] == ["planned"] * 3
    ledger.start_run("c1-1", {"a": 1})
    ledger.finish_run("c1-1", "done", None, {"a": 2}, (10.0, 20.0), 999.0)
    ledger.start_run("c1-2", {})
    ledger.interrupt_run("c1-2")
    rows = {r.run_id: r for r in ledger.runs("c1")}
    assert rows["c1-1"].status == "done" and rows["c1-1"].manifest == {"a": 2}
    assert rows["c1-1"].steady_start == 10.0 and rows["c1-1"].achieved_rate == 999.0
    assert rows["c1-2"].status == "interrupted"
    assert ledger.latest_unfinished("quick") == ("c1", "h1")
    ledger.finish_campaign("c1", "finished")
    assert ledger.latest_unfinished("quick") is None
    campaign = ledger.campaign("c1")
    assert campaign is not None and campaign["facts"] == {"kernel": "6"}
    ledger.close()


def test_finish_requires_a_final_status(tmp_path: Path) -> None:
    ledger = make(tmp_path)
    with pytest.raises(ValueError, match="running"):
        ledger.finish_run("c1-1", "running", None, {}, None, None)
    ledger.close()


def test_survives_reopen(tmp_path: Path) -> None:
    make(tmp_path).close()
    again = Ledger(tmp_path / "ledger.db")
    assert len(again.runs()) == 3
    again.close()
