"""The ``tare`` command: one function per verb, one place that maps errors to exit codes."""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from alerting.secrets import RedactingFilter, redact
from contracts.errors import ExitCode, TareError, exit_code_for
from contracts.interrupts import signal_name, stop_on_signals
from tare import __version__
from tare.cli_common import emit
from tare.configfile import ConfigError
from tare.stack.settings import StackSettings, default_state_dir, resolve

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
LOG_FILE = Path("log") / "tare.log"


def _state_dir_of(argv: list[str]) -> Path:
    """The state directory a command line uses (``--state-dir``, else TARE_STATE_DIR, else
    ./var): where its log file goes, whatever the verb."""
    for i, arg in enumerate(argv):
        if arg == "--state-dir" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--state-dir="):
            return Path(arg.split("=", 1)[1])
    return default_state_dir(os.environ)


_STDERR = logging.StreamHandler(sys.stderr)
_STDERR.setFormatter(logging.Formatter("tare: %(levelname)s: %(message)s"))
_STDERR.addFilter(RedactingFilter())


def _configure_logging(argv: list[str]) -> Path:
    """Once per command: warnings on stderr (``-v``/``--debug`` lower the level once click has
    parsed them), and the full log (tracebacks included) in the state directory's
    log/tare.log, for every verb. Returns the log file's path."""
    _STDERR.setStream(sys.stderr)
    _STDERR.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [_STDERR]
    root.setLevel(logging.DEBUG)
    path = _state_dir_of(argv) / LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(path)
    except OSError as exc:
        log.warning("no log file %s: %s", path, exc.strerror or exc)
        return path
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    file_handler.setLevel(logging.DEBUG)
    file_handler.addFilter(RedactingFilter())
    root.addHandler(file_handler)
    return path


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tare")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", count=True, help="More log lines on stderr.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """tare measures what a host agent costs the server it protects, every night."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _STDERR.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)


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
            emit({"file": str(config), "valid": False, "problems": exc.lines()})
        raise
    spec = campaign.spec
    levels = campaign.factor_levels()
    if as_json:
        emit(
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
            "--caches",
            type=click.IntRange(1, 16),
            help="carbon-caches: 1, or N behind carbon-c-relay (consistent hash) [env "
            "TARE_CACHES; 1].",
        ),
        click.option(
            "--listen",
            help="Address the carbon port (the relay, in a cluster) listens on, for other hosts' "
            "collectors [env TARE_LISTEN; 127.0.0.1].",
        ),
        click.option(
            "--settings",
            "settings_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Settings file whose [stack] table sets these [env TARE_SETTINGS].",
        ),
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
            caches=kwargs.pop("caches"),
            settings_file=kwargs.pop("settings_file"),
            listen=kwargs.pop("listen"),
        )
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
    topo = info["topology"]
    relay = topo["relay"]
    if relay is None:
        click.echo(
            f"  carbon-cache  pid {procs['carbon-cache']['pid']}  line {g['carbon']}  "
            f"pickle {g['carbon_pickle']}  cache query {g['cache_query']}"
        )
    else:
        click.echo(
            f"  carbon-relay  pid {relay['pid']}  line {relay['address']}  "
            f"{relay['hash']} over {topo['caches']} caches"
        )
        for m in topo["members"]:
            click.echo(
                f"  cache {m['instance']}       pid {m['pid']}  line {m['line']}  "
                f"cache query {m['cache_query']}  {m['whisper_dir']}"
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
    emit(info) if as_json else _print_status(info)


@stack.command("install")
@stack_options
def stack_install(settings: StackSettings, as_json: bool) -> None:
    """Create Graphite's own virtualenv now (``up`` does it when missing)."""
    from tare.stack import graphite

    graphite.ensure_venv(settings.graphite_venv)
    if as_json:
        emit({"graphite_venv": str(settings.graphite_venv), "ready": True})
    else:
        click.echo(f"graphite venv: ready in {settings.graphite_venv}")


@stack.command("down")
@stack_options
def stack_down(settings: StackSettings, as_json: bool) -> None:
    """Stop what tare started from this state directory (idempotent)."""
    from tare.stack import control

    stopped = control.down(settings)
    if as_json:
        emit({"stopped": stopped, "state_dir": str(settings.state_dir)})
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
    emit(info) if as_json else _print_status(info)


def _register() -> None:
    from tare import (
        cli_alert,
        cli_calibrate,
        cli_campaign,
        cli_collect,
        cli_dashboards,
        cli_nightly,
    )

    cli.add_command(cli_collect.collect_cmd)
    cli.add_command(cli_nightly.nightly_cmd)
    cli.add_command(cli_nightly.schedule_cmd)
    cli.add_command(cli_alert.alert_cmd)
    cli.add_command(cli_alert.alerts_group)
    cli.add_command(cli_alert.changepoints_cmd)
    cli.add_command(cli_calibrate.calibrate_cmd)
    cli.add_command(cli_dashboards.dashboards_group)
    for command in (
        cli_campaign.plan,
        cli_campaign.run_cmd,
        cli_campaign.analyze_cmd,
        cli_campaign.report_cmd,
        cli_campaign.capacity_cmd,
        cli_campaign.runs,
        cli_campaign.lab,
    ):
        cli.add_command(command)


_register()


def _print_traceback() -> None:
    """``--debug``: the traceback on stderr (secrets redacted), and still the exit code."""
    click.echo(redact(traceback.format_exc()).rstrip(), err=True)


def _fail(exc: BaseException, debug: bool, log_file: Path) -> int:
    """The one catch point: one line on stderr, the traceback in the log, the exit code."""
    code = exit_code_for(exc)
    if isinstance(exc, TareError):
        log.debug("error", exc_info=exc)
        for raw in exc.lines():
            line = redact(raw)
            click.echo(line if exc.names_its_file else f"tare: {line}", err=True)
    else:
        log.debug("internal error", exc_info=exc)  # the log file only; stderr gets one line
        click.echo(
            redact(f"tare: internal error, see {log_file}: {type(exc).__name__}: {exc}"),
            err=True,
        )
    if debug:
        _print_traceback()
    return int(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, map every error to its exit code and one line."""
    args = list(argv if argv is not None else sys.argv[1:])
    log_file = _configure_logging(args)
    debug = "--debug" in args
    try:
        with stop_on_signals():
            code = cli.main(args=args, prog_name="tare", standalone_mode=False)
        if isinstance(code, int) and code:  # ctx.exit(N) returns N in this mode
            return code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # click turns a KeyboardInterrupt into Abort, keeping it as the cause
        why = signal_name(exc.__cause__ or exc)
        log.info("interrupted by %s", why)
        click.echo(f"tare: interrupted ({why})", err=True)
        return int(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except Exception as exc:
        return _fail(exc, debug, log_file)
    return 0


def entry() -> None:
    sys.exit(main())
