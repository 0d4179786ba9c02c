"""An exclusive, non-blocking lock on an open file: fcntl where it exists (Linux, macOS),
msvcrt on Windows, so the standalone collector and its spool run everywhere. Where neither
exists the lock is skipped with one warning: one sender per spool is then the user's job."""

from __future__ import annotations

import importlib
import logging
from typing import IO, Any

log = logging.getLogger(__name__)


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def try_lock(fh: IO[str]) -> bool:
    """True when this process now holds the lock; False when another one does."""
    fcntl = _module("fcntl")
    if fcntl is not None:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    msvcrt = _module("msvcrt")
    if msvcrt is not None:
        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    log.warning("no file locking on this platform: %s is not locked", fh.name)
    return True
