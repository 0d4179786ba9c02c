"""Pure parsers for the Linux files the collectors read (text in, typed values out).

Nothing here opens a file, so every parser is tested with plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass

CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Cumulative jiffies of one CPU line of /proc/stat (guest time is already in user)."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int
    irq: int
    softirq: int
    steal: int

    @property
    def idle_all(self) -> int:
        return self.idle + self.iowait


def parse_proc_stat(text: str) -> dict[str, CpuTimes]:
    """``{"cpu": total, "cpu0": ..., "cpu1": ...}`` from /proc/stat."""
    out: dict[str, CpuTimes] = {}
    for line in text.splitlines():
        if not line.startswith("cpu"):
            continue
        parts = line.split()
        values = [int(v) for v in parts[1:9]]
        values += [0] * (8 - len(values))
        out[parts[0]] = CpuTimes(*values)
    if not out:
        raise ValueError("no cpu lines in /proc/stat")
    return out


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo in bytes (``MemAvailable`` etc.)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if not fields:
            continue
        value = int(fields[0])
        if len(fields) > 1 and fields[1] == "kB":
            value *= 1024
        out[key.strip()] = value
    return out


def parse_snmp(text: str) -> dict[str, dict[str, int]]:
    """/proc/<pid>/net/snmp: header and value lines in pairs, per protocol."""
    out: dict[str, dict[str, int]] = {}
    lines = text.splitlines()
    for head, vals in zip(lines[::2], lines[1::2], strict=False):
        proto, _, names = head.partition(":")
        proto2, _, values = vals.partition(":")
        if proto != proto2:
            raise ValueError(f"snmp: unpaired lines for {proto!r}")
        out[proto] = dict(zip(names.split(), (int(v) for v in values.split()), strict=False))
    return out


def parse_sockstat(text: str) -> dict[str, int]:
    """``TCP: inuse 9 orphan 0 tw 17 alloc 9 mem 221`` as {inuse, orphan, tw, alloc, mem}."""
    for line in text.splitlines():
        if line.startswith("TCP:"):
            parts = line.split()[1:]
            return {k: int(v) for k, v in zip(parts[::2], parts[1::2], strict=False)}
    raise ValueError("sockstat: no TCP line")


@dataclass(frozen=True, slots=True)
class IfCounters:
    rx_bytes: int
    rx_packets: int
    rx_drops: int
    tx_bytes: int
    tx_packets: int
    tx_drops: int


def parse_net_dev(text: str) -> dict[str, IfCounters]:
    out: dict[str, IfCounters] = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        f = [int(v) for v in rest.split()]
        if len(f) < 16:
            continue
        out[name.strip()] = IfCounters(f[0], f[1], f[3], f[8], f[9], f[11])
    return out


def parse_conntrack_stat(text: str) -> dict[str, int]:
    """/proc/<pid>/net/stat/nf_conntrack: hex per-CPU rows; ``entries`` taken once, rest summed."""
    lines = text.split("\n")
    names = lines[0].split()
    total: dict[str, int] = dict.fromkeys(names, 0)
    rows = [line.split() for line in lines[1:] if line.strip()]
    for row in rows:
        for name, value in zip(names, row, strict=False):
            total[name] += int(value, 16)
    if rows and "entries" in names:
        total["entries"] = int(rows[0][names.index("entries")], 16)
    return total


def parse_pid_stat(text: str) -> tuple[int, int]:
    """utime and stime (jiffies) from /proc/<pid>/stat; the name may hold spaces or ')'."""
    rest = text[text.rindex(")") + 2 :].split()
    return int(rest[11]), int(rest[12])


def parse_statm_resident(text: str) -> int:
    """Resident pages from /proc/<pid>/statm."""
    return int(text.split()[1])


def parse_cgroup_v2_cpu(text: str) -> int:
    """``usage_usec`` from a cgroup v2 cpu.stat, in nanoseconds."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) * 1000
    raise ValueError("cpu.stat: no usage_usec")
