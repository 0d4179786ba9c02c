"""The KPI registry: each KPI's run series, unit, which way is a cost, and whether it is judged
(CIs, significance, alerts) or shown as context."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contracts.paths import LoadMetric, RunSeries, Source


class Role(StrEnum):
    JUDGED = "judged"  # overhead with CI and significance; alerts may fire on it
    CONTEXT = "context"  # shown beside the judged ones; never starred, never alerted


@dataclass(frozen=True, slots=True)
class Kpi:
    name: str
    metric: str  # under <run>.<host>.<source>.; "{core}": the workload core, "{interface}"
    unit: str  # of the absolute overhead
    source: Source = Source.TARE
    scale: float = 1.0  # series value x scale = value in ``unit``
    lower_is_cost: bool = False  # available memory, achieved rate: less is the cost
    relative_only: bool = False  # throughput and rate overheads are reported in % only
    role: Role = Role.JUDGED

    @property
    def judged(self) -> bool:
        return self.role is Role.JUDGED

    def series(
        self, prefix: str, run_id: str, host: str, core: str, interface: str | None
    ) -> RunSeries | None:
        """This KPI's series in one run; None when the run lacks what the path needs."""
        if "{interface}" in self.metric and interface is None:
            return None
        metric = self.metric.format(core=core, interface=interface)
        return RunSeries.of(prefix, run_id, host, self.source, *metric.split("."))


CPU_UNIT = "pp of a core"
MEMORY_UNIT = "MB"
MB = 1 / 2**20

KPIS: tuple[Kpi, ...] = (
    Kpi("cpu_cgroup", "cgroup.cpu_pct", CPU_UNIT),
    Kpi("cpu_workload_core", "cpu_{core}.busy_pct", CPU_UNIT),
    Kpi("cpu_all", "cpu_all.busy_pct", CPU_UNIT),
    Kpi("softirq_all", "cpu_all.softirq_pct", CPU_UNIT),
    Kpi("mem_cgroup", "cgroup.memory_bytes", MEMORY_UNIT, scale=MB),
    # system-wide and moved by page cache: tens of MB between baseline runs (docs/precision.md)
    Kpi(
        "mem_available",
        "memory.available_bytes",
        MEMORY_UNIT,
        scale=MB,
        lower_is_cost=True,
        role=Role.CONTEXT,
    ),
    Kpi("mem_conntrack", "kmem.conntrack_bytes", MEMORY_UNIT, scale=MB),
    Kpi("mem_tcp", "kmem.tcp_bytes", MEMORY_UNIT, scale=MB, role=Role.CONTEXT),  # system-wide
    Kpi(
        "throughput",
        "net_{interface}.rx_bytes_per_s",
        "%",
        relative_only=True,
        lower_is_cost=True,
    ),
    Kpi(
        "conn_rate",
        LoadMetric.CONN_STARTED_PER_S.value,
        "%",
        source=Source.LOAD,
        relative_only=True,
        lower_is_cost=True,
    ),
)
BY_NAME: dict[str, Kpi] = {k.name: k for k in KPIS}
