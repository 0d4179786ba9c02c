"""One campaign at a time in a lab: an exclusive lock naming its holder."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from contracts.errors import ErrorKind
from harness.errors import HarnessError


class LabBusy(HarnessError):
    kind = ErrorKind.SERVICE_UNAVAILABLE


class LabLock:
    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "lab.lock"
        self.fh: IO[str] | None = None

    def __enter__(self) -> LabLock:
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another campaign"
            fh.close()
            raise LabBusy(f"the lab is in use by {holder}; one campaign at a time") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self.fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()
