"""``tare nightly A.toml B.toml ...``: several labs in one night, at once.

Each campaign runs as its own ``tare nightly`` process (its own lab locks, run, analysis,
alerts and report), all started together. Campaigns that would share a host (this machine, or a
host reached over SSH, as workload or load host) are refused before anything starts, naming the
host: two labs on one host would each disturb the other's measurements.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from contracts.errors import UsageError
from contracts.labels import label
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


def junit_for(junit: Path | None, campaign: Campaign) -> Path | None:
    """One JUnit file per campaign: ``night.xml`` becomes ``night-<campaign>.xml``."""
    if junit is None:
        return None
    return junit.with_name(f"{junit.stem}-{label(campaign.name)}{junit.suffix}")


@dataclass
class Child:
    campaign: Campaign
    proc: subprocess.Popen[str]
    relay: threading.Thread


def _prefixed(name: str, stream: IO[str], out: IO[str]) -> None:
    """A child's progress and messages, each line under its campaign's name."""
    for line in stream:
        out.write(f"[{name}] {line}")
        out.flush()


def start(campaigns: Sequence[Campaign], common: Sequence[str], junit: Path | None) -> list[Child]:
    children = []
    for c in campaigns:
        argv = [sys.executable, "-m", "tare", "nightly", str(c.path.resolve()), *common, "--json"]
        own = junit_for(junit, c)
        argv += ["--junit", str(own)] if own else []
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        relay = threading.Thread(
            target=_prefixed, args=(c.name, proc.stderr, sys.stderr), daemon=True
        )
        relay.start()
        children.append(Child(c, proc, relay))
    return children


def wait(children: Sequence[Child], grace_s: float = 300.0) -> list[dict[str, Any]]:
    """Every night's JSON (or why there is none); an interrupt is passed on to every child as
    SIGTERM (each tears its lab down and stays resumable), waited for, then raised again."""
    try:
        outs = [c.proc.stdout.read() if c.proc.stdout else "" for c in children]
        for c in children:
            c.proc.wait()
            c.relay.join(timeout=10)
    except BaseException:
        for c in children:
            if c.proc.poll() is None:
                c.proc.send_signal(signal.SIGTERM)
        for c in children:
            try:
                c.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()
        raise
    nights = []
    for c, out in zip(children, outs, strict=True):
        try:
            night = json.loads(out)
        except ValueError:
            night = {"campaign": c.campaign.name, "exit": c.proc.returncode, "error": out[-300:]}
        night.setdefault("exit", c.proc.returncode)
        night["config"] = str(c.campaign.path)
        nights.append(night)
    return nights


def exit_code(nights: Sequence[dict[str, Any]]) -> int:
    """The highest of the nights' exit codes (0 only when every night is 0)."""
    return max((int(n.get("exit") or 0) for n in nights), default=0)
