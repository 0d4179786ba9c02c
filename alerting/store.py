"""Alert state and the notification outbox, in SQLite under the state directory.

An alert is recorded once (its identity: kind, configuration and the night its change began;
the same change re-found a night or two apart, as a newest-night estimate settles, is the same
alert; a drift, dated where its trending window starts, is the same drift for a month).
Recording an alert and queueing its message happen in one transaction, and a message
leaves the outbox only once it was delivered: a notifier outage loses nothing, and a restart
sends each message exactly once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alerting.errors import AlertingError
from alerting.evaluate import Alert, Item
from contracts.errors import ErrorKind
from contracts.sqlite import open_state, transaction
from contracts.states import AlertKind, AlertState

STATES = tuple(s.value for s in AlertState)
SAME_CHANGE_NIGHTS = 2
SAME_DRIFT_NIGHTS = 30  # a drift is dated where its window starts, which moves every night
APPLICATION_ID = 0x74617232  # "tar2": a tare alert store

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    key TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    platform TEXT NOT NULL,
    campaign TEXT NOT NULL,
    cell TEXT NOT NULL,
    night TEXT NOT NULL,
    state TEXT NOT NULL,
    note TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    alert TEXT NOT NULL,
    context TEXT NOT NULL,
    delivery TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    action TEXT NOT NULL,
    message TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent REAL
);
"""


class UnknownAlert(AlertingError):
    """No alert (or more than one) has that id."""

    kind = ErrorKind.USAGE


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: str
    alert: Alert
    state: str
    note: str | None
    created: float
    updated: float
    context: dict[str, Any]
    delivery: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    alert_id: str
    action: str  # "post" | "update"
    message: dict[str, Any]
    attempts: int


def alert_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def alert_to_json(a: Alert) -> str:
    return json.dumps(asdict(a), sort_keys=True)


def alert_from_json(text: str) -> Alert:
    d = json.loads(text)
    items = tuple(
        Item(**{**i, "ci": tuple(i["ci"]) if i["ci"] is not None else None}) for i in d["items"]
    )
    return Alert(AlertKind(d["kind"]), d["platform"], d["campaign"], d["cell"], d["night"], items)


def _night(n: str) -> dt.date:
    return dt.date.fromisoformat(n)


class AlertStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_state(path, SCHEMA, APPLICATION_ID, "alert store")
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> Any:
        return transaction(self._db)

    def known(self, a: Alert) -> str | None:
        """The id of the alert this one repeats: same key, or the same kind and configuration
        with a change night at most SAME_CHANGE_NIGHTS apart and a KPI in common."""
        row = self._db.execute("SELECT id FROM alerts WHERE key=?", (a.key,)).fetchone()
        if row is not None:
            return str(row["id"])
        kpis = {i.kpi for i in a.items}
        rows = self._db.execute(
            "SELECT id, night, alert FROM alerts WHERE kind=? AND platform=? AND campaign=? "
            "AND cell=?",
            (a.kind, a.platform, a.campaign, a.cell),
        ).fetchall()
        same = SAME_DRIFT_NIGHTS if a.kind is AlertKind.DRIFT else SAME_CHANGE_NIGHTS
        for r in rows:
            if abs((_night(r["night"]) - _night(a.night)).days) > same:
                continue
            if kpis & {i.kpi for i in alert_from_json(r["alert"]).items}:
                return str(r["id"])
        return None

    def record(self, a: Alert, context: dict[str, Any], message: dict[str, Any]) -> str | None:
        """Record a new alert and queue its message; None when it is already known."""
        with self._tx() as db:
            if self.known(a) is not None:
                return None
            aid = alert_id(a.key)
            now = time.time()
            db.execute(
                "INSERT INTO alerts (id, key, kind, platform, campaign, cell, night, state, "
                "created, updated, alert, context) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    aid,
                    a.key,
                    a.kind,
                    a.platform,
                    a.campaign,
                    a.cell,
                    a.night,
                    AlertState.NEW.value,
                    now,
                    now,
                    alert_to_json(a),
                    json.dumps(context, sort_keys=True),
                ),
            )
            db.execute(
                "INSERT INTO outbox (alert_id, action, message, created) VALUES (?,?,?,?)",
                (aid, "post", json.dumps(message), now),
            )
            return aid

    def resolve_id(self, prefix: str) -> str:
        rows = self._db.execute(
            "SELECT id FROM alerts WHERE id LIKE ?", (prefix.lower() + "%",)
        ).fetchall()
        if len(rows) != 1:
            why = "no alert" if not rows else f"{len(rows)} alerts"
            raise UnknownAlert(f"{why} with id {prefix!r} (see `tare alerts list`)")
        return str(rows[0]["id"])

    def set_state(
        self, aid: str, state: str, note: str | None, message: dict[str, Any] | None
    ) -> StoredAlert:
        """Change an alert's state and queue the update of its message (when given)."""
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")
        with self._tx() as db:
            now = time.time()
            db.execute(
                "UPDATE alerts SET state=?, note=?, updated=? WHERE id=?", (state, note, now, aid)
            )
            if message is not None:
                db.execute(
                    "INSERT INTO outbox (alert_id, action, message, created) VALUES (?,?,?,?)",
                    (aid, "update", json.dumps(message), now),
                )
        return self.get(aid)

    def get(self, aid: str) -> StoredAlert:
        row = self._db.execute("SELECT * FROM alerts WHERE id=?", (aid,)).fetchone()
        if row is None:
            raise UnknownAlert(f"no alert with id {aid!r}")
        return _stored(row)

    def alerts(self, state: str | None = None) -> list[StoredAlert]:
        if state is None:
            rows = self._db.execute("SELECT * FROM alerts ORDER BY night, created").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM alerts WHERE state=? ORDER BY night, created", (state,)
            ).fetchall()
        return [_stored(r) for r in rows]

    def outbox(self) -> list[OutboxEntry]:
        rows = self._db.execute("SELECT * FROM outbox WHERE sent IS NULL ORDER BY seq").fetchall()
        return [
            OutboxEntry(
                r["seq"], r["alert_id"], r["action"], json.loads(r["message"]), r["attempts"]
            )
            for r in rows
        ]

    def mark_sent(self, seq: int, delivery: dict[str, Any] | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET sent=?, attempts=attempts+1, last_error=NULL WHERE seq=?",
                (time.time(), seq),
            )
            if delivery is not None:
                db.execute(
                    "UPDATE alerts SET delivery=? "
                    "WHERE id=(SELECT alert_id FROM outbox WHERE seq=?)",
                    (json.dumps(delivery), seq),
                )

    def mark_failed(self, seq: int, error: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=? WHERE seq=?", (error, seq)
            )


def _stored(r: sqlite3.Row) -> StoredAlert:
    return StoredAlert(
        r["id"],
        alert_from_json(r["alert"]),
        r["state"],
        r["note"],
        r["created"],
        r["updated"],
        json.loads(r["context"]),
        json.loads(r["delivery"]) if r["delivery"] else None,
    )
