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
    """``{"cpu": total, "cpu0": ..., "cpu1": ...}`` from /proc/stat (the cpu lines come first)."""
    out: dict[str, CpuTimes] = {}
    for line in text.splitlines():
        if not line.startswith("cpu"):
            if out:
                break
            continue
        parts = line.split()
        values = [int(v) for v in parts[1:9]]
        values += [0] * (8 - len(values))
        out[parts[0]] = CpuTimes(*values)
    if not out:
        raise ValueError("no cpu lines in /proc/stat")
    return out


def parse_meminfo(text: str, keys: frozenset[str] | None = None) -> dict[str, int]:
    """/proc/meminfo in bytes; with ``keys``, stops once those are found."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        key = key.strip()
        if keys is not None and key not in keys:
            continue
        fields = rest.split()
        if not fields:
            continue
        value = int(fields[0])
        if len(fields) > 1 and fields[1] == "kB":
            value *= 1024
        out[key] = value
        if keys is not None and len(out) == len(keys):
            break
    return out


def parse_snmp(text: str, proto: str | None = None) -> dict[str, dict[str, int]]:
    """/proc/<pid>/net/snmp or netstat: header and value lines in pairs, per protocol.

    With ``proto`` only that protocol's pair is parsed (the files hold a dozen).
    """
    out: dict[str, dict[str, int]] = {}
    lines = text.splitlines()
    if proto is not None:
        tag = proto + ":"
        heads = [i for i, line in enumerate(lines) if line.startswith(tag)]
        if len(heads) < 2:
            return out
        pairs = [(lines[heads[0]], lines[heads[1]])]
    else:
        pairs = list(zip(lines[::2], lines[1::2], strict=False))
    for head, vals in pairs:
        name, _, names = head.partition(":")
        name2, _, values = vals.partition(":")
        if name != name2:
            raise ValueError(f"snmp: unpaired lines for {name!r}")
        out[name] = dict(zip(names.split(), (int(v) for v in values.split()), strict=False))
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


def parse_slab_objsize(text: str, cache: str) -> int | None:
    """The object size in bytes of one slab cache in /proc/slabinfo (None when absent)."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == cache and len(parts) > 3:
            return int(parts[3])
    return None


@dataclass(frozen=True, slots=True)
class PidStat:
    utime: int  # jiffies
    stime: int  # jiffies
    start: int  # jiffies after boot: with the pid, identifies one process
    rss_pages: int


def parse_pid_stat(text: str) -> PidStat:
    """/proc/<pid>/stat fields after the name (which may hold spaces or ')')."""
    rest = text[text.rindex(")") + 2 :].split()
    return PidStat(int(rest[11]), int(rest[12]), int(rest[19]), int(rest[21]))


def parse_cgroup_v2_cpu(text: str) -> int:
    """``usage_usec`` from a cgroup v2 cpu.stat, in nanoseconds."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) * 1000
    raise ValueError("cpu.stat: no usage_usec")
