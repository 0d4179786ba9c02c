"""Find collectd, check a config with it and supervise the daemon (the only module that runs
the collectd binary)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from collectors.errors import CollectorError
from contracts.errors import ErrorKind
from contracts.processes import stop

SEARCH_PATH = "/usr/sbin:/usr/local/sbin:/sbin"
ENV = "TARE_COLLECTD_BIN"
log = logging.getLogger(__name__)
_ERROR_WORDS = re.compile(r"error|exception|failed|cannot|unable", re.IGNORECASE)


class CollectdUnavailable(CollectorError):
    """collectd is missing, or rejected a config."""

    kind = ErrorKind.SERVICE_UNAVAILABLE


def binary() -> Path | None:
    """``$TARE_COLLECTD_BIN`` when set (a collectd installed elsewhere), else collectd on the PATH
    or in the sbin directories."""
    given = os.environ.get(ENV)
    if given:
        return Path(given) if os.access(given, os.X_OK) else None
    found = shutil.which("collectd") or shutil.which("collectd", path=SEARCH_PATH)
    return Path(found) if found else None


def require_binary() -> Path:
    exe = binary()
    if exe is None:
        where = f" at ${ENV}={os.environ[ENV]}" if os.environ.get(ENV) else ""
        raise CollectdUnavailable(
            f"collectd is not installed{where} (apt-get install collectd-core libpython3.11; "
            'or collector = "sampler" or "auto" in [collect])'
        )
    return exe


def last_words(text: str) -> str:
    """The last line that reads like an error, else the last line (collectd's log lines carry
    a ``[timestamp]``, dropped here)."""
    lines = [re.sub(r"^\[[^]]*\]\s*", "", x).strip() for x in text.splitlines()]
    lines = [x for x in lines if x and not x.startswith("Error: Parsing the config file")]
    errors = [x for x in lines if _ERROR_WORDS.search(x)]
    return (errors or lines or ["no output"])[-1]


def preflight(exe: Path, conf: Path, log_file: Path | None = None, timeout_s: float = 60.0) -> None:
    """``collectd -T`` loads plugins and runs one read cycle; ``-t`` passes configs it rejects
    (a Python plugin that cannot be imported among them). The error named is the last one in
    ``log_file`` (where the logfile plugin writes) or on stderr."""
    offset = log_file.stat().st_size if log_file is not None and log_file.exists() else 0
    proc = subprocess.run(
        [str(exe), "-T", "-C", str(conf)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        logged = ""
        if log_file is not None and log_file.exists():
            with log_file.open("rb") as fh:
                fh.seek(offset)
                logged = fh.read().decode(errors="replace")
        detail = last_words(logged + "\n" + proc.stderr + proc.stdout)
        raise CollectdUnavailable(f"collectd rejected {conf}: {detail}")


def daemon_argv(exe: Path, conf: Path) -> tuple[str, ...]:
    """collectd in the foreground with ``conf`` (the stack starts this as its own process)."""
    return (str(exe), "-f", "-C", str(conf))


def supervise(
    exe: Path, conf: Path, duration_s: float | None, should_stop: Callable[[], bool]
) -> None:
    """Run ``collectd -f`` until the duration is over or ``should_stop``; a daemon that exits
    on its own raises with its last words; stopped with SIGTERM, then SIGKILL."""
    proc = subprocess.Popen(
        daemon_argv(exe, conf),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=die_with_parent,  # noqa: PLW1509 (no threads run here)
    )
    log.info("collectd pid %d with %s", proc.pid, conf)
    deadline = None if duration_s is None else time.monotonic() + duration_s
    try:
        while not should_stop():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise CollectdUnavailable(f"collectd exited with {proc.returncode}: {err.strip()}")
            time.sleep(0.2)
    finally:
        stop(proc, group=False, timeout_s=15)


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM when tare dies, so collectd is never orphaned."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
