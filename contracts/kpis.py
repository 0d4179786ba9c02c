"""The KPI registry: each KPI's run series, unit, which way is a cost, and whether it is judged
(CIs, significance, alerts) or shown as context."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contracts.load import Profile
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
    profiles: frozenset[Profile] | None = None  # the load profiles it applies to (None: all)
    agent_only: bool = False  # a series of the agent itself: 0 in a baseline (agent absent)
    # derived per second from two KPIs' values: numerator / denominator x scale (no series)
    ratio_of: tuple[str, str] | None = None

    @property
    def judged(self) -> bool:
        return self.role is Role.JUDGED

    def applies(self, profile: Profile) -> bool:
        return self.profiles is None or profile in self.profiles

    def series(
        self, prefix: str, run_id: str, host: str, core: str, interface: str | None
    ) -> RunSeries | None:
        """This KPI's series in one run; None when the run lacks what the path needs (or the
        KPI is derived from others)."""
        if self.ratio_of is not None or ("{interface}" in self.metric and interface is None):
            return None
        metric = self.metric.format(core=core, interface=interface)
        return RunSeries.of(prefix, run_id, host, self.source, *metric.split("."))


CPU_UNIT = "pp of a core"
MEMORY_UNIT = "MB"
MB = 1 / 2**20
PER_PACKET_UNIT = "pp per 100K pkt/s"
LATENCY_UNIT = "ms"


def _achieved(name: str, metric: LoadMetric, profile: Profile) -> Kpi:
    return Kpi(
        name,
        metric.value,
        "%",
        source=Source.LOAD,
        relative_only=True,
        lower_is_cost=True,
        profiles=frozenset({profile}),
    )


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
    # a stateful firewall's table: how full it is, and the new connections it dropped because
    # it was (a full table is the agent's cost on a server with the kernel's settings)
    Kpi("conntrack_fill_pct", "conntrack.fill_pct", "% of table"),
    Kpi("conntrack_drops_per_s", "conntrack.drops_per_s", "1/s"),
    Kpi("mem_tcp", "kmem.tcp_bytes", MEMORY_UNIT, scale=MB, role=Role.CONTEXT),  # system-wide
    # received bytes in %, kept as context for its nightly history: net_mb_per_s (both ways,
    # more is the cost at a fixed load) is the judged network KPI
    Kpi(
        "throughput",
        "net_{interface}.rx_bytes_per_s",
        "%",
        relative_only=True,
        lower_is_cost=True,
        role=Role.CONTEXT,
    ),
    # the workload interface's traffic both ways: what the published lab charted as MB/s. The
    # offered load is fixed and a run that falls 2 % short of it is invalid, so what moves is
    # traffic the agent adds (resets, retransmissions, its own): more is the cost
    Kpi("net_mb_per_s", "net_{interface}.bytes_per_s", "MB/s", scale=MB),
    # packets as the interface counts them: a veth counts a GSO/GRO aggregate of up to 64 KB
    # once, so bulk traffic reads a fraction of its wire packets (context)
    Kpi(
        "net_kpps",
        "net_{interface}.packets_per_s",
        "Kpkt/s",
        scale=1e-3,
        role=Role.CONTEXT,
    ),
    # TCP segments both ways as on the wire (MSS-sized): the packet rate the firewall sees
    Kpi("tcp_ksegs", "tcp.segs_per_s", "Kseg/s", scale=1e-3),
    # the achieved load of each profile, per second, in % of the baseline's (less is the cost)
    _achieved("conn_rate", LoadMetric.CONN_STARTED_PER_S, Profile.CONNECTIONS),
    _achieved("req_rate", LoadMetric.REQ_STARTED_PER_S, Profile.REQUESTS),
    _achieved("bulk_rate", LoadMetric.MBIT_PER_S, Profile.THROUGHPUT),
    # request errors in % of the run's requests (one point per run): with load.max_error_pct
    # above 0, what an agent's policy updates cost in failed requests
    Kpi("error_pct", LoadMetric.ERROR_PCT.value, "% of requests", source=Source.LOAD),
    # request latency (h2load's per-request log: request sent to response received, the steady
    # window's successful requests), median and 99th percentile, one point per run
    Kpi("latency_p50_ms", LoadMetric.P50_MS.value, LATENCY_UNIT, source=Source.LOAD),
    Kpi("latency_p99_ms", LoadMetric.P99_MS.value, LATENCY_UNIT, source=Source.LOAD),
    # the agent's own process (0 in a baseline): where its policy updates show first
    Kpi("cpu_agent", "proc_agent.cpu_pct", CPU_UNIT, agent_only=True),
    # CPU of the workload's core (softirq included) per 100K packets/s, packets counted as
    # TCP segments on the wire
    Kpi(
        "cpu_per_100kpps",
        "",
        PER_PACKET_UNIT,
        ratio_of=("cpu_workload_core", "tcp_ksegs"),
        scale=100.0,
        profiles=frozenset({Profile.THROUGHPUT}),
    ),
)
BY_NAME: dict[str, Kpi] = {k.name: k for k in KPIS}
