"""The agent's lifecycle on the workload host: install, set mode, start, health, stop, uninstall.

Every step is an argv from the campaign file with placeholders filled; a step that fails or
hangs raises ``AgentFailed`` with the step, the exit code and the agent's last words, so that the
run fails with the reason and the campaign goes on.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contracts.errors import ErrorKind
from harness.errors import HarnessError
from harness.lab import Host, LabError

STEP_TIMEOUT_S = 120.0


class AgentFailed(HarnessError):
    """An agent step failed or hung; the message says which and why."""

    kind = ErrorKind.RUN_INVALID


def fill(argv: Sequence[str], values: Mapping[str, object]) -> list[str]:
    return [arg.format_map({k: str(v) for k, v in values.items()}) for arg in argv]


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


def _last_words(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    return text.splitlines()[-1][:300] if text else "no output"


class Agent:
    def __init__(self, host: Host, commands: AgentCommands, values: Mapping[str, object]):
        self.host = host
        self.cmd = commands
        self.values = values

    def step(self, name: str, argv: Sequence[str], timeout_s: float = STEP_TIMEOUT_S) -> str:
        try:
            proc = self.host.run(fill(argv, self.values), timeout_s)
        except subprocess.TimeoutExpired:
            raise AgentFailed(f"agent {name} hung for {timeout_s:.0f} s") from None
        except LabError as exc:
            raise AgentFailed(f"agent {name}: {exc}") from None
        if proc.returncode != 0:
            raise AgentFailed(f"agent {name} exited {proc.returncode}: {_last_words(proc)}")
        return proc.stdout

    def version(self) -> str | None:
        if self.cmd.version is None:
            return None
        try:
            return self.step("version", self.cmd.version, 30).strip()[:200] or None
        except AgentFailed:
            return None

    def bring_up(self, mode: str) -> None:
        self.step("install", self.cmd.install)
        self.step("set mode", self.cmd.set_mode)
        self.step("start", self.cmd.start)
        self.wait_healthy()

    def healthy(self) -> tuple[bool, str]:
        try:
            proc = self.host.run(fill(self.cmd.health, self.values), 30)
        except subprocess.TimeoutExpired:
            return False, "health check hung"
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
        raise AgentFailed(f"agent not healthy within {self.cmd.health_timeout_s:.0f} s: {last}")

    def tear_down(self) -> list[str]:
        """Stop and uninstall, whatever state it is in; returns the problems met."""
        problems = []
        for name, argv in (("stop", self.cmd.stop), ("uninstall", self.cmd.uninstall)):
            try:
                self.step(name, argv, 60)
            except AgentFailed as exc:
                problems.append(str(exc))
        return problems
