"""A lab on real hosts: the workload host reached over SSH, the load generated here or on a load
host reached over SSH too.

The workload host is a machine of its own (or, in the tests, a namespace with its own sshd): no
namespaces are made; the run's workload cgroup is made there, its sysctls are read there (and
set only as the campaign's [lab.sysctls.workload] says: it is somebody's server), its TCP and
interface counters are read there, and its collector runs there and pushes to the
relay itself. The load host is this machine, with the load sysctls; its address is the one the
workload sees the load from.

A lab record names the remote cgroup and how to reach its host, so ``tare lab down`` can clean
up after a crash as it does for a namespace lab.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from harness.lab import Host, Lab, LabError, Sysctls, apply_sysctls
from harness.remote import Ssh

CGROUP_ROOT = Path("/sys/fs/cgroup")
# v2 when the unified hierarchy is mounted at the root, else v1's cpuacct and memory
PROBE_CGROUPS = (
    f"if [ -f {CGROUP_ROOT}/cgroup.controllers ]; then echo v2; "
    f"elif [ -d {CGROUP_ROOT}/cpuacct ] && [ -d {CGROUP_ROOT}/memory ]; then echo v1; fi"
)


@dataclass(frozen=True, slots=True)
class RemoteWorkload:
    """How to reach the workload host and what of it the lab measures."""

    ssh: Ssh
    address: str  # where the load reaches it
    interface: str  # its interface whose counters are the network KPIs
    tare: str = "tare"  # the tare command there
    carbon: str | None = None  # where its collector sends (None: the campaign's carbon)


def _facts(host: Host) -> dict[str, str]:
    """What the lab learns of a host over SSH (kernel, cores, memory, name), as
    ``<role>:<fact>``."""
    got = host.run(
        ["sh", "-c", "uname -n; uname -r; nproc; awk '/^MemTotal/ {print $2}' /proc/meminfo"],
        30,
        in_cgroup=False,
    )
    lines = got.stdout.split()
    keys = ("hostname", "kernel", "cpus", "mem_kb")
    if got.returncode != 0 or len(lines) < len(keys):
        return {f"{host.name}:{k}": "unavailable" for k in keys}
    return {f"{host.name}:{k}": v for k, v in zip(keys, lines, strict=False)}


def _cgroup_dirs(host: Host, rel: str) -> list[Path]:
    """The run's cgroup directories on the host: v2's one, or v1's cpuacct and memory."""
    got = host.run(["sh", "-c", PROBE_CGROUPS], 30, in_cgroup=False)
    version = got.stdout.strip()
    if version == "v2":
        return [CGROUP_ROOT / rel]
    if version == "v1":
        return [CGROUP_ROOT / "cpuacct" / rel, CGROUP_ROOT / "memory" / rel]
    raise LabError(
        f"workload ({host.transport.describe if host.transport else host.name}): no cgroup "
        f"hierarchy under {CGROUP_ROOT} (v2, or v1 with cpuacct and memory, is needed)"
    )


def hosts_lab(
    lab_id: str,
    record_dir: Path,
    remote: RemoteWorkload,
    load_address: str,
    load_ssh: Ssh | None = None,
    sysctls: Sysctls | None = None,
) -> Lab:
    """The workload host's cgroup made over SSH, and its sysctls read back (set only where the
    campaign's [lab.sysctls.workload] says); the load host's sysctls here, or over SSH too
    (``load_ssh``)."""
    rel = f"tare/{lab_id}"
    probe = Host("workload", remote.address, transport=remote.ssh)
    dirs = _cgroup_dirs(probe, rel)
    workload = Host(
        "workload",
        remote.address,
        cgroup_procs=tuple(d / "cgroup.procs" for d in dirs),
        interface=remote.interface,
        transport=remote.ssh,
    )
    load = Host("load", load_address, transport=load_ssh)
    lab = Lab(
        lab_id,
        record_dir,
        workload=workload,
        load=load,
        kind="hosts",
        cgroup=rel,
        gives_up=(
            f"namespaces: the workload is the host {remote.ssh.target}, the load "
            + (f"the host {load_ssh.target}" if load_ssh else "this machine"),
            "the disturbance check (the workload host's CPU is not watched from here)",
            "RPS steering and core pinning",
        ),
    )
    record_dir.mkdir(parents=True, exist_ok=True)
    lab.record.write_text(
        json.dumps(
            {
                "kind": "hosts",
                "ssh": remote.ssh.to_record(),
                "remote_cgroups": [str(d) for d in dirs],
                "created": time.time(),
            }
        )
    )
    try:
        made = workload.run(["mkdir", "-p", *map(str, dirs)], 30, in_cgroup=False)
        if made.returncode != 0:
            raise LabError(
                f"workload ({remote.ssh.describe}): cannot make the cgroup "
                f"{', '.join(map(str, dirs))}: {made.stderr.strip()[-200:] or made.returncode}"
            )
        lab.sysctls.update(_facts(workload))
        if load_ssh is not None:
            lab.sysctls.update(_facts(load))
        apply_sysctls(lab, sysctls or Sysctls())
    except BaseException:
        from harness.lab import teardown_record

        teardown_record(lab.record)
        raise
    return lab


def missing_programs(host: Host, programs: set[str]) -> list[str]:
    """Which of ``programs`` the host cannot run (one round trip when none is missing)."""

    def found(names: list[str]) -> bool:
        script = " && ".join(f"command -v {shlex.quote(p)} >/dev/null" for p in names)
        return host.run(["sh", "-c", script], 60, in_cgroup=False).returncode == 0

    if found(sorted(programs)):
        return []
    return [p for p in sorted(programs) if not found([p])]
