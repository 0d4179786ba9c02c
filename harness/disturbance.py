"""Is the lab alone on its machine? The CPU time that anything outside the lab took during a
run's load: every process not in the lab's two cgroups (workload, load generator), not a kernel
thread (those do the lab's own packet work: ksoftirqd) and not tare itself, plus the host's
steal time. A run above the campaign's limit is ``disturbed``: left out and re-run, the way
Datadog's SMP flags an "erratic" run instead of averaging it in.

Reading is I/O (``snapshot`` scans /proc); the arithmetic is pure (``share``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PF_KTHREAD = 0x00200000
HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float  # monotonic seconds
    ticks: dict[tuple[int, int], tuple[str, int]]  # (pid, start) -> (comm, utime+stime)
    steal: int  # ticks, all cores


@dataclass(frozen=True, slots=True)
class Disturbance:
    outside_pct: float  # points of one core, averaged over the window
    steal_pct: float
    top: tuple[tuple[str, float], ...]  # the busiest outsiders: (comm, points of one core)

    @property
    def total_pct(self) -> float:
        return self.outside_pct + self.steal_pct

    def describe(self) -> str:
        who = ", ".join(f"{c} {p:.1f}" for c, p in self.top) or "none"
        return (
            f"{self.total_pct:.1f} points of a core outside the lab "
            f"(processes {self.outside_pct:.1f}: {who}; steal {self.steal_pct:.1f})"
        )


def _stat(text: str) -> tuple[str, int, int, int] | None:
    """(comm, flags, CPU ticks, start) of /proc/<pid>/stat. The ticks are its own (utime,
    stime) and those of the children it has reaped (cutime, cstime): a short job that starts
    and ends between two snapshots still shows, in its parent's count."""
    try:
        head, rest = text.rsplit(")", 1)
        comm = head.split("(", 1)[1]
        f = rest.split()
        return comm, int(f[6]), sum(int(v) for v in f[11:15]), int(f[19])
    except (ValueError, IndexError):
        return None


def _in_lab(cgroup_text: str, lab_cgroups: Iterable[str]) -> bool:
    paths = [line.split(":", 2)[-1] for line in cgroup_text.splitlines() if line]
    return any(p.rstrip("/").endswith("/" + rel) for p in paths for rel in lab_cgroups)


def snapshot(lab_cgroups: Iterable[str], at: float, proc: Path = Path("/proc")) -> Snapshot:
    """Every outsider's CPU ticks now (``lab_cgroups``: paths relative to the cgroup roots)."""
    lab = tuple(lab_cgroups)
    me = os.getpid()
    ticks: dict[tuple[int, int], tuple[str, int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            parsed = _stat((entry / "stat").read_text())
            if parsed is None or parsed[1] & PF_KTHREAD:
                continue
            if lab and _in_lab((entry / "cgroup").read_text(), lab):
                continue
        except OSError:
            continue  # gone meanwhile
        comm, _flags, cpu, start = parsed
        ticks[(int(entry.name), start)] = (comm, cpu)
    steal = 0
    try:
        first = (proc / "stat").read_text().splitlines()[0].split()
        steal = int(first[8]) if len(first) > 8 else 0
    except (OSError, IndexError, ValueError):
        pass
    return Snapshot(at, ticks, steal)


def share(before: Snapshot, after: Snapshot, hz: int = HZ) -> Disturbance:
    """What outsiders used between two snapshots. A process that started meanwhile counts from
    zero; one that ended meanwhile counts in its parent once reaped (not at all when both
    ended, or when its parent is tare or in the lab)."""
    wall = max(after.at - before.at, 1e-9)
    used: dict[str, float] = {}
    for key, (comm, cpu) in after.ticks.items():
        start = before.ticks.get(key, (comm, 0))[1]
        if cpu > start:
            used[comm] = used.get(comm, 0.0) + (cpu - start) / hz / wall * 100
    top = tuple(sorted(used.items(), key=lambda kv: -kv[1])[:3])
    steal = max(0, after.steal - before.steal) / hz / wall * 100
    return Disturbance(sum(used.values()), steal, top)
