"""Before a campaign: the load tool and the workload's program exist, and agents installed with
tare are found."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from contracts.errors import ErrorKind
from harness.errors import HarnessError

PACKAGES = {"h2load": "nghttp2-client", "httperf": "httperf"}
SBIN = "/usr/sbin:/sbin"


class ToolMissing(HarnessError):
    kind = ErrorKind.SERVICE_UNAVAILABLE


def agents_on_path() -> None:
    """Agents installed with tare (tare-refagent, tare-ballast) sit next to it: on the PATH."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def check_tools(tool: str, workload_program: str | None, where: str) -> None:
    """``where`` names the config key of the workload's command in messages; no program: the
    workload runs on another host (checked there)."""
    if shutil.which(tool) is None:
        package = PACKAGES.get(tool, tool)
        raise ToolMissing(f"load tool {tool} not found (apt-get install {package})")
    if workload_program is None or "{" in workload_program:
        return  # a {field} of the campaign's: the program is known once a run fills it in
    if shutil.which(workload_program, path=os.environ.get("PATH", "") + ":" + SBIN) is None:
        raise ToolMissing(f"{where}: {workload_program} not found")
