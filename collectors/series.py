"""The series tare's own collectors write: one registry, shared by the collectd plugin, the
standalone collector, the generated collectd types.db and ``docs/metrics.md``.

A series is ``<group>.<metric>``; groups are ``cpu_all``, ``cpu_<n>``, ``memory``, ``cgroup``,
``tcp``, ``net_<interface>``, ``conntrack``, ``kmem`` and ``proc_<label>``. CPU figures are in
percent of one core (``cpu_all`` and ``cgroup`` sum over cores, so 2 cores read up to 200).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    unit: str
    meaning: str


def _m(name: str, unit: str, meaning: str) -> Metric:
    return Metric(name, unit, meaning)


CPU = (
    _m(
        "busy_pct", "% of one core", "wall time minus idle+iowait time (exact; the primary CPU KPI)"
    ),
    _m("user_pct", "% of one core", "user+nice ticks (tick-sampled)"),
    _m("system_pct", "% of one core", "system ticks (tick-sampled)"),
    _m("softirq_pct", "% of one core", "softirq ticks (tick-sampled): where firewall cost lands"),
    _m("irq_pct", "% of one core", "hardirq ticks (tick-sampled)"),
    _m("steal_pct", "% of one core", "steal ticks (tick-sampled)"),
)
MEMORY = (
    _m("available_bytes", "bytes", "MemAvailable"),
    _m("used_bytes", "bytes", "MemTotal - MemAvailable"),
)
CGROUP = (
    _m("cpu_pct", "% of one core", "CPU of the workload cgroup (server + agent), all cores"),
    _m("memory_bytes", "bytes", "memory charged to the workload cgroup"),
)
TCP = (
    _m("passive_opens_per_s", "1/s", "connections accepted (Tcp PassiveOpens)"),
    _m("active_opens_per_s", "1/s", "connections opened (Tcp ActiveOpens)"),
    _m("attempt_fails_per_s", "1/s", "failed connection attempts (Tcp AttemptFails)"),
    _m("estab_resets_per_s", "1/s", "established connections reset (Tcp EstabResets)"),
    _m("retrans_segs_per_s", "1/s", "retransmitted segments (Tcp RetransSegs)"),
    _m("in_segs_per_s", "1/s", "segments received (Tcp InSegs)"),
    _m("out_segs_per_s", "1/s", "segments sent (Tcp OutSegs)"),
    _m(
        "segs_per_s",
        "1/s",
        "segments received + sent, counted as on the wire (GRO/GSO aggregates split): the "
        "packet rate KPI",
    ),
    _m("listen_drops_per_s", "1/s", "SYNs dropped at a full listen queue (TcpExt ListenDrops)"),
    _m("established", "sockets", "sockets in ESTABLISHED or CLOSE_WAIT (Tcp CurrEstab)"),
    _m("time_wait", "sockets", "sockets in TIME_WAIT (sockstat tw)"),
    _m("orphan", "sockets", "orphaned sockets (sockstat orphan)"),
    _m("inuse", "sockets", "TCP sockets in use (sockstat inuse)"),
)
NET = (
    _m("rx_bytes_per_s", "bytes/s", "received"),
    _m("tx_bytes_per_s", "bytes/s", "sent"),
    _m("rx_packets_per_s", "1/s", "packets received"),
    _m("tx_packets_per_s", "1/s", "packets sent"),
    _m("bytes_per_s", "bytes/s", "received + sent (the network throughput KPI)"),
    _m(
        "packets_per_s",
        "1/s",
        "packets received + sent, as the interface counts them (a veth counts a GSO/GRO "
        "aggregate once)",
    ),
    _m("rx_drops_per_s", "1/s", "received packets dropped"),
    _m("tx_drops_per_s", "1/s", "sent packets dropped"),
)
CONNTRACK = (
    _m("entries", "entries", "connections tracked in the namespace"),
    _m("max", "entries", "the table's size (nf_conntrack_max, one limit for every namespace)"),
    _m("fill_pct", "%", "entries in % of the table's size (0 where conntrack is not loaded)"),
    _m("inserts_per_s", "1/s", "connections entered in the table (insert)"),
    _m("drops_per_s", "1/s", "new connections dropped (drop + early_drop): a full table"),
    _m("insert_failed_per_s", "1/s", "failed inserts (insert_failed)"),
)
KMEM = (
    _m(
        "conntrack_bytes",
        "bytes",
        "conntrack entries of the namespace x the nf_conntrack slab object size (kernel memory "
        "a stateful firewall costs, in neither the agent's RSS nor the cgroup)",
    ),
    _m("tcp_bytes", "bytes", "TCP socket buffers, system-wide (sockstat TCP mem x page size)"),
)
PROC = (
    _m("cpu_pct", "% of one core", "utime+stime of every matching process"),
    _m("rss_bytes", "bytes", "resident memory of every matching process"),
    _m("nprocs", "processes", "matching processes"),
)

GROUPS: dict[str, tuple[Metric, ...]] = {
    "cpu_all": CPU,
    "cpu_<n>": CPU,
    "memory": MEMORY,
    "cgroup": CGROUP,
    "tcp": TCP,
    "net_<interface>": NET,
    "conntrack": CONNTRACK,
    "kmem": KMEM,
    "proc_<label>": PROC,
}


def all_metric_names() -> list[str]:
    """Every distinct metric name (also the collectd type names in our types.db)."""
    names: list[str] = []
    for metrics in GROUPS.values():
        for metric in metrics:
            if metric.name not in names:
                names.append(metric.name)
    return names


def render_types_db() -> str:
    """A collectd types.db with one GAUGE type per metric name."""
    return "".join(f"{name}\tvalue:GAUGE:U:U\n" for name in all_metric_names())


def group_template(group: str) -> str:
    """``cpu_3`` -> ``cpu_<n>``, ``net_veth0`` -> ``net_<interface>``, ``proc_x`` -> ..."""
    if group in GROUPS:
        return group
    head = group.split("_", 1)[0]
    for template in GROUPS:
        if template.startswith(head + "_<"):
            return template
    raise KeyError(group)


def markdown_table() -> str:
    """The table of tare's own series in docs/metrics.md (a test keeps the two identical)."""
    rows = [
        "| series (under `<prefix>.runs.<run_id>.<host>.tare.`) | unit | meaning |",
        "|---|---|---|",
    ]
    for group, metrics in GROUPS.items():
        for m in metrics:
            rows.append(f"| `{group}.{m.name}` | {m.unit} | {m.meaning} |")
    return "\n".join(rows) + "\n"
