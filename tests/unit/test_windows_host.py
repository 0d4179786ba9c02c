"""The Windows host profile: every step a PowerShell script over SSH, built and checked here."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from harness.agent import agent_env
from harness.remote import Ssh, WindowsSsh
from harness.windows import WindowsProfile, cpu_mask, windows_host


def script_of(argv: list[str]) -> str:
    return base64.b64decode(argv[-1]).decode("utf-16-le")


def host():  # type: ignore[no-untyped-def]
    ssh = Ssh("win-lab-01", user="tare", key=Path("/k/id"), control_dir=Path("/c"))
    return windows_host("workload", "10.0.0.5", ssh, cpus="2-3")


def test_steps_run_as_powershell_pinned_to_the_hosts_cores() -> None:
    h = host()
    assert isinstance(h.transport, WindowsSsh)
    argv = h.command(["C:\\agent\\agent.exe", "--mode", "enforced"], env={"TARE_RUN_ID": "r1"})
    assert argv[argv.index("--") - 1] == "tare@win-lab-01"
    script = script_of(argv)
    assert "$env:TARE_RUN_ID = 'r1'" in script
    assert (
        "Start-Process -FilePath 'C:\\agent\\agent.exe' -ArgumentList @('--mode', 'enforced')"
        in (script)
    )
    assert "$p.ProcessorAffinity = [IntPtr]12" in script  # cores 2 and 3
    # nothing of Linux leaks in: no namespace, cgroup or taskset wrapper
    assert "taskset" not in script and "netns" not in script and "cgroup" not in script


def test_the_collector_is_tares_own_with_the_psutil_backend() -> None:
    p = WindowsProfile(python="C:\\tare\\python.exe", agent_process="agentsvc.exe")
    argv = p.collector("run-1", "10.0.0.1:2003", "tare", "win-lab-01", ["Ethernet"])
    assert argv[:4] == ["C:\\tare\\python.exe", "-m", "tare", "collect"]
    joined = " ".join(argv)
    assert "--backend psutil" in joined and "--carbon 10.0.0.1:2003" in joined
    assert "--process server=nginx.exe" in joined and "--process agent=agentsvc.exe" in joined
    assert "--interface Ethernet" in joined
    baseline = p.collector("run-1", "10.0.0.1:2003", "tare", "h", agent_present=False)
    assert "agent=agentsvc.exe" not in " ".join(baseline)
    script = script_of(host().command(argv))
    assert "'--backend' '--carbon'" not in script  # each argument quoted on its own
    assert "'--backend', 'psutil'" in script


def test_facts_listeners_and_stop_are_plain_commands() -> None:
    p = WindowsProfile()
    assert p.facts()[:2] == ["python.exe", "-c"]
    assert "Get-NetTCPConnection -State Listen -LocalPort 8080" in p.listeners(8080)[-1]
    assert p.stop_process("nginx.exe") == ["taskkill.exe", "/F", "/T", "/IM", "nginx.exe"]


def test_run_values_become_environment_variables() -> None:
    env = agent_env({"mode": "enforced", "run_id": "r1", "policy_size": 1000, "bad key": 1})
    assert env == {"TARE_MODE": "enforced", "TARE_RUN_ID": "r1", "TARE_POLICY_SIZE": "1000"}


@pytest.mark.parametrize(("cpus", "mask"), [("0", 1), ("0-2,5", 0b100111), ("1, 3", 0b1010)])
def test_core_lists_become_affinity_masks(cpus: str, mask: int) -> None:
    assert cpu_mask(cpus) == mask


@pytest.mark.parametrize("cpus", ["3-1", "x", "64"])
def test_bad_core_lists_are_refused(cpus: str) -> None:
    with pytest.raises(ValueError):
        cpu_mask(cpus)
