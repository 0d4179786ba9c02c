"""``tare-refagent``: install, uninstall, start, stop, mode, policy, status.

Acts on the network namespace it runs in (the lab runs it with ``ip netns exec``). Exit codes:
0 ok, 1 unhealthy (status), 2 usage, 3 bad policy or not installed, 4 nft or the daemon failed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from refagent import __version__, nft
from refagent.policy import PolicyError, generate_policy, parse_policy
from refagent.ruleset import MODES
from refagent.state import StateDir, write_atomic

DEFAULT_STATE = "/var/lib/tare-refagent"
HEARTBEAT_STALE_S = 3.0


class AgentError(click.ClickException):
    def __init__(self, message: str, code: int = 4) -> None:
        super().__init__(message)
        self.code = code

    def show(self, file: Any = None) -> None:
        click.echo(f"tare-refagent: {self.message}", err=True)


def _state(ctx: click.Context) -> StateDir:
    return StateDir(Path(ctx.obj["state_dir"]))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tare-refagent")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("TARE_REFAGENT_STATE", DEFAULT_STATE),
    help="Where the agent keeps its policy, mode and logs.",
)
@click.pass_context
def main(ctx: click.Context, state_dir: Path) -> None:
    """Reference nftables enforcement agent: the system under test of tare's quick start."""
    ctx.ensure_object(dict)
    ctx.obj["state_dir"] = state_dir


def _shared_state_dir(func: Any) -> Any:
    """Accept --state-dir after the verb too (``tare-refagent start --state-dir D``)."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(dict)
            ctx.obj["state_dir"] = value

    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        expose_value=False,
        callback=callback,
        is_eager=True,
        help="Same as the global --state-dir.",
    )(func)


@main.command()
@_shared_state_dir
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--policy-size", type=click.IntRange(min=0), help="Generate a policy of N entries.")
@click.option("--allow", multiple=True, help="With --policy-size: peers that must get through.")
@click.option(
    "--port",
    "ports",
    multiple=True,
    type=click.IntRange(1, 65535),
    default=(8080,),
    show_default=True,
    help="With --policy-size: the workload ports.",
)
@click.option(
    "--style",
    type=click.Choice(["sets", "linear"]),
    default="sets",
    show_default=True,
    help="sets: one set lookup; linear: one rule per entry, like a naive agent.",
)
@click.option(
    "--sync-interval",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="Seconds between re-applications of the policy.",
)
@click.option(
    "--updates-per-min",
    type=click.FloatRange(min=0, max=600),
    default=0.0,
    show_default=True,
    help="Policy updates a minute the daemon receives and applies (0: none).",
)
@click.option(
    "--churn",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=0.1,
    show_default=True,
    help="Share of the filler entries (100.64.0.0/10) each policy update replaces.",
)
@click.pass_context
def install(
    ctx: click.Context,
    policy_file: Path | None,
    policy_size: int | None,
    allow: tuple[str, ...],
    ports: tuple[int, ...],
    style: str,
    sync_interval: float,
    updates_per_min: float,
    churn: float,
) -> None:
    """Install the agent with a policy (no kernel change until it starts)."""
    state = _state(ctx)
    if (policy_file is None) == (policy_size is None):
        raise click.UsageError("give exactly one of --policy FILE or --policy-size N")
    try:
        if policy_file is not None:
            try:
                text = policy_file.read_text()
            except OSError as exc:
                raise AgentError(f"{policy_file}: {exc.strerror}", 3) from None
            policy = parse_policy(text, str(policy_file))
        else:
            policy = generate_policy(policy_size or 0, allow, ports)
    except PolicyError as exc:
        raise AgentError(str(exc), 3) from None
    state.root.mkdir(parents=True, exist_ok=True)
    write_atomic(state.policy, policy.to_json())
    write_atomic(
        state.config,
        json.dumps(
            {
                "style": style,
                "sync_interval_s": sync_interval,
                "updates_per_min": updates_per_min,
                "churn": churn,
                "installed_at": time.time(),
            }
        ),
    )
    if not state.mode_file.exists():
        write_atomic(state.mode_file, "idle\n")
    updates = f", {updates_per_min:g} updates/min of {churn:.0%}" if updates_per_min else ""
    click.echo(
        f"installed: {len(policy.allow)} policy entries, style {style}{updates}, in {state.root}"
    )


@main.command()
@_shared_state_dir
@click.argument("policy_file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def policy(ctx: click.Context, policy_file: Path) -> None:
    """Replace the policy; a bad file is refused and the policy in force stays."""
    state = _require_installed(ctx)
    try:
        new = parse_policy(policy_file.read_text(), str(policy_file))
    except OSError as exc:
        raise AgentError(f"{policy_file}: {exc.strerror}", 3) from None
    except PolicyError as exc:
        raise AgentError(f"{exc}; the policy in force stays", 3) from None
    write_atomic(state.policy, new.to_json())
    _resync(state)
    click.echo(f"policy: {len(new.allow)} entries")


def _require_installed(ctx: click.Context) -> StateDir:
    state = _state(ctx)
    if not state.installed():
        raise AgentError(f"not installed in {state.root} (run 'tare-refagent install')", 3)
    return state


def _wait_applied(state: StateDir, mode: str, after: float, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        applied = state.read_json(state.applied)
        if applied.get("mode") == mode and float(applied.get("at", 0)) >= after:
            return
        if state.pid() is None:
            raise AgentError(f"the daemon exited; see {state.log}")
        time.sleep(0.05)
    raise AgentError(f"mode {mode} not applied within {timeout_s:.0f} s; see {state.log}")


def _resync(state: StateDir) -> None:
    pid = state.pid()
    if pid is None:
        return
    asked = time.time()
    os.kill(pid, signal.SIGHUP)
    _wait_applied(state, state.mode(), asked)


@main.command()
@_shared_state_dir
@click.pass_context
def start(ctx: click.Context) -> None:
    """Start the daemon; returns once it applied the current mode."""
    state = _require_installed(ctx)
    if state.pid() is not None:
        click.echo(f"already running, pid {state.pid()}")
        return
    asked = time.time()
    with state.log.open("ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "refagent.daemon", "--state-dir", str(state.root)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 10
    while state.pid() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    _wait_applied(state, state.mode(), asked)
    click.echo(f"started, pid {state.pid()}, mode {state.mode()}")


def _stop_daemon(state: StateDir) -> bool:
    pid = state.pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while state.pid() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if state.pid() is not None:
        os.kill(pid, signal.SIGKILL)
    return True


@main.command()
@_shared_state_dir
@click.pass_context
def stop(ctx: click.Context) -> None:
    """Stop the daemon; the rules in force stay until uninstall (as a real agent's would)."""
    state = _state(ctx)
    click.echo("stopped" if _stop_daemon(state) else "not running")


@main.command()
@_shared_state_dir
@click.argument("mode", type=click.Choice(MODES))
@click.pass_context
def mode(ctx: click.Context, mode: str) -> None:
    """Set the mode: idle, visibility or enforced (applied at once when running)."""
    state = _require_installed(ctx)
    write_atomic(state.mode_file, mode + "\n")
    _resync(state)
    click.echo(f"mode {mode}" + ("" if state.pid() else " (applied when the daemon starts)"))


@main.command()
@_shared_state_dir
@click.pass_context
def uninstall(ctx: click.Context) -> None:
    """Stop the daemon and remove every table, set, rule and file the agent made."""
    state = _state(ctx)
    _stop_daemon(state)
    try:
        removed = nft.remove_table()
    except nft.NftError as exc:
        raise AgentError(str(exc)) from None
    if state.root.exists():
        shutil.rmtree(state.root)
    click.echo("uninstalled" + (" (rules removed)" if removed else ""))


@main.command()
@_shared_state_dir
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Health: exit 0 when the daemon runs, beats and applied the wanted mode; else 1."""
    state = _state(ctx)
    info: dict[str, Any] = {"installed": state.installed(), "state_dir": str(state.root)}
    problems = []
    if not info["installed"]:
        problems.append("not installed")
    pid = state.pid()
    age = state.heartbeat_age()
    applied = state.read_json(state.applied)
    info.update(
        {
            "version": __version__,
            "pid": pid,
            "running": pid is not None,
            "heartbeat_age_s": None if age is None else round(age, 3),
            "mode": state.mode() if info["installed"] else None,
            "applied": applied,
        }
    )
    if pid is None:
        problems.append("daemon not running")
    elif age is None or age > HEARTBEAT_STALE_S:
        problems.append("heartbeat stale")
    if info["installed"] and applied.get("mode") != info["mode"]:
        problems.append(f"mode {info['mode']} not applied")
    try:
        table = nft.summary()
        info["ruleset"] = {
            "table": table.present,
            "rules": table.rules,
            "set_elements": table.set_elements,
            "rejected": table.rejected,
        }
    except nft.NftError as exc:
        problems.append(str(exc))
    if state.report.exists():
        info["visibility"] = state.read_json(state.report)
    info["healthy"] = not problems
    info["problems"] = problems
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
    else:
        click.echo(
            f"{'healthy' if not problems else 'UNHEALTHY: ' + '; '.join(problems)}; "
            f"mode {info['mode']}, pid {pid}, ruleset {info.get('ruleset')}"
        )
    if problems:
        ctx.exit(1)


def entry() -> None:
    try:
        code = main(standalone_mode=False)  # returns ctx.exit's code instead of raising
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except AgentError as exc:
        exc.show()
        sys.exit(exc.code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
