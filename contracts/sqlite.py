"""SQLite state files (the run ledger, the alert store): one way to open them and one
transaction helper (``open_state``, ``transaction``).

A state file is opened in WAL mode with ``synchronous=FULL`` (a commit is on disk before it
returns, so a crash or power loss keeps every committed transaction and none half-done), is
checked before use (``PRAGMA quick_check``), and carries an ``application_id`` naming what it
is, so that a corrupt file, another program's database or the wrong tare file (the alert store
given as a ledger) is refused naming the file, never half-read; nothing is changed in a file
that is refused.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from contracts.errors import ErrorKind, TareError

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)


class StateFileError(TareError):
    """A state file that cannot be used as what it should be."""

    kind = ErrorKind.BAD_INPUT
    names_its_file = True


def open_state(path: Path, schema: str, application_id: int, what: str) -> sqlite3.Connection:
    """Open ``path`` and check that it is a sound ``what`` before anything writes to it; then
    switch it to WAL with FULL sync and create its tables.

    Raises StateFileError naming the file and what to do. A new (empty) file gets the schema
    and the id; a file made by an older tare (id 0, the same tables) gets the id added.
    """
    expected = set(_TABLE.findall(schema))
    advice = f"move it away (tare starts a new {what}) or restore it from a backup"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit (transactions are explicit); checked before the WAL switch writes to it
        db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            found_id = int(db.execute("PRAGMA application_id").fetchone()[0])
            tables = {
                str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if found_id not in (0, application_id) or (
                found_id == 0 and tables and not expected <= tables
            ):
                raise StateFileError(f"{path}: not a tare {what} (another file); {advice}")
            check = [str(r[0]) for r in db.execute("PRAGMA quick_check").fetchall()]
            if check != ["ok"]:
                raise StateFileError(f"{path}: damaged {what} ({check[0]}); {advice}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(schema)
            if found_id == 0:
                db.execute(f"PRAGMA application_id={int(application_id)}")
        except BaseException:
            db.close()
            raise
    except sqlite3.DatabaseError as exc:
        raise StateFileError(f"{path}: unreadable {what} ({exc}); {advice}") from None
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception (Ctrl-C included)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
