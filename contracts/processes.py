"""Stopping a process and its group: SIGTERM, a grace period, then SIGKILL (the one helper);
and what a process that ended said last."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def log_tail(path: Path, lines: int = 3) -> str:
    """The last lines of a log file, joined with ' | ' for a one-line message ('' if none)."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def ended_mid_run(code: int, over_ssh: bool, log: Path) -> str:
    """How a process that should still run ended: its exit (ssh's, over SSH: 255 when the
    connection dropped) and the last line it, or ssh, printed."""
    how = f"ssh exit {code}" if over_ssh else f"exit {code}"
    last = log_tail(log, 1)
    return f"ended mid-run ({how}" + (f": {last})" if last else ")")


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (reaped here when it is our child)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
        if done == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
        return text[text.rindex(")") + 2] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid: int, sig: signal.Signals, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _wait(proc: subprocess.Popen[bytes] | int, timeout_s: float) -> bool:
    if isinstance(proc, subprocess.Popen):
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout_s
    while alive(proc):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop(
    proc: subprocess.Popen[bytes] | int,
    *,
    group: bool = True,
    timeout_s: float = 10.0,
    kill_timeout_s: float = 5.0,
) -> bool:
    """Stop a process (a ``Popen`` or a pid) and, with ``group``, its process group (it must
    lead one: ``start_new_session=True``). True when it had to be killed."""
    pid = proc.pid if isinstance(proc, subprocess.Popen) else proc
    if isinstance(proc, subprocess.Popen) and proc.poll() is not None:
        return False
    if not isinstance(proc, subprocess.Popen) and not alive(pid):
        return False
    _signal(pid, signal.SIGTERM, group)
    if _wait(proc, timeout_s):
        return False
    _signal(pid, signal.SIGKILL, group)
    _wait(proc, kill_timeout_s)
    return True
