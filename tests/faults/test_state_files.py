"""State files: a corrupt or foreign ledger or alert store is exit 3 naming the file and what to
do, and is left as it was; a writer killed inside a transaction leaves the last commit whole."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from alerting.store import AlertStore
from harness.ledger import Ledger
from tests.conftest import ROOT, Stack, run_tare
from tests.records import FACTS, planned


def _ledger(path: Path, campaigns: int = 40) -> None:
    ledger = Ledger(path)
    for c in range(campaigns):
        rows = [planned(f"c{c}-{i}", i, (("mode", "idle"), ("rate", 1000))) for i in range(20)]
        ledger.create_campaign(f"c{c}", "q", "2026-12-01", "linux", "q.toml", "h", FACTS, rows)
    ledger.close()


def _truncate(path: Path) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_truncated_ledger_is_exit_3_naming_the_file(tmp_path: Path) -> None:
    state = tmp_path / "s"
    _ledger(state / "ledger.db")
    before = _truncate(state / "ledger.db")
    res = run_tare("runs", "list", "--state-dir", str(state))
    assert res.code == 3, res.err
    assert res.err.startswith(f"{state / 'ledger.db'}: ") and "move it away" in res.err
    assert "Traceback" not in res.err and "internal error" not in res.err
    assert _digest(state / "ledger.db") == before  # nothing touched


@pytest.mark.parametrize("content", [b"not a database at all\n" * 100, "sqlite-other"])
def test_a_foreign_file_as_the_ledger_is_refused(tmp_path: Path, content: object) -> None:
    path = tmp_path / "s" / "ledger.db"
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:  # another program's database
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE songs (title TEXT)")
    before = _digest(path)
    res = run_tare("runs", "list", "--state-dir", str(path.parent))
    assert res.code == 3, res.err
    assert str(path) in res.err and "move it away" in res.err
    assert _digest(path) == before


def test_the_alert_store_given_as_the_ledger_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "s"
    state.mkdir()
    AlertStore(state / "ledger.db").close()
    res = run_tare("runs", "list", "--state-dir", str(state))
    assert res.code == 3 and "not a tare run ledger" in res.err, res.err


def test_a_truncated_alert_store_is_exit_3_not_a_regression(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    state = tmp_path / "s"
    store = AlertStore(state / "alerts.db")
    store.close()
    with sqlite3.connect(state / "alerts.db") as db:  # some pages to cut in half
        db.execute("CREATE TABLE padding (x TEXT)")
        db.executemany("INSERT INTO padding VALUES (?)", [("x" * 500,)] * 200)
    _truncate(state / "alerts.db")
    for args in (
        ("alerts", "list"),
        ("alert", "--fail-on-regression", "--render-url", graphite_stack.render_url),
    ):
        res = run_tare(*args, "--state-dir", str(state))
        assert res.code == 3, (args, res.err)
        assert str(state / "alerts.db") in res.err and "move it away" in res.err


WRITER = """
import sys, time
from pathlib import Path
from harness.ledger import Ledger
from tests.records import FACTS, planned
ledger = Ledger(Path(sys.argv[1]))
ledger.create_campaign("kept", "q", "2026-12-01", "linux", "q.toml", "h", FACTS,
                       [planned("kept-1", 1, (("mode", "idle"), ("rate", 1000)))])
db = ledger.db
db.execute("BEGIN IMMEDIATE")
for i in range(5000):
    db.execute("INSERT INTO campaigns VALUES (?,?,?,?,?,?,?,NULL,?,?)",
               (f"half{i}", "q", "n", "linux", "p", "h", 0.0, "running", "{}"))
print("inside", flush=True)
time.sleep(60)
"""


def test_a_writer_killed_mid_transaction_leaves_the_last_commit(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "inside"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    ledger = Ledger(path)  # opens: checked, recovered from the WAL
    try:
        assert [c.campaign_id for c in ledger.campaigns()] == ["kept"]
        assert [r.run_id for r in ledger.runs("kept")] == ["kept-1"]
        assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        ledger.close()
