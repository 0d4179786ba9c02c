"""``tare nightly A.toml B.toml ...``: several labs in one night, at once.

Each campaign runs as its own ``tare nightly`` process (``harness.parallel``): its own lab
locks, run, analysis, alerts and report. Campaigns that would share a host (this machine, or a
host over SSH, as workload or load host) are refused before anything starts, naming the host.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts.errors import UsageError
from contracts.labels import label
from harness import parallel
from tare.config import Campaign
from tare.hosts import host_names


def check_apart(campaigns: Sequence[Campaign]) -> None:
    """Refuse campaigns that share a name or a host, naming both files and the host."""
    names: dict[str, Campaign] = {}
    hosts: dict[str, Campaign] = {}
    for c in campaigns:
        if c.name in names:
            raise UsageError(
                f"{names[c.name].path} and {c.path} are both campaign {c.name!r}; "
                "a night runs each campaign once"
            )
        names[c.name] = c
        for host in dict.fromkeys(host_names(c)):
            if host in hosts:
                raise UsageError(
                    f"{hosts[host].path} and {c.path} would both measure on {host}: two labs "
                    "on one host disturb each other; give them distinct hosts ([hosts]) or run "
                    "them one after the other"
                )
            hosts[host] = c


def run(
    campaigns: Sequence[Campaign], common: Sequence[str], junit: Path | None
) -> list[dict[str, Any]]:
    """Every night at once; each one's JSON, with its config file."""
    jobs = []
    for c in campaigns:
        argv = [sys.executable, "-m", "tare", "nightly", str(c.path.resolve()), *common, "--json"]
        if junit is not None:  # night.xml becomes night-<campaign>.xml
            own = junit.with_name(f"{junit.stem}-{label(c.name)}{junit.suffix}")
            argv += ["--junit", str(own)]
        jobs.append((c.name, argv))
    nights = parallel.wait(parallel.start(jobs))
    for c, night in zip(campaigns, nights, strict=True):
        night.setdefault("campaign", c.name)
        night["config"] = str(c.path)
    return nights
