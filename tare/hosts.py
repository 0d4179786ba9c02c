"""A campaign's ``[hosts]``: the workload host reached over SSH, as the harness's types, checked
before the first run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from contracts.errors import ServiceUnavailable
from harness.hostlab import RemoteWorkload, missing_programs
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


def ssh_of(campaign: Campaign, which: str) -> Ssh | None:
    """The SSH transport of ``hosts.<which>``, or None for this machine."""
    h = getattr(campaign.spec.hosts, which)
    if not h.remote:
        return None
    user, _, destination = h.ssh.rpartition("@")
    return Ssh(
        destination,
        user=user or None,
        port=h.port,
        key=_near(h.key, campaign) if h.key else None,
        known_hosts=_near(h.known_hosts, campaign) if h.known_hosts else None,
        control_dir=control_dir(),
    )


THIS_MACHINE = "this machine"


def host_names(campaign: Campaign) -> tuple[str, str]:
    """(workload host, load host) as the lab locks and the refusals name them: ``this
    machine`` or ``ssh user@host:port``."""
    out = []
    for which in ("workload", "load"):
        ssh = ssh_of(campaign, which)
        out.append(THIS_MACHINE if ssh is None else ssh.describe)
    return out[0], out[1]


def remote_workload(campaign: Campaign) -> RemoteWorkload | None:
    """The workload host over SSH, or None for a lab on this machine."""
    h = campaign.spec.hosts.workload
    ssh = ssh_of(campaign, "workload")
    if ssh is None:
        return None
    assert h.address is not None and h.interface is not None  # checked when loaded
    carbon = h.carbon or str(campaign.graphite.carbon)
    return RemoteWorkload(ssh, h.address, h.interface, h.tare, carbon)


def load_address(campaign: Campaign) -> str:
    address = campaign.spec.hosts.load.address
    assert address is not None  # checked when loaded, for a workload over SSH
    return address


def preflight(campaign: Campaign, remote: RemoteWorkload) -> None:
    """The hosts answer over SSH and have what runs there: the workload's program, tare and the
    agent's installer; the load tool and python3 on a load host over SSH."""
    spec = campaign.spec
    _check_programs(
        campaign,
        "workload",
        Host("workload", remote.address, transport=remote.ssh),
        {spec.workload.command[0], remote.tare, spec.agent.install[0]},
    )
    load = ssh_of(campaign, "load")
    if load is not None:
        host = Host("load", load_address(campaign), transport=load)
        _check_programs(campaign, "load", host, {spec.load.tool, "python3"})


def _check_programs(campaign: Campaign, which: str, host: Host, programs: set[str]) -> None:
    try:
        missing = missing_programs(host, programs)
    except LabError as exc:
        raise ServiceUnavailable(f"{campaign.path}: hosts.{which}: {exc}") from None
    if missing:
        raise ServiceUnavailable(
            f"{campaign.path}: hosts.{which} ({host.transport.describe if host.transport else ''}"
            f"): not found there: {', '.join(missing)}"
        )
