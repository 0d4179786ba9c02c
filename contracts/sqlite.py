"""SQLite state files (the run ledger, the alert store): one way to open them and one
transaction helper."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def connect(path: Path, timeout_s: float = 30.0) -> sqlite3.Connection:
    """Autocommit mode (transactions are explicit, ``transaction``), WAL journal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
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
