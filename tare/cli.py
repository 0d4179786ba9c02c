"""The ``tare`` command: one function per verb, one place that maps errors to exit codes."""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from tare import __version__
from tare.cli_common import emit, log_to_file
from tare.errors import ConfigError, ExitCode, TareError
from tare.secrets import RedactingFilter, redact
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
    ("pipeline.fetch", "SeriesMissing", ExitCode.BAD_INPUT),
    ("alerting.store", "UnknownAlert", ExitCode.USAGE),
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
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)
    handler.setLevel(level)


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
        log_to_file(settings.state_dir)
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
    from tare import cli_alert, cli_calibrate, cli_campaign, cli_collect

    cli.add_command(cli_collect.collect_cmd)
    cli.add_command(cli_alert.alert_cmd)
    cli.add_command(cli_alert.alerts_group)
    cli.add_command(cli_alert.changepoints_cmd)
    cli.add_command(cli_calibrate.calibrate_cmd)
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
        for raw in exc.lines():
            line = redact(raw)
            click.echo(line if isinstance(exc, ConfigError) else f"tare: {line}", err=True)
        if debug:
            _print_traceback()
        return int(exc.exit_code)
    except Exception as exc:
        code = _stage_exit_code(exc)
        if code is not None:
            log.debug("error", exc_info=True)
            click.echo(redact(f"tare: {exc}"), err=True)
            if debug:
                _print_traceback()
            return int(code)
        log.debug("internal error", exc_info=True)
        click.echo(redact(f"tare: internal error: {type(exc).__name__}: {exc}"), err=True)
        if debug:
            _print_traceback()
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
