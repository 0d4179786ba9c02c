"""The run ledger: every campaign and run manifest, in SQLite under the state directory.

A run's row is written before it starts (running) and after it ends (done, invalid or
failed, with the reason; ``contracts.states.RunState``), each in its own transaction, so an
interruption leaves either the old or the new state, never half of one; ``--resume`` re-runs
what is not finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.errors import ErrorKind
from contracts.manifest import CampaignRecord, HostFacts, Levels, RunManifest, RunRecord
from contracts.sqlite import open_state, transaction
from contracts.states import CampaignState, RunState
from harness.errors import HarnessError

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
APPLICATION_ID = 0x74617231  # "tar1": a tare run ledger


class LedgerError(HarnessError):
    """The ledger file cannot be read as a run ledger."""

    kind = ErrorKind.BAD_INPUT


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """A run as planned, before it runs."""

    run_id: str
    seq: int
    mode: str
    rate: int
    repeat: int
    levels: Levels


def insert_planned(db: Any, cid: str, runs: Sequence[PlannedRow]) -> None:
    for r in runs:
        db.execute(
            "INSERT INTO runs (run_id, campaign_id, seq, mode, rate, repeat, levels, "
            "status, manifest) VALUES (?,?,?,?,?,?,?,?,'{}')",
            (
                r.run_id,
                cid,
                r.seq,
                r.mode,
                r.rate,
                r.repeat,
                json.dumps(dict(r.levels)),
                RunState.PLANNED.value,
            ),
        )


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = open_state(path, SCHEMA, APPLICATION_ID, "run ledger")

    def close(self) -> None:
        self.db.close()

    def _tx(self) -> Any:
        return transaction(self.db)

    def create_campaign(
        self,
        cid: str,
        name: str,
        night: str,
        platform: str,
        config_path: str,
        config_hash: str,
        facts: HostFacts,
        runs: Sequence[PlannedRow],
    ) -> None:
        """The campaign and all its planned runs, in one transaction."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO campaigns VALUES (?,?,?,?,?,?,?,NULL,?,?)",
                (
                    cid,
                    name,
                    night,
                    platform,
                    config_path,
                    config_hash,
                    time.time(),
                    CampaignState.RUNNING.value,
                    json.dumps(facts.to_json()),
                ),
            )
            insert_planned(db, cid, runs)

    def add_runs(self, cid: str, runs: Sequence[PlannedRow]) -> None:
        """More planned runs for a campaign (the next rounds of an adaptive night)."""
        with self._tx() as db:
            insert_planned(db, cid, runs)

    def latest_unfinished(self, name: str) -> tuple[str, str] | None:
        row = self.db.execute(
            "SELECT id, config_hash FROM campaigns WHERE name=? AND status!=? "
            "ORDER BY started DESC LIMIT 1",
            (name, CampaignState.FINISHED.value),
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def campaign(self, cid: str) -> CampaignRecord | None:
        cur = self.db.execute("SELECT * FROM campaigns WHERE id=?", (cid,))
        row = cur.fetchone()
        if row is None:
            return None
        d = dict(zip([c[0] for c in cur.description], row, strict=True))
        try:
            facts = json.loads(d["facts"])
            host = HostFacts.from_json(facts) if facts else None
            return CampaignRecord(
                d["id"],
                d["name"],
                d["night"],
                d["platform"],
                d["config_path"],
                d["config_hash"],
                d["started"],
                d["finished"],
                CampaignState(d["status"]),
                host,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"{self.path}: campaign {cid}: unreadable ({exc})") from None

    def campaigns(self) -> list[CampaignRecord]:
        cur = self.db.execute("SELECT id FROM campaigns ORDER BY started")
        return [c for (cid,) in cur.fetchall() if (c := self.campaign(cid)) is not None]

    def runs(self, cid: str | None = None) -> list[RunRecord]:
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
            try:
                raw = json.loads(d.pop("manifest"))
                d["levels"] = tuple(json.loads(d["levels"]).items())
                d["status"] = RunState(d["status"])
                d["manifest"] = RunManifest.from_json(raw) if raw else None
            except ValueError as exc:
                raise LedgerError(
                    f"{self.path}: run {d['run_id']}: {exc}; move the ledger away to start anew"
                ) from None
            out.append(RunRecord(**d))
        return out

    def start_run(self, run_id: str, manifest: RunManifest) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, reason=NULL, started=?, ended=NULL, "
                "manifest=? WHERE run_id=?",
                (RunState.RUNNING.value, time.time(), json.dumps(manifest.to_json()), run_id),
            )

    def finish_run(
        self,
        run_id: str,
        status: RunState,
        reason: str | None,
        manifest: RunManifest,
        steady: tuple[float, float] | None,
        achieved_rate: float | None,
    ) -> None:
        if not status.finished:
            raise ValueError(status)
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, reason=?, ended=?, steady_start=?, steady_end=?, "
                "achieved_rate=?, manifest=? WHERE run_id=?",
                (
                    status.value,
                    reason,
                    time.time(),
                    steady[0] if steady else None,
                    steady[1] if steady else None,
                    achieved_rate,
                    json.dumps(manifest.to_json()),
                    run_id,
                ),
            )

    def interrupt_run(self, run_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, ended=? WHERE run_id=?",
                (RunState.INTERRUPTED.value, time.time(), run_id),
            )

    def finish_campaign(self, cid: str, status: CampaignState) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE campaigns SET status=?, finished=? WHERE id=?",
                (status.value, time.time(), cid),
            )
