"""The ``tare`` command: one function per verb, one place that maps errors to exit codes."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from tare import __version__
from tare.errors import ConfigError, ExitCode, ServiceUnavailable, TareError, UsageError
from tare.stack.settings import StackSettings, resolve

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

# Errors raised by stage packages (which never import tare) and the exit code each maps to.
# Named, not imported: each verb imports only what it needs (``tare collect`` stays small), and
# an exception can only come from a module that is loaded.
STAGE_ERRORS: tuple[tuple[str, str, ExitCode], ...] = (
    ("pipeline.graphite", "GraphiteUnavailable", ExitCode.SERVICE_UNAVAILABLE),
    ("pipeline.graphite", "GraphiteBadResponse", ExitCode.SERVICE_UNAVAILABLE),
    ("collectors.collectd", "CollectdUnavailable", ExitCode.SERVICE_UNAVAILABLE),
    ("collectors.sender", "SpoolLocked", ExitCode.USAGE),
    ("harness.lab", "LabError", ExitCode.SERVICE_UNAVAILABLE),
    ("harness.load", "LoadToolError", ExitCode.SERVICE_UNAVAILABLE),
)


def _stage_exit_code(exc: BaseException) -> ExitCode | None:
    for module, name, code in STAGE_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return code
    return None


def _configure_logging(verbose: int, debug: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tare: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)
    handler.setLevel(level)


def _log_to_file(state_dir: Path) -> None:
    """Keep a full log (tracebacks included) under the state directory."""
    log_dir = state_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "tare.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tare")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", count=True, help="More log lines on stderr.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """tare measures what a host agent costs the server it protects, every night."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _configure_logging(verbose, debug)


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(config: Path, as_json: bool) -> None:
    """Check a campaign file; one line per problem, exit 3 when there is any."""
    from tare.config import load_campaign

    try:
        campaign = load_campaign(config)
    except ConfigError as exc:
        if as_json:
            _emit({"file": str(config), "valid": False, "problems": exc.lines()})
        raise
    spec = campaign.spec
    levels = campaign.factor_levels()
    if as_json:
        _emit(
            {
                "file": str(config),
                "valid": True,
                "campaign": campaign.name,
                "factors": levels,
                "design": spec.design.kind,
                "repeats": spec.design.repeats,
            }
        )
        return
    described = ", ".join(f"{k} x{len(v)}" for k, v in levels.items())
    click.echo(
        f"{config}: ok: campaign {campaign.name!r}, {spec.design.kind}, "
        f"{spec.design.repeats} repeat(s), factors {described}"
    )


def stack_options(func: F) -> F:
    """Options shared by the stack verbs: where its state lives and which ports it uses."""
    options = [
        click.option(
            "--state-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="State directory [env TARE_STATE_DIR; default ./var].",
        ),
        click.option(
            "--graphite-venv",
            type=click.Path(file_okay=False, path_type=Path),
            help="Graphite's own virtualenv [env TARE_GRAPHITE_VENV].",
        ),
        click.option("--carbon-port", type=int, help="Carbon line receiver [2003]."),
        click.option("--pickle-port", type=int, help="Carbon pickle receiver [2004]."),
        click.option("--cache-query-port", type=int, help="Carbon cache query [7002]."),
        click.option("--web-port", type=int, help="graphite-web render API [8080]."),
        click.option(
            "--collectd",
            type=click.Choice(["auto", "on", "off"]),
            help="Run collectd with the stack [env TARE_COLLECTD; auto: where installed].",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
    ]
    for option in reversed(options):
        func = option(func)

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        settings = resolve(
            state_dir=kwargs.pop("state_dir"),
            graphite_venv=kwargs.pop("graphite_venv"),
            collectd=kwargs.pop("collectd"),
            carbon_port=kwargs.pop("carbon_port"),
            pickle_port=kwargs.pop("pickle_port"),
            cache_query_port=kwargs.pop("cache_query_port"),
            web_port=kwargs.pop("web_port"),
        )
        _log_to_file(settings.state_dir)
        return func(settings=settings, **kwargs)

    return cast(F, wrapper)


@cli.group()
def stack() -> None:
    """The local Graphite (carbon + graphite-web) and collectd."""


def _print_status(info: dict[str, Any]) -> None:
    g = info["graphite"]
    c = info["collectd"]
    procs = info["processes"]
    state = "running" if info["running"] else "stopped"
    click.echo(f"stack: {state} (state {info['state_dir']})")
    if not info["running"]:
        return
    web = "responding" if g["responding"] else "NOT responding"
    click.echo(f"  graphite-web  pid {procs['graphite-web']['pid']}  {g['render_url']}  {web}")
    click.echo(
        f"  carbon-cache  pid {procs['carbon-cache']['pid']}  line {g['carbon']}  "
        f"pickle {g['carbon_pickle']}  cache query {g['cache_query']}"
    )
    if c["running"]:
        click.echo(f"  collectd      pid {c['pid']}  {c['config']}")
    else:
        click.echo(f"  collectd      {'stopped' if c['installed'] else 'not installed'}")


@stack.command("up")
@stack_options
def stack_up(settings: StackSettings, as_json: bool) -> None:
    """Start the stack; returns once a canary point reads back through /render."""
    from tare.stack import control

    info = control.up(settings)
    _emit(info) if as_json else _print_status(info)


@stack.command("install")
@stack_options
def stack_install(settings: StackSettings, as_json: bool) -> None:
    """Create Graphite's own virtualenv now (``up`` does it when missing)."""
    from tare.stack import graphite

    graphite.ensure_venv(settings.graphite_venv)
    if as_json:
        _emit({"graphite_venv": str(settings.graphite_venv), "ready": True})
    else:
        click.echo(f"graphite venv: ready in {settings.graphite_venv}")


@stack.command("down")
@stack_options
def stack_down(settings: StackSettings, as_json: bool) -> None:
    """Stop what tare started from this state directory (idempotent)."""
    from tare.stack import control

    stopped = control.down(settings)
    if as_json:
        _emit({"stopped": stopped, "state_dir": str(settings.state_dir)})
    elif stopped:
        click.echo(f"stack: stopped {', '.join(stopped)}")
    else:
        click.echo("stack: nothing was running")


@stack.command("status")
@stack_options
def stack_status(settings: StackSettings, as_json: bool) -> None:
    """What runs, its pids and its addresses."""
    from tare.stack import control

    info = control.status(settings)
    _emit(info) if as_json else _print_status(info)


@cli.command("collect")
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
    as_json: bool,
) -> None:
    """Collect the run's KPIs once per second into Graphite under run-tagged paths."""
    from collectors.names import label
    from collectors.sampler import Targets
    from collectors.standalone import run_base_path
    from tare import collect as tc

    settings = resolve(state_dir=state_dir)
    _log_to_file(settings.state_dir)
    host, port = tc.parse_carbon(carbon or settings.carbon)
    if netns and netns_pid:
        raise UsageError("give --netns or --netns-pid, not both")
    opts = tc.CollectOptions(
        run_id=run_id,
        duration_s=duration,
        carbon_host=host,
        carbon_port=port,
        prefix=prefix,
        host=label(host_label) if host_label else tc.default_host(),
        targets=Targets(
            netns=netns,
            netns_pid=netns_pid,
            interfaces=interfaces,
            cgroup=cgroup,
            processes=tc.parse_processes(processes, pidfiles),
        ),
        state_dir=settings.state_dir,
        backend=cast(tc.Backend, backend),
        interval_s=interval,
        processes_plugin=processes_plugin,
    )
    if collector == "collectd":
        conf = tc.run_collectd(opts)
        result: dict[str, Any] = {
            "collector": "collectd",
            "config": str(conf),
            "prefix": tc.collectd_prefix(prefix, run_id) + opts.host,
        }
        _emit(result) if as_json else click.echo(
            f"collectd ran with {conf}; series under {result['prefix']}"
        )
        return
    stats, sender = tc.run_standalone(opts)
    spooled = sender.spooled_bytes()
    result = {
        "collector": "standalone",
        "base_path": run_base_path(prefix, run_id, opts.host),
        "samples": stats.samples,
        "points": stats.points,
        "sent_points": sender.sent_points,
        "skipped_seconds": stats.skipped_seconds,
        "spooled_bytes": spooled,
        "spool": str(sender.spool_dir),
    }
    if as_json:
        _emit(result)
    else:
        click.echo(
            f"collected {stats.samples} samples ({stats.points} points) under "
            f"{result['base_path']} to {host}:{port}"
        )
    if spooled:
        raise ServiceUnavailable(
            f"carbon at {host}:{port} unreachable: {spooled} bytes of points kept in "
            f"{sender.spool_dir}; the next tare collect sends them"
        )


def _fmt_s(seconds: float) -> str:
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(config: Path, as_json: bool) -> None:
    """The matrix, the order of runs and the total wall time; runs nothing."""
    from tare import run as tr
    from tare.config import load_campaign

    campaign = load_campaign(config)
    p = tr.make_plan(campaign)
    if as_json:
        _emit(tr.plan_json(campaign, p))
        return
    spec = campaign.spec
    order = "interleaved" if spec.design.interleave else "in blocks"
    click.echo(
        f"campaign {campaign.name}: {spec.design.kind}, {p.cells} cells, {len(p.runs)} runs "
        f"({spec.design.repeats} repeat(s), {order}), {spec.load.duration_s} s of load each"
    )
    names = list(campaign.factor_levels())
    click.echo("  seq  " + "  ".join(f"{n:>12}" for n in names) + "  repeat")
    for r in p.runs:
        levels = dict(r.cell.levels)
        click.echo(
            f"  {r.seq:3d}  " + "  ".join(f"{levels[n]!s:>12}" for n in names) + f"  {r.repeat:6d}"
        )
    click.echo(f"estimated wall time: {_fmt_s(p.wall_time_s)}")


@cli.command("run")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="Continue the interrupted campaign of this file.")
@click.option(
    "--lab",
    "lab_kind",
    type=click.Choice(["auto", "namespaces", "loopback"]),
    default="auto",
    show_default=True,
    help="auto: namespaces as root, loopback otherwise.",
)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_cmd(
    config: Path, resume: bool, lab_kind: str, state_dir: Path | None, as_json: bool
) -> None:
    """Run a campaign: every run's KPIs and load results into Graphite, recorded in the ledger."""
    from tare import run as tr
    from tare.config import load_campaign
    from tare.errors import RunInvalid

    campaign = load_campaign(config)
    settings = resolve(state_dir=state_dir)
    _log_to_file(settings.state_dir)
    summary = tr.run(campaign, settings.state_dir, resume, lab_kind=lab_kind)
    bad = summary.bad
    if as_json:
        _emit(
            {
                "campaign_id": summary.campaign_id,
                "ran": summary.ran,
                "skipped": summary.skipped,
                "aborted": summary.aborted,
                "runs": {
                    k: {
                        "status": v.status,
                        "reason": v.reason,
                        "achieved_rate": v.load.achieved_rate if v.load else None,
                    }
                    for k, v in summary.outcomes.items()
                },
            }
        )
    else:
        click.echo(
            f"campaign {summary.campaign_id}: {summary.ran} run(s) now, "
            f"{summary.skipped} done before, {len(bad)} not valid"
        )
    if summary.aborted:
        raise RunInvalid(f"campaign {summary.campaign_id} aborted: {summary.aborted}")
    if bad:
        lines = [f"run {k}: {v.status}: {v.reason}" for k, v in bad.items()]
        raise RunInvalid(lines[0], details=lines)


@cli.command("capacity")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--mode", "modes", multiple=True, help="Modes to sweep [baseline and every mode].")
@click.option(
    "--clients",
    default="1,2,4,8,16,32,64,128",
    show_default=True,
    help="Concurrent clients of each closed-loop step.",
)
@click.option("--step-s", type=click.FloatRange(min=0.5), default=3.0, show_default=True)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def capacity_cmd(
    config: Path,
    modes: tuple[str, ...],
    clients: str,
    step_s: float,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Closed-loop maximum new-connection rate (the knee) per mode, and its cost vs baseline."""
    from tare import run as tr
    from tare.config import load_campaign
    from tare.errors import RunInvalid

    campaign = load_campaign(config)
    known = [str(m) for m in campaign.factor_levels()["mode"]]
    for m in modes:
        if m not in known:
            raise UsageError(f"--mode {m}: not one of {', '.join(known)}")
    try:
        steps = [int(c) for c in clients.split(",") if c.strip()]
    except ValueError:
        raise UsageError(f"--clients {clients!r}: expected numbers like 1,2,4") from None
    if not steps or min(steps) < 1:
        raise UsageError("--clients: give positive numbers")
    settings = resolve(state_dir=state_dir)
    _log_to_file(settings.state_dir)
    results = tr.capacity(campaign, settings.state_dir, list(modes) or known, steps, step_s)
    base = next((r.max_rate for r in results if r.mode == "baseline"), None)
    rows = []
    for r in results:
        k = r.knee()
        cost = (
            None
            if (base is None or r.max_rate is None or r.mode == "baseline")
            else ((r.max_rate - base) / base * 100)
        )
        rows.append(
            {
                "mode": r.mode,
                "max_conn_per_s": r.max_rate,
                "knee_clients": k.clients if k else None,
                "change_vs_baseline_pct": cost,
                "error": r.error,
                "steps": [vars_of(s) for s in r.steps],
            }
        )
    if as_json:
        _emit({"campaign": campaign.name, "modes": rows})
    else:
        click.echo(f"{'mode':12} {'capacity conn/s':>16} {'knee clients':>13} {'vs baseline':>12}")
        for row in rows:
            cap = f"{row['max_conn_per_s']:.0f}" if row["max_conn_per_s"] else "-"
            cost = (
                f"{row['change_vs_baseline_pct']:+.1f}%"
                if row["change_vs_baseline_pct"] is not None
                else ""
            )
            click.echo(
                f"{row['mode']:12} {cap:>16} {row['knee_clients'] or '-'!s:>13} {cost:>12}"
                + (f"  {row['error']}" if row["error"] else "")
            )
    errors = [f"capacity of {r['mode']}: {r['error']}" for r in rows if r["error"]]
    if errors:
        raise RunInvalid(errors[0], details=errors)


def vars_of(step: Any) -> dict[str, Any]:
    return {k: getattr(step, k) for k in step.__slots__}


@cli.group()
def runs() -> None:
    """The run ledger."""


@runs.command("list")
@click.option("--campaign", "campaign_id", help="One campaign id (default: all).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def runs_list(campaign_id: str | None, state_dir: Path | None, as_json: bool) -> None:
    """Every run recorded, with its status, achieved load and reason."""
    from harness.ledger import Ledger

    settings = resolve(state_dir=state_dir)
    db = settings.state_dir / "ledger.db"
    if not db.exists():
        if as_json:
            _emit({"campaigns": [], "runs": []})
        else:
            click.echo(f"no ledger in {settings.state_dir}")
        return
    ledger = Ledger(db)
    try:
        rows = ledger.runs(campaign_id)
        if as_json:
            _emit(
                {
                    "campaigns": ledger.campaigns(),
                    "runs": [{k: getattr(r, k) for k in r.__slots__} for r in rows],
                }
            )
            return
        for r in rows:
            rate = f"{r.achieved_rate:.0f}/s" if r.achieved_rate is not None else "-"
            click.echo(
                f"{r.run_id}  {r.status:11}  {r.mode:10}  {r.rate:>6}/s  {rate:>8}"
                + (f"  {r.reason}" if r.reason else "")
            )
    finally:
        ledger.close()


@cli.group()
def lab() -> None:
    """The namespaces lab."""


@lab.command("down")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
def lab_down(state_dir: Path | None) -> None:
    """Remove every namespace, process and cgroup a lab left behind (after a crash)."""
    from harness.lab import teardown_all

    settings = resolve(state_dir=state_dir)
    done = teardown_all(settings.state_dir / "lab" / "records")
    click.echo("lab: removed " + ", ".join(done) if done else "lab: nothing to remove")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, map every error to its exit code and one line."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="tare", standalone_mode=False)
        if isinstance(code, int) and code:  # ctx.exit(N) returns N in this mode
            return code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("tare: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("tare: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except TareError as exc:
        log.debug("error", exc_info=True)
        for line in exc.lines():
            click.echo(line if isinstance(exc, ConfigError) else f"tare: {line}", err=True)
        if debug:
            raise
        return int(exc.exit_code)
    except Exception as exc:
        code = _stage_exit_code(exc)
        if code is not None:
            log.debug("error", exc_info=True)
            click.echo(f"tare: {exc}", err=True)
            if debug:
                raise
            return int(code)
        log.debug("internal error", exc_info=True)
        click.echo(f"tare: internal error: {type(exc).__name__}: {exc}", err=True)
        if debug:
            raise
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
