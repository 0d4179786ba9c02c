"""The run's machine-speed index, measured before the agent is there.

On a shared machine the same work costs more CPU time when the neighbours are busy (contention
on shared cores and caches, invisible as steal), and that moves whole runs: at 5K conn/s
baselines one minute apart read 37 and 47 points of a core. Each run therefore begins with a
*probe*: once the workload answers and before any agent step, the run's own load for a few
seconds on the bare workload, and what the CPU KPIs read meanwhile. A baseline run is probed
the same way. The agent cannot move the probe (it is not installed yet), so the probe is a
sound covariate for the run's CPU KPIs (``pipeline.stats.ancova``), where a figure measured
during the run would not be.

Reading /proc and the cgroup is I/O (``read_cpu``); the arithmetic is pure (``values``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from contracts.cpus import labels
from contracts.manifest import Probe
from harness import load as loadmod
from harness.lab import CGROUP_ROOT, Lab
from harness.load import LoadSpec

# Fixed work on the workload's core: the CPU time (ms) of a pass over 8 MB (beyond the core's
# own caches) and a loop of arithmetic, the median of its repeats: what the machine's speed of
# the moment makes of the same instructions
SPIN = (
    "import statistics,time\n"
    "b=bytearray(8<<20)\n"
    "def one():\n"
    "    t=time.process_time_ns()\n"
    "    s=0\n"
    "    for i in range(0,len(b),256):\n"
    "        s+=b[i]+i*i\n"
    "    return (time.process_time_ns()-t)/1e6\n"
    "print(statistics.median(one() for _ in range(15)))\n"
)
HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MIN_RATIO = 0.9  # a probe that offered less than this share of its load is no index


@dataclass(frozen=True, slots=True)
class CpuReading:
    at: float  # monotonic seconds
    cgroup_ns: int | None  # the workload cgroup's CPU time
    idle: dict[str, int]  # per core ("cpu0", ...): idle + iowait ticks


def parse_idle(text: str) -> dict[str, int]:
    """Idle + iowait ticks of every core line of /proc/stat (not the "cpu" total)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or not parts[0].startswith("cpu"):
            if out:
                break
            continue
        if parts[0] != "cpu":
            out[parts[0]] = int(parts[4]) + int(parts[5])
    return out


def _cgroup_ns(rel: str) -> int | None:
    v1 = CGROUP_ROOT / "cpuacct" / rel / "cpuacct.usage"
    if v1.exists():
        return int(v1.read_text().strip())
    v2 = CGROUP_ROOT / rel / "cpu.stat"
    if v2.exists():
        for line in v2.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) * 1000
    return None


def read_cpu(cgroup: str | None, proc: Path = Path("/proc")) -> CpuReading:
    at = time.monotonic()
    idle = parse_idle((proc / "stat").read_text())
    return CpuReading(at, _cgroup_ns(cgroup) if cgroup else None, idle)


def values(
    a: CpuReading, b: CpuReading, workload_cores: tuple[str, ...], scale: float
) -> dict[str, float]:
    """The probe's CPU KPIs, in points of one core, as the run's KPIs name them (the workload's
    cores summed), each times ``scale`` (the planned over the achieved rate: the index of the
    run's planned load)."""
    dt = b.at - a.at
    if dt <= 0:
        return {}
    busy = {
        core: max(0.0, 100.0 - (b.idle[core] - a.idle[core]) * 100.0 / (HZ * dt))
        for core in b.idle
        if core in a.idle
    }
    out = {"cpu_all": sum(busy.values())}
    if workload_cores and all(f"cpu{c}" in busy for c in workload_cores):
        out["cpu_workload_core"] = sum(busy[f"cpu{c}"] for c in workload_cores)
    if a.cgroup_ns is not None and b.cgroup_ns is not None:
        out["cpu_cgroup"] = (b.cgroup_ns - a.cgroup_ns) / 1e9 / dt * 100.0
    return {k: round(v * scale, 4) for k, v in out.items()}


def measure(lab: Lab, spec: LoadSpec, log_file: Path) -> Probe | str:
    """Run ``spec`` (the run's load, for the probe's seconds) against the bare workload and
    read the CPU KPIs around it; the probe, or why there is none (one line)."""
    if lab.workload.transport is not None or lab.load.transport is not None:
        return "no probe on a lab with a host over SSH (its CPU is read here)"
    if spec.tool != "h2load":
        return f"no probe with {spec.tool} (its per-request log is h2load's)"
    cores = labels(lab.workload.cpus) if lab.workload.cpus else ()
    spun = lab.workload.run([sys.executable, "-c", SPIN], 30, in_cgroup=False)
    try:
        spin_ms: float | None = float(spun.stdout.strip())
    except ValueError:
        spin_ms = None
    argv = loadmod.command(spec, str(log_file))
    before = read_cpu(lab.cgroup)
    try:
        lab.load.run(argv, spec.duration_s * 3 + 10)
    except subprocess.TimeoutExpired:
        return f"the probe's load did not end within {spec.duration_s * 3 + 10} s"
    after = read_cpu(lab.cgroup)
    try:
        reqlog = loadmod.parse_h2load_log(log_file.read_text())
    except (OSError, ValueError) as exc:
        return f"the probe's load log: {exc}"
    done = len(loadmod.ok_starts(reqlog))
    offered = spec.requests
    if offered <= 0 or done < MIN_RATIO * offered:
        return f"the probe reached {done} of {offered} requests"
    elapsed = after.at - before.at
    got = values(before, after, cores, offered / done)
    if spin_ms is not None:
        got["spin_ms"] = round(spin_ms, 4)
    return Probe(round(elapsed, 3), round(done / offered, 4), tuple(sorted(got.items())))
