"""Start, find and stop the daemons tare owns, through pid files it writes itself.

A pid file holds the pid and the process start time, so a recycled pid is never mistaken for
ours and ``down`` stops only what tare started.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from contracts import processes

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProcSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    log_file: Path


def pid_file(pid_dir: Path, name: str) -> Path:
    return pid_dir / f"tare-{name}.pid"


def start(spec: ProcSpec, pid_dir: Path) -> int:
    """Start ``spec`` in its own session, output appended to its log file; record its pid."""
    pid_dir.mkdir(parents=True, exist_ok=True)
    spec.log_file.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **spec.env}
    with spec.log_file.open("ab") as out:
        proc = subprocess.Popen(
            list(spec.argv),
            cwd=spec.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    created = psutil.Process(proc.pid).create_time()
    pid_file(pid_dir, spec.name).write_text(f"{proc.pid}\n{created!r}\n")
    log.info("started %s pid %d: %s", spec.name, proc.pid, " ".join(spec.argv))
    return proc.pid


def running_pid(pid_dir: Path, name: str) -> int | None:
    """The pid of our process ``name`` if it is alive (not a zombie, not a recycled pid)."""
    path = pid_file(pid_dir, name)
    try:
        pid_text, created_text = path.read_text().split()[:2]
        pid, created = int(pid_text), float(created_text)
    except (OSError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - created) > 0.5:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return pid


def stop(pid_dir: Path, name: str, timeout_s: float = 15.0) -> bool:
    """Stop our process ``name`` and its process group; True when something was stopped."""
    pid = running_pid(pid_dir, name)
    path = pid_file(pid_dir, name)
    if pid is None:
        path.unlink(missing_ok=True)
        return False
    if processes.stop(pid, timeout_s=timeout_s):
        log.warning("%s pid %d ignored SIGTERM for %.0f s; killed it", name, pid, timeout_s)
    path.unlink(missing_ok=True)
    log.info("stopped %s pid %d", name, pid)
    return True


def port_holder(host: str, port: int) -> str | None:
    """Describe who listens on host:port (``pid 12 (nc)``), or None when the port is free."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            pass
        else:
            return None
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return "another process"
                try:
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                except psutil.Error:
                    return f"pid {conn.pid}"
    except psutil.Error:
        pass
    return "another process"
