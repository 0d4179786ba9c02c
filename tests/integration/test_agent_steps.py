"""What an agent's steps get on a real namespaces lab: the run's values as ``TARE_*``, the
workload's namespace, a private folder short enough for a unix socket, and a time limit whose
failure says what a hung step usually is (a daemon holding tare's pipes)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.agent import Agent, AgentCommands, AgentFailed, StepTimeouts
from harness.lab import namespace_lab, teardown
from harness.runner import run_values
from tests.runner_config import runner_config
from tests.sandbox import is_root

pytestmark = pytest.mark.skipif(not is_root(), reason="the namespaces lab needs root")

# one wrapper for every step: it writes what it was given, and its socket, to the folder
WRAPPER = """#!/bin/sh
set -e
step="$1"
env | grep '^TARE_' | sort > "$TARE_AGENT_DIR/env.$step"
ip netns identify > "$TARE_AGENT_DIR/netns.$step"
if [ "$step" = start ]; then
  setsid {python} -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1] + "/agent.sock")
s.listen()
time.sleep(300)' "$TARE_AGENT_DIR" </dev/null >"$TARE_AGENT_DIR/daemon.log" 2>&1 &
fi
if [ "$step" = status ]; then [ -S "$TARE_AGENT_DIR/agent.sock" ]; fi
if [ "$step" = stop ]; then pkill -f "$TARE_AGENT_DIR" || true; fi
"""


def _commands(wrapper: Path, start: tuple[str, ...] | None = None) -> AgentCommands:
    def step(name: str) -> tuple[str, ...]:
        return (str(wrapper), name)

    return AgentCommands(
        install=step("install"),
        uninstall=step("uninstall"),
        set_mode=step("mode"),
        start=start or step("start"),
        stop=step("stop"),
        health=step("status"),
        version=None,
        health_timeout_s=10,
        timeouts=StepTimeouts(start=3),
    )


def test_each_step_gets_the_runs_values_in_the_namespace_and_a_socket_fits_its_folder(
    tmp_path: Path,
) -> None:
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text(WRAPPER.replace("{python}", sys.executable))
    wrapper.chmod(0o755)
    lab = namespace_lab("agsteps1", tmp_path / "records", 8080)
    try:
        cfg = runner_config(tmp_path, _commands(wrapper), tmp_path)
        values = run_values(lab, cfg, {"mode": "enforced", "rate": 1000}, "r-1", tmp_path / "r")
        os.makedirs(lab.agent_dir, mode=0o700, exist_ok=True)
        agent = Agent(lab.workload, cfg.agent, values)
        agent.bring_up("enforced")  # start returns at once: its daemon is detached
        folder = Path(lab.agent_dir)
        assert len(str(folder / "agent.sock")) < 108
        env = dict(line.split("=", 1) for line in (folder / "env.start").read_text().split())
        assert env["TARE_MODE"] == "enforced" and env["TARE_RATE"] == "1000"
        assert env["TARE_RUN_ID"] == "r-1"
        assert env["TARE_AGENT_DIR"] == lab.agent_dir
        assert env["TARE_NETNS"] == "tare-w-agsteps1"
        assert env["TARE_INTERFACE"] == "tare0"
        assert env["TARE_LOAD_NET"] == lab.load_net
        assert env["TARE_CAMPAIGN_DIR"] == str(tmp_path)
        for step in ("install", "mode", "start", "status"):
            assert (folder / f"netns.{step}").read_text().strip() == "tare-w-agsteps1"
        assert agent.tear_down() == []
    finally:
        teardown(lab)
    assert not Path(lab.agent_dir).exists()  # removed with the lab


def test_a_start_whose_daemon_holds_tares_pipes_fails_at_its_limit_saying_so(
    tmp_path: Path,
) -> None:
    lab = namespace_lab("agsteps2", tmp_path / "records", 8080)
    try:
        # the daemon inherits the step's stdout: the step never reaches its end-of-file
        hold = ("sh", "-c", "sleep 60 & echo started")
        cfg = runner_config(tmp_path, _commands(Path("/bin/true"), start=hold), tmp_path)
        values = run_values(lab, cfg, {"mode": "enforced"}, "r-2", tmp_path / "r")
        agent = Agent(lab.workload, cfg.agent, values)
        with pytest.raises(AgentFailed) as err:
            agent.bring_up("enforced")
        assert str(err.value) == (
            "agent start did not end within 3 s (agent.timeouts.start); a step that starts a "
            "daemon must detach it from tare's pipes (setsid, its output to a file)"
        )
    finally:
        teardown(lab)
