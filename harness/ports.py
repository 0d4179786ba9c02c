"""Who holds the workload's port: free before the workload starts, the workload's own after.

A readiness probe alone cannot tell the workload from another listener on the same port (a
leftover server, a developer's process): the load would then run against that one. So before
the workload starts its port must have no listener in its namespace, and once the probe passes
the listening socket must belong to the workload's process or one of its descendants
(``ss -tlnp`` in the namespace names the owners).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.lab import Host

_USER = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


@dataclass(frozen=True, slots=True)
class Listener:
    process: str
    pid: int


def parse_ss(text: str) -> list[Listener]:
    """The processes named by ``ss -Htlnp`` lines (one socket may have several)."""
    return [Listener(name, int(pid)) for name, pid in _USER.findall(text)]


def listeners(host: Host, port: int) -> tuple[bool, list[Listener]]:
    """(any listening socket on ``port`` in the host's namespace, the processes that own them).
    A socket with no process shown belongs to another pid namespace or to the kernel."""
    proc = host.run(["ss", "-Htlnp", f"sport = :{port}"], 10, in_cgroup=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return bool(lines), parse_ss("\n".join(lines))


def descendants(pid: int, proc_root: Path = Path("/proc")) -> set[int]:
    """``pid`` and every process below it."""
    found = {pid}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for children in (proc_root / str(parent) / "task").glob("*/children"):
            try:
                kids = {int(k) for k in children.read_text().split()}
            except (OSError, ValueError):
                continue
            todo += sorted(kids - found)
            found |= kids
    return found


def describe(holders: list[Listener]) -> str:
    if not holders:
        return "a process outside this pid namespace"
    seen = dict.fromkeys(f"{h.process} (pid {h.pid})" for h in holders)
    return ", ".join(seen)
