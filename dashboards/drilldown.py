"""(c) Run drill-down: one run's raw series (CPU by state, per core, the workload cgroup, memory,
network, connections/s, the agent's CPU and RSS), chosen by a run-id variable, with its steady
window marked by the run's two events (start: the run event; end: ``steady-end``)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from contracts.events import RUN_TAG, STEADY_END_TAG, TARE_TAG
from contracts.paths import RUNS, LoadMetric, Source
from dashboards.common import RUN_ROOT, base, prefix_var, series_panel
from dashboards.graphite import DATASOURCE, Events

UID = "tare-run-drilldown"
TARE = f"{RUN_ROOT}.{Source.TARE}"
LOAD = f"{RUN_ROOT}.{Source.LOAD}"

# (title, Grafana unit, targets): every path is one of docs/metrics.md's series
PANELS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "CPU by state, all cores (% of one core)",
        "percent",
        (f"aliasByNode({TARE}.cpu_all.{{busy,user,system,softirq,irq,steal}}_pct, -1)",),
    ),
    ("CPU busy per core", "percent", (f"aliasByNode({TARE}.cpu_*.busy_pct, -2)",)),
    (
        "workload cgroup (server + agent): CPU",
        "percent",
        (f"alias({TARE}.cgroup.cpu_pct, 'cgroup CPU')",),
    ),
    (
        "memory",
        "bytes",
        (
            f"alias({TARE}.cgroup.memory_bytes, 'workload cgroup')",
            f"alias({TARE}.memory.available_bytes, 'host: available')",
            f"alias({TARE}.kmem.conntrack_bytes, 'kernel: conntrack')",
        ),
    ),
    (
        "network of the workload namespace",
        "Bps",
        (f"aliasByNode({TARE}.net_*.{{rx,tx}}_bytes_per_s, -2, -1)",),
    ),
    (
        "connections per second",
        "cps",
        (
            f"alias({LOAD}.{LoadMetric.CONN_STARTED_PER_S}, 'started by the load')",
            f"alias({TARE}.tcp.passive_opens_per_s, 'accepted by the workload')",
            f"alias({LOAD}.{LoadMetric.TARGET_RATE}, 'target')",
        ),
    ),
    ("agent and workload processes: CPU", "percent", (f"aliasByNode({TARE}.proc_*.cpu_pct, -2)",)),
    ("agent and workload processes: RSS", "bytes", (f"aliasByNode({TARE}.proc_*.rss_bytes, -2)",)),
)


def build() -> dash.Dashboard:
    d = base(
        UID,
        "tare: run drill-down",
        "One run's raw 1-second series; the two markers bound its steady window (the seconds its "
        "means are taken over). Pick the run, then set the time range around it.",
        "now-6h",
    )
    d = d.with_variable(prefix_var())
    d = d.with_variable(
        dash.QueryVariable("run_id").label("run").datasource(DATASOURCE).query(f"$prefix.{RUNS}.*")
    )
    d = d.with_variable(
        dash.QueryVariable("host")
        .label("host")
        .datasource(DATASOURCE)
        .query(f"$prefix.{RUNS}.$run_id.*")
    )
    for name, tag, color in (
        ("steady window starts", RUN_TAG, "green"),
        ("steady window ends", STEADY_END_TAG, "orange"),
    ):
        d = d.annotation(
            dash.AnnotationQuery()
            .name(name)
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color(color)
            .target(Events([TARE_TAG, tag, "$run_id"]))
        )
    for title, unit, exprs in PANELS:
        d = d.with_panel(
            series_panel(title, unit, [(chr(ord("A") + i), e) for i, e in enumerate(exprs)])
        )
    return d
