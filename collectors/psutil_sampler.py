"""The same series from psutil, for hosts without /proc (Windows, macOS).

CPU busy is wall time minus idle time per core, as on Linux; memory is ``available``; the
network namespace, cgroup and conntrack sources do not exist there and are not reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psutil

from collectors.sampler import ProcMatch, Value
from contracts.labels import label

log = logging.getLogger(__name__)


class PsutilSampler:
    def __init__(
        self,
        processes: tuple[ProcMatch, ...] = (),
        interfaces: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.processes = processes
        self.interfaces = interfaces
        self.clock = clock
        self.at = 0.0
        self.cpu: list[tuple[float, float]] = []  # (idle, softirq) seconds per core
        self.net: dict[str, tuple[int, ...]] = {}
        self.procs: dict[str, dict[int, tuple[float, float]]] = {}
        self.warned: set[str] = set()

    def close(self) -> None:
        return None

    def sample(self) -> list[Value]:
        now = self.clock()
        dt = now - self.at if self.at else 0.0
        self.at = now
        out: list[Value] = []
        self._cpu(dt, out)
        mem = psutil.virtual_memory()
        out.append(("memory", "available_bytes", float(mem.available)))
        out.append(("memory", "used_bytes", float(mem.total - mem.available)))
        self._net(dt, out)
        for match in self.processes:
            self._proc(match, dt, out)
        return out

    def _cpu(self, dt: float, out: list[Value]) -> None:
        times = psutil.cpu_times(percpu=True)
        cur = [(t.idle + getattr(t, "iowait", 0.0), getattr(t, "softirq", 0.0)) for t in times]
        if dt > 0 and len(cur) == len(self.cpu):
            busy_all = soft_all = 0.0
            for n, ((idle, soft1), (idle0, soft0)) in enumerate(zip(cur, self.cpu, strict=True)):
                busy = min(100.0, max(0.0, 100.0 - (idle - idle0) * 100.0 / dt))
                soft = (soft1 - soft0) * 100.0 / dt
                out.append((f"cpu_{n}", "busy_pct", busy))
                out.append((f"cpu_{n}", "softirq_pct", soft))
                busy_all += busy
                soft_all += soft
            out.append(("cpu_all", "busy_pct", busy_all))
            out.append(("cpu_all", "softirq_pct", soft_all))
        self.cpu = cur

    def _net(self, dt: float, out: list[Value]) -> None:
        counters = psutil.net_io_counters(pernic=True)
        names = self.interfaces or tuple(n for n in counters if n not in ("lo", "lo0"))
        for name in names:
            c = counters.get(name)
            if c is None:
                continue
            cur = (
                c.bytes_recv,
                c.bytes_sent,
                c.packets_recv,
                c.packets_sent,
                c.bytes_recv + c.bytes_sent,
                c.packets_recv + c.packets_sent,
            )
            before = self.net.get(name)
            self.net[name] = cur
            if before is None or dt <= 0:
                continue
            group = f"net_{label(name)}"
            for metric, a, b in zip(
                (
                    "rx_bytes_per_s",
                    "tx_bytes_per_s",
                    "rx_packets_per_s",
                    "tx_packets_per_s",
                    "bytes_per_s",
                    "packets_per_s",
                ),
                before,
                cur,
                strict=True,
            ):
                if b >= a:
                    out.append((group, metric, (b - a) / dt))

    def _proc(self, match: ProcMatch, dt: float, out: list[Value]) -> None:
        found: dict[int, tuple[float, float]] = {}
        rss = 0
        for proc in psutil.process_iter(["pid", "name", "cmdline", "create_time"]):
            try:
                if not self._matches(proc, match):
                    continue
                with proc.oneshot():
                    t = proc.cpu_times()
                    rss += proc.memory_info().rss
                    found[proc.pid] = (proc.info["create_time"], t.user + t.system)
            except psutil.Error:
                continue
        if not found:
            if match.label not in self.warned:
                self.warned.add(match.label)
                log.warning("process %s: no running process matches", match.label)
            return
        self.warned.discard(match.label)
        group = f"proc_{label(match.label)}"
        before = self.procs.get(match.label, {})
        self.procs[match.label] = found
        if before and dt > 0:
            used = sum(
                cpu - before[pid][1]
                for pid, (created, cpu) in found.items()
                if pid in before and before[pid][0] == created and cpu >= before[pid][1]
            )
            out.append((group, "cpu_pct", used * 100.0 / dt))
        out.append((group, "rss_bytes", float(rss)))
        out.append((group, "nprocs", float(len(found))))

    @staticmethod
    def _matches(proc: psutil.Process, match: ProcMatch) -> bool:
        if match.pid_file is not None:
            try:
                return proc.pid == int(match.pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return False
        name = match.name or ""
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") in (name, name[:15]):
            return True
        return any(arg.replace("\\", "/").rsplit("/", 1)[-1] == name for arg in cmdline[:2])
