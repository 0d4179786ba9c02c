"""A runner configuration for tests that drive the harness's pieces directly (agent steps, the
run's values), without a campaign file."""

from __future__ import annotations

from pathlib import Path

from harness.agent import AgentCommands
from harness.runner import RunnerConfig


def runner_config(state_dir: Path, commands: AgentCommands, campaign_dir: Path) -> RunnerConfig:
    return RunnerConfig(
        workload_argv=("true",),
        port=8080,
        path="/",
        ready_timeout_s=5,
        agent=commands,
        tool="h2load",
        duration_s=12,
        warmup_s=1,
        cooldown_s=1,
        min_ratio=0.98,
        run_timeout_s=60,
        lab_root=state_dir / "runs",
        state_dir=state_dir,
        campaign_dir=campaign_dir,
    )
