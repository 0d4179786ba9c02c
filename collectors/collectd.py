"""Find collectd, check a config with it, start it (with ``collectd_run``, the only modules
that run the collectd binary)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from collectors.errors import CollectorError
from contracts.errors import ErrorKind

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


def last_words(text: str, errors_only: bool = False) -> str:
    """The last line that reads like an error, else (unless ``errors_only``: then "") the last
    line (collectd's log lines carry a ``[timestamp]``, dropped here)."""
    lines = [re.sub(r"^\[[^]]*\]\s*", "", x).strip() for x in text.splitlines()]
    lines = [x for x in lines if x and not x.startswith("Error: Parsing the config file")]
    errors = [x for x in lines if _ERROR_WORDS.search(x)]
    if errors_only:
        return errors[-1] if errors else ""
    return (errors or lines or ["no output"])[-1]


def size(path: Path) -> int:
    """A log's length now (0 when it is not there yet): where a new daemon's lines start."""
    return path.stat().st_size if path.exists() else 0


def since(path: Path, offset: int) -> str:
    """What a log gained after ``offset``."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def preflight(exe: Path, conf: Path, log_file: Path | None = None, timeout_s: float = 60.0) -> None:
    """``collectd -T`` loads plugins and runs one read cycle; ``-t`` passes configs it rejects
    (a Python plugin that cannot be imported among them). The error named is the last one in
    ``log_file`` (where the logfile plugin writes) or on stderr."""
    offset = size(log_file) if log_file is not None else 0
    proc = subprocess.run(
        [str(exe), "-T", "-C", str(conf)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        logged = since(log_file, offset) if log_file is not None else ""
        detail = last_words(logged + "\n" + proc.stderr + proc.stdout)
        raise CollectdUnavailable(f"collectd rejected {conf}: {detail}")


def daemon_argv(exe: Path, conf: Path) -> tuple[str, ...]:
    """collectd in the foreground with ``conf`` (the stack starts this as its own process)."""
    return (str(exe), "-f", "-C", str(conf))


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM when tare dies, so collectd is never orphaned."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
