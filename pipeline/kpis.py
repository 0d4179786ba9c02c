"""The KPIs the overhead is computed on: which series, which unit, which way is a cost."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kpi:
    name: str
    path: str  # under <prefix>.runs.<run_id>.<host>.; "{core}" is the workload core
    unit: str  # of the absolute overhead
    scale: float = 1.0  # series value x scale = value in ``unit``
    lower_is_cost: bool = False  # available memory, achieved rate: less is the cost
    relative_only: bool = False  # throughput and rate overheads are reported in % only


KPIS: tuple[Kpi, ...] = (
    Kpi("cpu_cgroup", "tare.cgroup.cpu_pct", "pp of a core"),
    Kpi("cpu_workload_core", "tare.cpu_{core}.busy_pct", "pp of a core"),
    Kpi("cpu_all", "tare.cpu_all.busy_pct", "pp of a core"),
    Kpi("softirq_all", "tare.cpu_all.softirq_pct", "pp of a core"),
    Kpi("mem_cgroup", "tare.cgroup.memory_bytes", "MB", scale=1 / 2**20),
    Kpi("mem_available", "tare.memory.available_bytes", "MB", scale=1 / 2**20, lower_is_cost=True),
    Kpi("throughput", "tare.net_tare0.rx_bytes_per_s", "%", relative_only=True, lower_is_cost=True),
    Kpi("conn_rate", "load.conn_started_per_s", "%", relative_only=True, lower_is_cost=True),
)
BY_NAME = {k.name: k for k in KPIS}
