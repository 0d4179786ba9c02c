"""A Windows workload host behind the same ``Host`` interface: Windows' OpenSSH server, each step
a PowerShell script (``harness.remote.WindowsSsh``), the psutil collector, the agent's commands
from the campaign file.

A Windows host has no network namespaces, cgroups, conntrack, nftables, sysctls or RPS. Its lab
is the host itself. Its KPIs are what psutil reads: per-core and total CPU, available memory,
interfaces, and the followed processes (the workload server and the agent). ``GIVES_UP`` says
so in a run's lab facts, as the loopback lab does. Pure command building: what was run and what
was not is in ``docs/windows.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.cpus import bits, expand
from harness.lab import Host
from harness.remote import Ssh, WindowsSsh

GIVES_UP = (
    "the workload cgroup (Windows has job objects; cgroup CPU/memory KPIs are not measured: "
    "the followed processes' CPU and memory are)",
    "network namespaces (the host's own TCP stack and interfaces)",
    "conntrack and nftables KPIs (the agent programs WFP)",
    "lab sysctls and RPS steering",
)


def cpu_mask(cpus: str) -> int:
    """A taskset-style list (``"0-2,5"``) as a processor affinity bit mask (64 bits wide)."""
    cores = expand(cpus)  # ValueError naming the list when it is not one
    if cores[-1] > 63:
        raise ValueError(f"cpus {cpus!r}: core {cores[-1]} is beyond a 64-bit affinity mask")
    return bits(cpus)


def windows_host(name: str, address: str, ssh: Ssh, cpus: str | None = None) -> Host:
    """A host whose steps run as PowerShell over SSH, on ``cpus`` when given."""
    affinity = cpu_mask(cpus) if cpus else None
    return Host(name, address, cpus=None, transport=WindowsSsh(ssh, affinity))


@dataclass(frozen=True, slots=True)
class WindowsProfile:
    """What runs on a Windows workload host, besides the agent's own commands (which come from
    the campaign's ``[agent]`` table, filled like any host's)."""

    python: str = "python.exe"  # the interpreter tare is installed into on that host
    server_process: str = "nginx.exe"  # the workload server the collector follows
    agent_process: str | None = None  # the agent's process name, when a contender runs

    def collector(
        self,
        run_id: str,
        carbon: str,
        prefix: str,
        host_label: str,
        interfaces: Sequence[str] = (),
        agent_present: bool = True,
    ) -> list[str]:
        """``tare collect`` with the psutil backend, pushing to the relay itself."""
        argv = [
            self.python, "-m", "tare", "collect",
            "--collector", "standalone",
            "--backend", "psutil",
            "--run-id", run_id,
            "--carbon", carbon,
            "--prefix", prefix,
            "--host", host_label,
            "--process", f"server={self.server_process}",
            "--json",
        ]  # fmt: skip
        if agent_present and self.agent_process:
            argv += ["--process", f"agent={self.agent_process}"]
        for iface in interfaces:
            argv += ["--interface", iface]
        return argv

    def facts(self) -> list[str]:
        """One JSON line of host facts, read by the same interpreter (no WMI quoting)."""
        code = (
            "import json, platform, psutil; print(json.dumps({"
            "'os': platform.platform(), 'kernel': platform.version(), "
            "'cpus': psutil.cpu_count(), 'memory_mb': psutil.virtual_memory().total >> 20}))"
        )
        return [self.python, "-c", code]

    def listeners(self, port: int) -> list[str]:
        """Who listens on ``port``, one ``pid name`` per line (the workload-port check)."""
        return [
            "powershell.exe",
            "-NoProfile",
            "-Command",
            f"Get-NetTCPConnection -State Listen -LocalPort {int(port)} "
            "-ErrorAction SilentlyContinue | ForEach-Object { "
            "'{0} {1}' -f $_.OwningProcess, (Get-Process -Id $_.OwningProcess).ProcessName }",
        ]

    def stop_process(self, name: str) -> list[str]:
        """Stop every process of that name (the workload at the end of a run)."""
        return ["taskkill.exe", "/F", "/T", "/IM", name]
