"""``tare analyze`` errors: no ledger, unknown campaign, Graphite unreachable (exit 4)."""

from __future__ import annotations

from pathlib import Path

from contracts.states import RunState
from harness.ledger import Ledger
from tests.conftest import free_ports, run_tare
from tests.records import FACTS, manifest, planned


def test_no_ledger_and_unknown_campaign(tmp_path: Path) -> None:
    res = run_tare("analyze", "--state-dir", str(tmp_path))
    assert res.code == 2 and "no ledger" in res.err
    Ledger(tmp_path / "ledger.db").close()
    res = run_tare("analyze", "--campaign", "nope", "--state-dir", str(tmp_path))
    assert res.code == 2 and "no campaign 'nope'" in res.err


def test_graphite_unreachable_is_exit_4(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    ledger = Ledger(tmp_path / "ledger.db")
    levels = (("mode", "baseline"), ("rate", 1000))
    ledger.create_campaign(
        "c1", "c", "2026-11-27", "linux", "c.toml", "h", FACTS, [planned("r1", 1, levels)]
    )
    m = manifest("r1", levels, render_url=f"http://127.0.0.1:{port}")
    ledger.start_run("r1", m)
    ledger.finish_run("r1", RunState.DONE, None, m, (100.0, 130.0), 1000.0)
    ledger.close()
    res = run_tare("analyze", "--latest", "--state-dir", str(tmp_path))
    assert res.code == 4, res.err
    assert f"graphite-web at http://127.0.0.1:{port}" in res.err
    assert "Traceback" not in res.err
