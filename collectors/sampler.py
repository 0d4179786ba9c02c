"""One sample of every KPI, from /proc and cgroup files (Linux), as ``(group, metric, value)``.

Shared by the collectd plugin and ``tare collect``; uses the standard library only, because
collectd's embedded interpreter imports it. Each source is independent: a missing process,
namespace or cgroup is logged once and the other series keep flowing. Rates come from the
difference of two samples over the monotonic time between them, so the first sample has none.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from collectors import procfs
from contracts.labels import label

log = logging.getLogger(__name__)

Value = tuple[str, str, float]
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Matching processes are looked up again when one exits, and every RESCAN_S for new ones.
RESCAN_S = 30.0
MEMINFO_KEYS = frozenset({"MemTotal", "MemAvailable"})


@dataclass(frozen=True, slots=True)
class ProcMatch:
    """Processes to follow: by command name (``comm`` or argv[0] basename) or by pid file."""

    label: str
    name: str | None = None
    pid_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.name is None) == (self.pid_file is None):
            raise ValueError(f"process {self.label!r}: give exactly one of a name or a pid file")


@dataclass(frozen=True, slots=True)
class Targets:
    """What to sample; an empty field means that source is off."""

    netns: str | None = None  # a name under /run/netns: read its counters through a member pid
    netns_pid: int | None = None  # or directly a pid inside the namespace
    interfaces: tuple[str, ...] = ()  # empty: every interface but lo
    cgroup: str | None = None  # relative to the cgroup roots, e.g. "tare/workload"
    processes: tuple[ProcMatch, ...] = ()
    proc_root: Path = Path("/proc")
    cgroup_root: Path = Path("/sys/fs/cgroup")
    netns_dir: Path = Path("/run/netns")


class _Once:
    """Log each distinct problem once, and say when it clears."""

    def __init__(self) -> None:
        self.active: dict[str, str] = {}

    def problem(self, source: str, message: str) -> None:
        if self.active.get(source) != message:
            self.active[source] = message
            log.warning("%s: %s (other series keep flowing)", source, message)

    def ok(self, source: str) -> None:
        if self.active.pop(source, None) is not None:
            log.warning("%s: recovered", source)


@functools.lru_cache(maxsize=4096)
def _path(base: Path, *parts: str) -> Path:
    """Joined paths, built once: pathlib's joins cost more than the reads they name."""
    return base.joinpath(*parts)


class _Reader:
    """Keep /proc files open and re-read them with pread: no open/close per sample."""

    def __init__(self) -> None:
        self.fds: dict[Path, int] = {}

    def read(self, path: Path) -> str:
        fd = self.fds.get(path)
        if fd is None:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            self.fds[path] = fd
        try:
            chunks = []
            offset = 0
            while True:
                chunk = os.pread(fd, 65536, offset)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk)
            return b"".join(chunks).decode("ascii", "replace")
        except OSError:
            self.forget(path)
            raise

    def forget(self, path: Path) -> None:
        fd = self.fds.pop(path, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for path in list(self.fds):
            self.forget(path)


@dataclass
class _State:
    at: float = 0.0
    cpu: dict[str, procfs.CpuTimes] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)
    proc_ticks: dict[str, dict[tuple[int, int], int]] = field(default_factory=dict)


class Sampler:
    def __init__(self, targets: Targets, clock: Callable[[], float] = time.monotonic) -> None:
        self.t = targets
        self.clock = clock
        self.reader = _Reader()
        self.once = _Once()
        self.prev = _State()
        self.pids: dict[str, list[tuple[int, int]]] = {}
        self.pids_checked: dict[str, float] = {}
        self.netns_pid: int | None = targets.netns_pid
        self.cgroup_files: tuple[Path, Path, str] | None = None
        self._objsize: int | None = None  # 0: known to be unreadable

    def close(self) -> None:
        self.reader.close()

    # -- one sample --------------------------------------------------------------------------
    def sample(self) -> list[Value]:
        now = self.clock()
        dt = now - self.prev.at if self.prev.at else 0.0
        cur = _State(at=now)
        out: list[Value] = []
        for source, fn in (
            ("cpu", self._cpu),
            ("memory", self._memory),
            ("cgroup", self._cgroup),
            ("network namespace", self._net),
            ("processes", self._procs),
        ):
            try:
                fn(cur, dt, out)
                self.once.ok(source)
            except (OSError, ValueError, IndexError, KeyError) as exc:
                self.once.problem(source, str(exc) or type(exc).__name__)
        self.prev = cur
        return out

    def _rate(self, cur: _State, dt: float, key: str, value: float) -> float | None:
        cur.counters[key] = value
        before = self.prev.counters.get(key)
        if before is None or dt <= 0 or value < before:
            return None
        return (value - before) / dt

    def _cpu(self, cur: _State, dt: float, out: list[Value]) -> None:
        cpus = procfs.parse_proc_stat(self.reader.read(_path(self.t.proc_root, "stat")))
        cur.cpu = cpus
        if dt <= 0 or not self.prev.cpu:
            return
        cores = [name for name in cpus if name != "cpu"]
        totals = dict.fromkeys(
            ("busy_pct", "user_pct", "system_pct", "softirq_pct", "irq_pct", "steal_pct"), 0.0
        )
        for name in cores:
            a, b = self.prev.cpu.get(name), cpus[name]
            if a is None:
                continue
            scale = 100.0 / (CLK_TCK * dt)
            idle = (b.idle_all - a.idle_all) * scale
            values = {
                "busy_pct": min(100.0, max(0.0, 100.0 - idle)),
                "user_pct": (b.user + b.nice - a.user - a.nice) * scale,
                "system_pct": (b.system - a.system) * scale,
                "softirq_pct": (b.softirq - a.softirq) * scale,
                "irq_pct": (b.irq - a.irq) * scale,
                "steal_pct": (b.steal - a.steal) * scale,
            }
            group = f"cpu_{name[3:]}"
            for metric, value in values.items():
                out.append((group, metric, value))
                totals[metric] += value
        for metric, value in totals.items():
            out.append(("cpu_all", metric, value))

    def _memory(self, cur: _State, dt: float, out: list[Value]) -> None:
        info = procfs.parse_meminfo(
            self.reader.read(_path(self.t.proc_root, "meminfo")), MEMINFO_KEYS
        )
        available = info["MemAvailable"]
        out.append(("memory", "available_bytes", float(available)))
        out.append(("memory", "used_bytes", float(info["MemTotal"] - available)))

    # -- cgroup ------------------------------------------------------------------------------
    def _cgroup_paths(self) -> tuple[Path, Path, str]:
        """(cpu file, memory file, kind): cgroup v1 controllers first, then the v2 hierarchy."""
        rel = (self.t.cgroup or "").strip("/")
        root = self.t.cgroup_root
        v1_cpu = root / "cpuacct" / rel / "cpuacct.usage"
        v1_mem = root / "memory" / rel / "memory.usage_in_bytes"
        if v1_cpu.exists() and v1_mem.exists():
            return v1_cpu, v1_mem, "v1"
        for v2 in (root / rel, root / "unified" / rel):
            if (v2 / "cpu.stat").exists():
                mem = v2 / "memory.current"
                return v2 / "cpu.stat", mem if mem.exists() else v1_mem, "v2"
        raise FileNotFoundError(f"no cgroup {rel!r} under {root} (v1 cpuacct/memory or v2)")

    def _cgroup(self, cur: _State, dt: float, out: list[Value]) -> None:
        if not self.t.cgroup:
            return
        if self.cgroup_files is None:
            self.cgroup_files = self._cgroup_paths()
        cpu_file, mem_file, kind = self.cgroup_files
        try:
            text = self.reader.read(cpu_file)
            ns = procfs.parse_cgroup_v2_cpu(text) if kind == "v2" else int(text)
            rate = self._rate(cur, dt, "cgroup.cpu_ns", float(ns))
            if rate is not None:
                out.append(("cgroup", "cpu_pct", rate / 1e7))
            if mem_file.exists():
                out.append(("cgroup", "memory_bytes", float(self.reader.read(mem_file))))
        except OSError:
            self.cgroup_files = None  # recreated cgroup: resolve again next time
            raise

    # -- network namespace -------------------------------------------------------------------
    def _net_dir(self) -> Path:
        if self.t.netns is None and self.t.netns_pid is None:
            return _path(self.t.proc_root, "self", "net")
        if self.netns_pid is not None and _path(self.t.proc_root, str(self.netns_pid)).exists():
            return _path(self.t.proc_root, str(self.netns_pid), "net")
        if self.t.netns is None:
            raise FileNotFoundError(f"no process {self.t.netns_pid} for the network namespace")
        self.netns_pid = self._find_netns_member(self.t.netns)
        return self.t.proc_root / str(self.netns_pid) / "net"

    def _find_netns_member(self, name: str) -> int:
        try:
            inode = (self.t.netns_dir / name).stat().st_ino
        except FileNotFoundError:
            raise FileNotFoundError(f"network namespace {name!r} does not exist") from None
        for entry in os.scandir(self.t.proc_root):
            if not entry.name.isdigit():
                continue
            try:
                if os.stat(f"{entry.path}/ns/net").st_ino == inode:
                    return int(entry.name)
            except OSError:
                continue
        raise FileNotFoundError(f"no process runs in network namespace {name!r}")

    def _net(self, cur: _State, dt: float, out: list[Value]) -> None:
        net = self._net_dir()
        try:
            self._tcp(net, cur, dt, out)
            self._interfaces(net, cur, dt, out)
            self._conntrack(net, cur, dt, out)
        except OSError:
            for path in list(self.reader.fds):
                if str(path).startswith(str(net)):
                    self.reader.forget(path)
            self.netns_pid = self.t.netns_pid if self.t.netns is None else None
            raise

    def _tcp(self, net: Path, cur: _State, dt: float, out: list[Value]) -> None:
        snmp = procfs.parse_snmp(self.reader.read(_path(net, "snmp")), "Tcp")["Tcp"]
        ext = procfs.parse_snmp(self.reader.read(_path(net, "netstat")), "TcpExt")
        ext_tcp = ext.get("TcpExt", {})
        sock = procfs.parse_sockstat(self.reader.read(_path(net, "sockstat")))
        counters = {
            "passive_opens_per_s": snmp["PassiveOpens"],
            "active_opens_per_s": snmp["ActiveOpens"],
            "attempt_fails_per_s": snmp["AttemptFails"],
            "estab_resets_per_s": snmp["EstabResets"],
            "retrans_segs_per_s": snmp["RetransSegs"],
            "in_segs_per_s": snmp["InSegs"],
            "out_segs_per_s": snmp["OutSegs"],
            "segs_per_s": snmp["InSegs"] + snmp["OutSegs"],
            "listen_drops_per_s": ext_tcp.get("ListenDrops", 0),
        }
        for metric, value in counters.items():
            rate = self._rate(cur, dt, f"tcp.{metric}", float(value))
            if rate is not None:
                out.append(("tcp", metric, rate))
        out.append(("tcp", "established", float(snmp["CurrEstab"])))
        out.append(("tcp", "time_wait", float(sock.get("tw", 0))))
        out.append(("tcp", "orphan", float(sock.get("orphan", 0))))
        out.append(("tcp", "inuse", float(sock.get("inuse", 0))))
        if "mem" in sock:
            out.append(("kmem", "tcp_bytes", float(sock["mem"] * PAGE_SIZE)))

    def _interfaces(self, net: Path, cur: _State, dt: float, out: list[Value]) -> None:
        devs = procfs.parse_net_dev(self.reader.read(_path(net, "dev")))
        wanted = self.t.interfaces or tuple(n for n in devs if n != "lo")
        for name in wanted:
            c = devs.get(name)
            if c is None:
                self.once.problem(f"interface {name}", "not found in the namespace")
                continue
            group = f"net_{label(name)}"
            for metric, value in (
                ("rx_bytes_per_s", c.rx_bytes),
                ("tx_bytes_per_s", c.tx_bytes),
                ("rx_packets_per_s", c.rx_packets),
                ("tx_packets_per_s", c.tx_packets),
                ("rx_drops_per_s", c.rx_drops),
                ("tx_drops_per_s", c.tx_drops),
                ("bytes_per_s", c.rx_bytes + c.tx_bytes),
                ("packets_per_s", c.rx_packets + c.tx_packets),
            ):
                rate = self._rate(cur, dt, f"{group}.{metric}", float(value))
                if rate is not None:
                    out.append((group, metric, rate))

    def _conntrack(self, net: Path, cur: _State, dt: float, out: list[Value]) -> None:
        path = _path(net, "stat", "nf_conntrack")
        if not path.exists():  # conntrack not loaded: none tracked, none dropped
            out.append(("kmem", "conntrack_bytes", 0.0))
            out += [("conntrack", "fill_pct", 0.0), ("conntrack", "drops_per_s", 0.0)]
            return
        stat = procfs.parse_conntrack_stat(self.reader.read(path))
        entries = stat.get("entries", 0)
        out.append(("conntrack", "entries", float(entries)))
        limit = self._conntrack_max()
        if limit:
            out.append(("conntrack", "max", float(limit)))
            out.append(("conntrack", "fill_pct", 100.0 * entries / limit))
        size = self._conntrack_objsize()
        if size is not None:
            out.append(("kmem", "conntrack_bytes", float(entries * size)))
        drops = stat.get("drop", 0) + stat.get("early_drop", 0)
        for metric, value in (
            ("drops_per_s", drops),
            ("insert_failed_per_s", stat.get("insert_failed", 0)),
            ("inserts_per_s", stat.get("insert", 0)),
        ):
            rate = self._rate(cur, dt, f"conntrack.{metric}", float(value))
            if rate is not None:
                out.append(("conntrack", metric, rate))

    def _conntrack_max(self) -> int | None:
        """The table's size (``nf_conntrack_max``: one limit for every namespace)."""
        path = _path(self.t.proc_root, "sys", "net", "netfilter", "nf_conntrack_max")
        try:
            return int(self.reader.read(path).strip())
        except (OSError, ValueError):
            return None

    def _conntrack_objsize(self) -> int | None:
        """The nf_conntrack slab's object size (read once; /proc/slabinfo needs root)."""
        if self._objsize is None:
            try:
                text = Path("/proc/slabinfo").read_text()
            except OSError as exc:
                self.once.problem("slabinfo", f"unreadable ({exc.strerror}): no kmem.conntrack")
                self._objsize = 0
                return None
            self._objsize = procfs.parse_slab_objsize(text, "nf_conntrack") or 0
        return self._objsize or None

    # -- processes ---------------------------------------------------------------------------
    def _resolve(self, match: ProcMatch) -> list[tuple[int, int]]:
        pids: list[int] = []
        if match.pid_file is not None:
            try:
                pids = [int(match.pid_file.read_text().split()[0])]
            except (OSError, ValueError, IndexError):
                raise FileNotFoundError(f"pid file {match.pid_file} is missing or empty") from None
        else:
            for entry in os.scandir(self.t.proc_root):
                if entry.name.isdigit() and self._matches(int(entry.name), match.name or ""):
                    pids.append(int(entry.name))
        found = []
        for pid in pids:
            try:
                found.append((pid, self._uncached_start(pid)))
            except (OSError, ValueError, IndexError):
                continue
        if not found:
            what = f"pid file {match.pid_file}" if match.pid_file else f"name {match.name!r}"
            raise FileNotFoundError(f"no running process matches {what}")
        return found

    def _uncached_start(self, pid: int) -> int:
        return procfs.parse_pid_stat((self.t.proc_root / str(pid) / "stat").read_text()).start

    def _matches(self, pid: int, name: str) -> bool:
        base = self.t.proc_root / str(pid)
        try:
            if (base / "comm").read_text().strip() == name[:15]:
                return True
            argv = (base / "cmdline").read_bytes().split(b"\0")[:2]
        except OSError:
            return False
        names = [os.path.basename(a.decode(errors="replace")) for a in argv]
        if names and names[0] == name:
            return True
        # a script run by its interpreter: python3 /usr/bin/tare-refagent ...
        return (
            len(names) == 2
            and names[0].startswith(("python", "perl", "sh", "bash"))
            and (names[1] == name)
        )

    def _procs(self, cur: _State, dt: float, out: list[Value]) -> None:
        for match in self.t.processes:
            source = f"process {match.label}"
            try:
                self._proc(match, cur, dt, out)
                self.once.ok(source)
            except (OSError, ValueError, IndexError) as exc:
                self.once.problem(source, str(exc))

    def _proc(self, match: ProcMatch, cur: _State, dt: float, out: list[Value]) -> None:
        now = cur.at
        known = self.pids.get(match.label)
        stale = now - self.pids_checked.get(match.label, 0.0) > RESCAN_S
        if not known or stale:
            known = self._resolve(match)
            self.pids[match.label] = known
            self.pids_checked[match.label] = now
        ticks: dict[tuple[int, int], int] = {}
        rss_pages = 0
        alive = []
        for pid, started in known:
            stat_path = _path(self.t.proc_root, str(pid), "stat")
            try:
                st = procfs.parse_pid_stat(self.reader.read(stat_path))
                if st.start != started:
                    raise ProcessLookupError(pid)
            except (OSError, ValueError, IndexError):
                self.reader.forget(stat_path)
                continue
            rss_pages += st.rss_pages
            ticks[(pid, started)] = st.utime + st.stime
            alive.append((pid, started))
        if len(alive) < len(known):
            self.pids_checked[match.label] = 0.0  # a process went away: re-resolve next time
        if not alive:
            self.pids[match.label] = []
            raise FileNotFoundError("the matching processes exited")
        group = f"proc_{label(match.label)}"
        cur.proc_ticks[match.label] = ticks
        before = self.prev.proc_ticks.get(match.label)
        if before is not None and dt > 0:
            used = sum(t - before[k] for k, t in ticks.items() if k in before and t >= before[k])
            out.append((group, "cpu_pct", used * 100.0 / (CLK_TCK * dt)))
        out.append((group, "rss_bytes", float(rss_pages * PAGE_SIZE)))
        out.append((group, "nprocs", float(len(alive))))
