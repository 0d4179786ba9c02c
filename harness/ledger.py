"""The run ledger: every campaign and run manifest, in SQLite under the state directory.

A run's row is written before it starts (``running``) and after it ends (``done``, ``invalid``
or ``failed``, with the reason), each in its own transaction, so an interruption leaves either
the old or the new state, never half of one; ``--resume`` re-runs what is not finished.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    night TEXT NOT NULL,
    platform TEXT NOT NULL,
    config_path TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    facts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    seq INTEGER NOT NULL,
    mode TEXT NOT NULL,
    rate INTEGER NOT NULL,
    repeat INTEGER NOT NULL,
    levels TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    started REAL,
    ended REAL,
    steady_start REAL,
    steady_end REAL,
    achieved_rate REAL,
    manifest TEXT NOT NULL,
    UNIQUE (campaign_id, seq)
);
"""

FINISHED = ("done", "invalid", "failed")


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    campaign_id: str
    seq: int
    mode: str
    rate: int
    repeat: int
    levels: dict[str, Any]
    status: str
    reason: str | None
    started: float | None
    ended: float | None
    steady_start: float | None
    steady_end: float | None
    achieved_rate: float | None
    manifest: dict[str, Any]


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def create_campaign(
        self,
        cid: str,
        name: str,
        night: str,
        platform: str,
        config_path: str,
        config_hash: str,
        facts: dict[str, Any],
        runs: list[dict[str, Any]],
    ) -> None:
        """The campaign and all its planned runs, in one transaction."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO campaigns VALUES (?,?,?,?,?,?,?,NULL,'running',?)",
                (
                    cid,
                    name,
                    night,
                    platform,
                    config_path,
                    config_hash,
                    time.time(),
                    json.dumps(facts),
                ),
            )
            for r in runs:
                db.execute(
                    "INSERT INTO runs (run_id, campaign_id, seq, mode, rate, repeat, levels, "
                    "status, manifest) VALUES (?,?,?,?,?,?,?,'planned',?)",
                    (
                        r["run_id"],
                        cid,
                        r["seq"],
                        r["mode"],
                        r["rate"],
                        r["repeat"],
                        json.dumps(r["levels"]),
                        json.dumps(r.get("manifest", {})),
                    ),
                )

    def latest_unfinished(self, name: str) -> tuple[str, str] | None:
        row = self.db.execute(
            "SELECT id, config_hash FROM campaigns WHERE name=? AND status!='finished' "
            "ORDER BY started DESC LIMIT 1",
            (name,),
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def campaign(self, cid: str) -> dict[str, Any] | None:
        cur = self.db.execute("SELECT * FROM campaigns WHERE id=?", (cid,))
        row = cur.fetchone()
        if row is None:
            return None
        out = dict(zip([c[0] for c in cur.description], row, strict=True))
        out["facts"] = json.loads(out["facts"])
        return out

    def campaigns(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT id FROM campaigns ORDER BY started")
        return [c for (cid,) in cur.fetchall() if (c := self.campaign(cid)) is not None]

    def runs(self, cid: str | None = None) -> list[RunRow]:
        query = (
            "SELECT * FROM runs"
            + (" WHERE campaign_id=?" if cid else "")
            + " ORDER BY campaign_id, seq"
        )
        cur = self.db.execute(query, (cid,) if cid else ())
        names = [c[0] for c in cur.description]
        out = []
        for row in cur.fetchall():
            d = dict(zip(names, row, strict=True))
            d["levels"] = json.loads(d["levels"])
            d["manifest"] = json.loads(d["manifest"])
            out.append(RunRow(**d))
        return out

    def start_run(self, run_id: str, manifest: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status='running', reason=NULL, started=?, ended=NULL, "
                "manifest=? WHERE run_id=?",
                (time.time(), json.dumps(manifest), run_id),
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        reason: str | None,
        manifest: dict[str, Any],
        steady: tuple[float, float] | None,
        achieved_rate: float | None,
    ) -> None:
        if status not in FINISHED:
            raise ValueError(status)
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, reason=?, ended=?, steady_start=?, steady_end=?, "
                "achieved_rate=?, manifest=? WHERE run_id=?",
                (
                    status,
                    reason,
                    time.time(),
                    steady[0] if steady else None,
                    steady[1] if steady else None,
                    achieved_rate,
                    json.dumps(manifest),
                    run_id,
                ),
            )

    def interrupt_run(self, run_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status='interrupted', ended=? WHERE run_id=?",
                (time.time(), run_id),
            )

    def finish_campaign(self, cid: str, status: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE campaigns SET status=?, finished=? WHERE id=?", (status, time.time(), cid)
            )
