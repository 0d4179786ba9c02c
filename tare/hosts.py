"""A campaign's ``[hosts]``: the workload host reached over SSH, as the harness's types, checked
before the first run."""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path

from contracts.errors import ServiceUnavailable
from harness.hostlab import RemoteWorkload
from harness.lab import Host, LabError
from harness.remote import Ssh
from tare.config import Campaign


def _near(value: str, campaign: Campaign) -> Path:
    """A file named in the campaign: relative paths are relative to the campaign file."""
    given = Path(value).expanduser()
    return given if given.is_absolute() else campaign.path.resolve().parent / given


def control_dir() -> Path:
    """Where shared SSH connections keep their sockets: short (a socket path is at most 108
    bytes) and the user's alone."""
    path = Path(tempfile.gettempdir()) / f"tare-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def remote_workload(campaign: Campaign) -> RemoteWorkload | None:
    """The workload host over SSH, or None for a lab on this machine."""
    h = campaign.spec.hosts.workload
    if not h.remote:
        return None
    assert h.address is not None and h.interface is not None  # checked when loaded
    user, _, destination = h.ssh.rpartition("@")
    ssh = Ssh(
        destination,
        user=user or None,
        port=h.port,
        key=_near(h.key, campaign) if h.key else None,
        known_hosts=_near(h.known_hosts, campaign) if h.known_hosts else None,
        control_dir=control_dir(),
    )
    carbon = h.carbon or str(campaign.graphite.carbon)
    return RemoteWorkload(ssh, h.address, h.interface, h.tare, carbon)


def load_address(campaign: Campaign) -> str:
    address = campaign.spec.hosts.load.address
    assert address is not None  # checked when loaded, for a workload over SSH
    return address


def preflight(campaign: Campaign, remote: RemoteWorkload) -> None:
    """The host answers over SSH and has the workload's program, tare and the agent's."""
    spec = campaign.spec
    programs = {spec.workload.command[0], remote.tare, spec.agent.install[0]}
    script = " && ".join(f"command -v {shlex.quote(p)} >/dev/null" for p in sorted(programs))
    host = Host("workload", remote.address, transport=remote.ssh)
    try:
        got = host.run(["sh", "-c", script], 60)
    except LabError as exc:
        raise ServiceUnavailable(f"{campaign.path}: hosts.workload: {exc}") from None
    if got.returncode != 0:
        missing = [
            p
            for p in sorted(programs)
            if host.run(["sh", "-c", f"command -v {shlex.quote(p)}"], 30).returncode != 0
        ]
        raise ServiceUnavailable(
            f"{campaign.path}: hosts.workload ({remote.ssh.describe}): not found there: "
            + ", ".join(missing or ["(a program of the workload, tare or the agent)"])
        )
