"""Facts about the host a campaign runs on, recorded with every run."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path

from contracts.manifest import HostFacts

TOOLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("h2load", ("h2load", "--version")),
    ("httperf", ("httperf", "--version")),
    ("nginx", ("nginx", "-v")),
    ("nft", ("nft", "--version")),
)


def tool_version(argv: tuple[str, ...]) -> str | None:
    exe = shutil.which(argv[0]) or shutil.which(argv[0], path="/usr/sbin:/sbin")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, *argv[1:]], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout + proc.stderr).strip().splitlines()
    return text[0][:120] if text else None


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def host_facts(tare_version: str) -> HostFacts:
    return HostFacts(
        host=socket.gethostname(),
        kernel=platform.release(),
        cpu_model=cpu_model(),
        cores=os.cpu_count(),
        python=platform.python_version(),
        tare=tare_version,
        tools=tuple((name, tool_version(argv)) for name, argv in TOOLS),
    )
