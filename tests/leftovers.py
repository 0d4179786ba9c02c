"""What a lab test may leave behind on the machine: network namespaces, cgroups, nft tables of
the root namespace and processes. The suite takes a snapshot before the first test and fails the
run at its end if anything was added since (``tests/conftest.py``), so that a test cannot poison
the tests after it, nor a user's machine, unseen."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.lab import CGROUP_ROOT

# the programs a lab test starts (directly or through tare); any of them still running after the
# suite, and started during it, is a leftover wherever its command line points
PROGRAMS = frozenset(
    {
        "h2load",
        "httperf",
        "nginx",
        "collectd",
        "carbon-c-relay",
        "sshd",
        "tare-refagent",
        "tare-ballast",
        "tare-sleeper",
    }
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    netns: frozenset[str]
    cgroups: frozenset[str]
    nft_tables: frozenset[str]
    processes: frozenset[tuple[int, str]]  # (pid, command line)


def _lines(argv: list[str]) -> list[str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def _netns() -> frozenset[str]:
    return frozenset(line.split()[0] for line in _lines(["ip", "netns", "list"]))


def _cgroups() -> frozenset[str]:
    found: set[str] = set()
    for top in (CGROUP_ROOT, *[p for p in CGROUP_ROOT.iterdir() if p.is_dir()]):
        try:
            children = list(top.iterdir())
        except OSError:
            continue
        for child in children:
            if not child.is_dir() or not child.name.startswith("tare"):
                continue
            found.add(str(child))
            found.update(str(d) for d in child.iterdir() if d.is_dir())
    return frozenset(found)


def _processes(mine: int, marks: tuple[str, ...]) -> frozenset[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == mine:
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if not raw or state == "Z":  # a kernel thread, or exited and not yet reaped
            continue
        argv = raw.rstrip(b"\0").decode(errors="replace").split("\0")
        cmdline = " ".join(argv)
        program = Path(argv[0].split()[0]).name if argv[0] else ""
        if program in PROGRAMS or any(m in cmdline for m in marks):
            found.add((int(entry.name), cmdline))
    return frozenset(found)


def snapshot(marks: tuple[str, ...] = ()) -> Snapshot:
    """What is there now; ``marks`` are texts (the suite's temporary directory, ``-m tare``) that
    make a process one of the suite's whatever its program."""
    return Snapshot(
        netns=_netns(),
        cgroups=_cgroups() if CGROUP_ROOT.is_dir() else frozenset(),
        nft_tables=frozenset(_lines(["nft", "list", "tables"]))
        if os.geteuid() == 0
        else frozenset(),
        processes=_processes(os.getpid(), marks),
    )


def added(before: Snapshot, after: Snapshot) -> list[str]:
    """One line per thing that is there now and was not before."""
    out = [f"network namespace {n}" for n in sorted(after.netns - before.netns)]
    out += [f"cgroup {c}" for c in sorted(after.cgroups - before.cgroups)]
    out += [f"nft {t} (root namespace)" for t in sorted(after.nft_tables - before.nft_tables)]
    out += [
        f"process {pid}: {cmd[:200]}" for pid, cmd in sorted(after.processes - before.processes)
    ]
    return out
