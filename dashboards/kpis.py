"""The judged KPIs as the dashboards draw them: which nightly stats hold the overhead and its CI,
and the Grafana unit (``contracts.kpis`` is the registry; this is its look)."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.kpis import CPU_UNIT, KPIS, LATENCY_UNIT, MEMORY_UNIT, Kpi
from contracts.paths import NightlyStat


@dataclass(frozen=True, slots=True)
class Drawn:
    kpi: Kpi
    title: str

    @property
    def relative(self) -> bool:
        return self.kpi.relative_only

    @property
    def stats(self) -> tuple[NightlyStat, NightlyStat, NightlyStat]:
        """(overhead, CI low, CI high)"""
        if self.relative:
            return NightlyStat.OVERHEAD_PCT, NightlyStat.CI_LOW_PCT, NightlyStat.CI_HIGH_PCT
        return NightlyStat.OVERHEAD, NightlyStat.CI_LOW, NightlyStat.CI_HIGH

    @property
    def unit(self) -> str:
        if self.relative:
            return "percent"
        known = {
            MEMORY_UNIT: "decmbytes",
            CPU_UNIT: "suffix: pp",
            "MB/s": "MBs",
            LATENCY_UNIT: "ms",
        }
        return known.get(self.kpi.unit, f"suffix: {self.kpi.unit}")


TITLES = {
    "cpu_cgroup": "CPU of the workload cgroup (server + agent)",
    "cpu_workload_core": "CPU of the workload's cores",
    "cpu_all": "CPU of the host, all cores",
    "softirq_all": "softirq, all cores",
    "mem_cgroup": "memory of the workload cgroup",
    "mem_conntrack": "kernel memory: conntrack entries",
    "conntrack_fill_pct": "conntrack table, % full",
    "conntrack_drops_per_s": "new connections dropped by a full conntrack table",
    "throughput": "network throughput (received)",
    "net_mb_per_s": "network throughput (MB/s, both ways)",
    "tcp_ksegs": "TCP segments (both ways, as on the wire)",
    "conn_rate": "achieved connection rate",
    "req_rate": "achieved request rate (kept-alive)",
    "bulk_rate": "achieved bulk throughput",
    "error_pct": "request errors",
    "latency_p50_ms": "request latency, median",
    "latency_p99_ms": "request latency, 99th percentile",
    "cpu_agent": "CPU of the agent's process",
    "cpu_per_100kpps": "CPU per 100K packets/s (throughput profile)",
}

# The KPIs alerts fire on, in the order a reader scans them (CPU, memory, network).
DRAWN: tuple[Drawn, ...] = tuple(Drawn(k, TITLES[k.name]) for k in KPIS if k.judged)
