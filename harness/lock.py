"""One lab per machine: an exclusive lock under ``/run/tare`` naming its holder. A lab on hosts
reached over SSH locks each of its hosts instead (``host=``), so campaigns on distinct hosts run
at once and two that would share a host do not.

Every verb that builds a lab (``run``, ``calibrate``, ``capacity``, and the scheduler) takes it,
whatever its state directory: two campaigns on the same cores would each disturb the other and
both report valid runs. The lock is an ``flock`` on ``lab.lock``, so a holder that dies (even by
SIGKILL) releases it; the file names the last holder (pid, verb, campaign, state directory,
since when) for the refusal message. ``TARE_LOCK_DIR`` moves it (for a
machine without a writable ``/run``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from contracts.errors import ErrorKind
from harness.errors import HarnessError

ENV = "TARE_LOCK_DIR"
DEFAULT_DIR = Path("/run/tare")


class LabBusy(HarnessError):
    kind = ErrorKind.SERVICE_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    verb: str
    campaign: str
    state_dir: str
    since: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return (
            f"pid {self.pid} (tare {self.verb}, campaign {self.campaign}, "
            f"state dir {self.state_dir}, since {when})"
        )


def lock_dir() -> Path:
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    try:
        DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
        if os.access(DEFAULT_DIR, os.W_OK):
            return DEFAULT_DIR
    except OSError:
        pass
    return Path("/tmp/tare-lock")


def _read_holder(fh: IO[str]) -> Holder | None:
    fh.seek(0)
    text = fh.read().strip()
    try:
        data = json.loads(text)
        return Holder(
            int(data["pid"]),
            str(data["verb"]),
            str(data["campaign"]),
            str(data["state_dir"]),
            float(data["since"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


class LabLock:
    """``with LabLock(verb, campaign, state_dir):`` -- refused with LabBusy naming the holder."""

    def __init__(
        self,
        verb: str,
        campaign: str,
        state_dir: Path,
        directory: Path | None = None,
        host: str | None = None,  # a host reached over SSH (None: this machine)
    ) -> None:
        self.directory = directory or lock_dir()
        self.host = host
        name = "lab" if host is None else "host-" + hashlib.sha1(host.encode()).hexdigest()[:16]
        self.path = self.directory / f"{name}.lock"
        self.holder = Holder(os.getpid(), verb, campaign, str(state_dir.resolve()), time.time())
        self.fh: IO[str] | None = None

    def __enter__(self) -> LabLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o666)  # a loopback lab of another user must be able to wait
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fh)
            fh.close()
            who = holder.describe() if holder else "another tare process"
            if self.host is None:
                raise LabBusy(
                    f"the lab is in use by {who}; one lab per machine (lock {self.path})"
                ) from None
            raise LabBusy(
                f"the host {self.host} is in use by {who}; one lab per host (lock {self.path})"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(asdict(self.holder)) + "\n")
        fh.flush()
        self.fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None
