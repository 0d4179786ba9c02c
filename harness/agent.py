"""The agent's lifecycle on the workload host: install, set mode, start, health, stop, uninstall.

Every step is an argv from the campaign file with placeholders filled, run in the workload's
namespace, cgroup and cores with the same values as ``TARE_*`` environment variables, within its
own time limit (``[agent.timeouts]``); a step that fails or hangs raises ``AgentFailed`` with the
step, the exit code and the agent's last words, so that the run fails with the reason and the
campaign goes on.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contracts.errors import ErrorKind
from harness.errors import HarnessError
from harness.lab import Host, LabError

# a step that starts a daemon and returns, when the daemon keeps the step's stdout or stderr
# open: tare reads them to their end, so the step "hangs" until its time limit
DETACH_HINT = (
    "a step that starts a daemon must detach it from tare's pipes (setsid, its output to a file)"
)


class AgentFailed(HarnessError):
    """An agent step failed or hung; the message says which and why, ``step`` which."""

    kind = ErrorKind.RUN_INVALID

    def __init__(self, message: str, step: str) -> None:
        super().__init__(message)
        self.step = step


def fill(argv: Sequence[str], values: Mapping[str, object]) -> list[str]:
    return [arg.format_map({k: str(v) for k, v in values.items()}) for arg in argv]


def agent_env(values: Mapping[str, object]) -> dict[str, str]:
    """The run's values as environment variables for every agent step (``TARE_RUN_ID``,
    ``TARE_MODE``, ``TARE_AGENT_DIR``, ...): a wrapper script reads them rather than parse
    arguments."""
    return {f"TARE_{k.upper()}": str(v) for k, v in sorted(values.items()) if k.isidentifier()}


@dataclass(frozen=True, slots=True)
class StepTimeouts:
    """Seconds each step may take (``[agent.timeouts]``); health is per check, within
    ``health_timeout_s`` in all."""

    install: float = 120.0
    set_mode: float = 120.0
    start: float = 120.0
    health: float = 30.0
    stop: float = 60.0
    uninstall: float = 60.0
    version: float = 30.0


@dataclass(frozen=True, slots=True)
class AgentCommands:
    install: tuple[str, ...]
    uninstall: tuple[str, ...]
    set_mode: tuple[str, ...]
    start: tuple[str, ...]
    stop: tuple[str, ...]
    health: tuple[str, ...]
    version: tuple[str, ...] | None
    health_timeout_s: float
    timeouts: StepTimeouts = StepTimeouts()


def _last_words(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    return text.splitlines()[-1][:300] if text else "no output"


class Agent:
    def __init__(self, host: Host, commands: AgentCommands, values: Mapping[str, object]):
        self.host = host
        self.cmd = commands
        self.values = values
        self.env = agent_env(values)

    def step(self, name: str, argv: Sequence[str]) -> str:
        key = name.replace(" ", "_")
        timeout_s: float = getattr(self.cmd.timeouts, key)
        try:
            proc = self.host.run(fill(argv, self.values), timeout_s, env=self.env)
        except subprocess.TimeoutExpired:
            raise AgentFailed(
                f"agent {name} did not end within {timeout_s:g} s (agent.timeouts.{key}); "
                + DETACH_HINT,
                name,
            ) from None
        except LabError as exc:
            raise AgentFailed(f"agent {name}: {exc}", name) from None
        if proc.returncode != 0:
            raise AgentFailed(f"agent {name} exited {proc.returncode}: {_last_words(proc)}", name)
        return proc.stdout

    def version(self) -> str | None:
        if self.cmd.version is None:
            return None
        try:
            return self.step("version", self.cmd.version).strip()[:200] or None
        except AgentFailed:
            return None

    def bring_up(self, mode: str) -> None:
        self.step("install", self.cmd.install)
        self.step("set mode", self.cmd.set_mode)
        self.step("start", self.cmd.start)
        self.wait_healthy()

    def healthy(self) -> tuple[bool, str]:
        try:
            proc = self.host.run(
                fill(self.cmd.health, self.values), self.cmd.timeouts.health, env=self.env
            )
        except subprocess.TimeoutExpired:
            return False, f"a health check did not end within {self.cmd.timeouts.health:g} s"
        except LabError as exc:
            return False, str(exc)
        return proc.returncode == 0, _last_words(proc)

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.cmd.health_timeout_s
        last = ""
        while time.monotonic() < deadline:
            ok, last = self.healthy()
            if ok:
                return
            time.sleep(0.2)
        raise AgentFailed(
            f"agent not healthy within {self.cmd.health_timeout_s:.0f} s: {last}", "health"
        )

    def tear_down(self) -> list[str]:
        """Stop and uninstall, whatever state it is in; returns the problems met."""
        problems = []
        for name, argv in (("stop", self.cmd.stop), ("uninstall", self.cmd.uninstall)):
            try:
                self.step(name, argv)
            except AgentFailed as exc:
                problems.append(str(exc))
        return problems
