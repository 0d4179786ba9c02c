"""``tare collect``: the verb; the work is in ``collectors.collect``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from contracts.addresses import CarbonAddress
from contracts.errors import ServiceUnavailable, UsageError
from contracts.labels import label
from contracts.paths import Source, collectd_run_prefix, run_base
from tare.cli_common import emit
from tare.stack.settings import resolve

if TYPE_CHECKING:
    from collectors.sampler import ProcMatch


def parse_processes(by_name: tuple[str, ...], by_pidfile: tuple[str, ...]) -> tuple[ProcMatch, ...]:
    from collectors.sampler import ProcMatch

    out: list[ProcMatch] = []
    for option, items in (("--process", by_name), ("--process-pidfile", by_pidfile)):
        for item in items:
            lab, sep, value = item.partition("=")
            if not sep:
                lab, value = item, item
            if not lab or not value:
                raise UsageError(f"{option} {item!r}: expected LABEL=VALUE")
            if option == "--process":
                out.append(ProcMatch(label=lab, name=value))
            else:
                out.append(ProcMatch(label=lab, pid_file=Path(value)))
    labels = [label(m.label) for m in out]
    if len(set(labels)) != len(labels):
        raise UsageError("two --process options share one label")
    return tuple(out)


@click.command("collect")
@click.option("--run-id", required=True, help="Run id: the level under <prefix>.runs.")
@click.option("--duration", type=click.FloatRange(min=1), help="Seconds; default until Ctrl-C.")
@click.option("--interval", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--carbon", "carbon", help="HOST:PORT of carbon [127.0.0.1:$TARE_CARBON_PORT].")
@click.option("--prefix", default="tare", show_default=True)
@click.option("--host", "host_label", help="Host level of the paths [this host's name].")
@click.option("--netns", help="Read TCP, interface and conntrack counters of this namespace.")
@click.option("--netns-pid", type=int, help="... or of the namespace this pid runs in.")
@click.option("--interface", "interfaces", multiple=True, help="Interface(s); default all but lo.")
@click.option("--cgroup", help="Workload cgroup, relative to the cgroup roots (tare/workload).")
@click.option("--process", "processes", multiple=True, help="LABEL=NAME of a process to follow.")
@click.option("--process-pidfile", "pidfiles", multiple=True, help="LABEL=PIDFILE to follow.")
@click.option(
    "--collector",
    type=click.Choice(["standalone", "collectd"]),
    default="standalone",
    show_default=True,
    help="tare's own collector, or collectd with the run's rendered config and tare's plugin.",
)
@click.option("--backend", type=click.Choice(["auto", "procfs", "psutil"]), default="auto")
@click.option(
    "--processes-plugin",
    is_flag=True,
    help="With --collector collectd, also load collectd's processes plugin (costly).",
)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Create this file once the first sample is taken (a remote run waits for it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def collect_cmd(
    run_id: str,
    duration: float | None,
    interval: int,
    carbon: str | None,
    prefix: str,
    host_label: str | None,
    netns: str | None,
    netns_pid: int | None,
    interfaces: tuple[str, ...],
    cgroup: str | None,
    processes: tuple[str, ...],
    pidfiles: tuple[str, ...],
    collector: str,
    backend: str,
    processes_plugin: bool,
    state_dir: Path | None,
    ready_file: Path | None,
    as_json: bool,
) -> None:
    """Collect the run's KPIs once per second into Graphite under run-tagged paths."""
    from collectors import collect as tc
    from collectors.sampler import Targets

    settings = resolve(state_dir=state_dir)
    try:
        address = CarbonAddress.parse(carbon) if carbon else settings.carbon
    except ValueError:
        raise UsageError(f"--carbon {carbon!r}: expected HOST:PORT") from None
    if netns and netns_pid:
        raise UsageError("give --netns or --netns-pid, not both")
    opts = tc.CollectOptions(
        run_id=run_id,
        duration_s=duration,
        carbon=address,
        prefix=prefix,
        host=label(host_label) if host_label else tc.default_host(),
        targets=Targets(
            netns=netns,
            netns_pid=netns_pid,
            interfaces=interfaces,
            cgroup=cgroup,
            processes=parse_processes(processes, pidfiles),
        ),
        state_dir=settings.state_dir,
        backend=cast(tc.Backend, backend),
        interval_s=interval,
        processes_plugin=processes_plugin,
        ready_file=ready_file,
    )
    if collector == "collectd":
        conf, report, sender = tc.run_collectd(opts)
        spooled = sender.spooled_bytes()
        result: dict[str, Any] = {
            "collector": "collectd",
            "config": str(conf),
            "prefix": collectd_run_prefix(prefix, run_id) + opts.host,
            "missing_s": report.missing_s,
            "notes": list(report.notes),
            "spooled_bytes": spooled,
            "spool": str(sender.spool_dir),
        }
        emit(result) if as_json else click.echo(
            f"collectd ran with {conf}; series under {result['prefix']}"
        )
        _spooled(spooled, address, sender.spool_dir)
        return
    stats, sender = tc.run_standalone(opts)
    spooled = sender.spooled_bytes()
    result = {
        "collector": "standalone",
        "base_path": run_base(prefix, run_id, opts.host, Source.TARE),
        "samples": stats.samples,
        "points": stats.points,
        "sent_points": sender.sent_points,
        "skipped_seconds": stats.skipped_seconds,
        "sampled_seconds": stats.sampled,
        "spooled_bytes": spooled,
        "spool": str(sender.spool_dir),
    }
    if as_json:
        emit(result)
    else:
        click.echo(
            f"collected {stats.samples} samples ({stats.points} points) under "
            f"{result['base_path']} to {address}"
        )
    _spooled(spooled, address, sender.spool_dir)


def _spooled(spooled: int, address: CarbonAddress, spool: Path) -> None:
    if spooled:
        raise ServiceUnavailable(
            f"carbon at {address} unreachable: {spooled} bytes of points kept in "
            f"{spool}; the next tare collect sends them"
        )
