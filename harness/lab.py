"""The lab: a workload host and a load host, and how a command runs on each.

As root, two network namespaces joined by a veth pair (link-local addresses, so no traffic can
leave them), the load generator and the workload pinned to different cores, packet processing
steered to the same cores (RPS), and a workload cgroup holding the server and the agent (the
load generator stays outside it). Without root, a loopback lab on 127.0.0.1 that gives up the
namespaces, the cgroup and the sysctls, and says so.

``Host.command(argv)`` is the one place that knows how to run something "on the workload host" or
"on the load host": in its namespace, cgroup and cores, and, for a host with a transport
(``harness.remote``: OpenSSH to Linux, or to Windows' PowerShell), on that host.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from contracts.cpus import compact
from contracts.cpus import mask as cpu_mask
from contracts.errors import ErrorKind
from harness.errors import HarnessError
from harness.remote import Transport, connection_lost, teardown_remote

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
SUBNET = "169.254.213"  # link-local /30 between the two namespaces: nothing routes it
# the addresses the load's connections come from in a namespaces lab (link-local too): a real
# server's clients are many, and one address holds ~32K ports, so the workload's conntrack table
# (kernel default 262,144 entries, 120 s in TIME_WAIT) could never fill from one
CLIENT_NET = "169.254.214"
MAX_CLIENTS = 254
LAB_IF = "tare0"  # the veth end's name inside each namespace
AGENT_DIR_ROOT = "/run/tare/agent"


class LabError(HarnessError):
    """The lab could not be built or a command could not run on it."""

    kind = ErrorKind.SERVICE_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    address: str
    netns: str | None = None
    cpus: str | None = None
    cgroup_procs: tuple[Path, ...] = ()
    interface: str | None = None
    transport: Transport | None = None  # None: this machine

    def command(
        self,
        argv: Sequence[str],
        *,
        in_cgroup: bool = True,
        env: Mapping[str, str] | None = None,
        dedicated: bool = False,
    ) -> list[str]:
        """argv as run on this host: in its namespace, inside its cgroup, on its cores, over
        its transport (which carries ``env``; a local command gets it from ``run``/``popen``;
        ``dedicated``: on a connection of its own)."""
        out: list[str] = []
        # join the cgroup first: `ip netns exec` mounts the namespace's own /sys, which hides
        # the cgroup hierarchy; membership is inherited across the execs that follow
        if in_cgroup and self.cgroup_procs:
            joins = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in self.cgroup_procs)
            out += ["sh", "-c", f'{joins} && exec "$@"', "sh"]
        if self.netns:
            out += ["ip", "netns", "exec", self.netns]
        if self.cpus:
            out += ["taskset", "-c", self.cpus]
        if self.transport is not None:
            return self.transport.wrap(out + list(argv), env, dedicated=dedicated)
        return out + list(argv)

    def push(self, local_dir: Path, timeout_s: float = 120) -> None:
        """Copy a directory to the same path on this host (a no-op here): tar over the
        transport, sparse files kept sparse."""
        if self.transport is None:
            return
        parent = str(local_dir.parent)
        unpack = self.command(
            ["sh", "-c", 'mkdir -p "$0" && tar -C "$0" -xf -', parent], in_cgroup=False
        )
        with subprocess.Popen(
            ["tar", "-C", parent, "-cSf", "-", local_dir.name], stdout=subprocess.PIPE
        ) as pack:
            got = subprocess.run(
                unpack,
                stdin=pack.stdout,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        lost = connection_lost(got.returncode, got.stderr)
        if got.returncode != 0 or pack.returncode != 0:
            why = lost or got.stderr.strip()[-200:] or f"exit {got.returncode}"
            raise LabError(f"{self.name}: could not copy {local_dir} there: {why}")

    def _remote(self, argv: Sequence[str], env: Mapping[str, str] | None) -> list[str]:
        """A long-lived command on a remote host, in its own process group there, on an SSH
        connection of its own, stopped (the whole group) when that connection ends: when tare
        stops it, dies, or loses the link. Without a terminal, sshd would otherwise leave it
        running."""
        # sh gives a background job /dev/null for stdin unless told otherwise: fd 3 carries
        # the connection's stdin to the watcher, whose EOF means "stop"
        watch = (
            'exec 3<&0; setsid "$@" </dev/null 3<&- & p=$!; '
            # (by pid if it has not made its group yet)
            "(cat <&3 >/dev/null; kill -TERM -$p || kill -TERM $p) >/dev/null 2>&1 & w=$!; "
            "exec 3<&-; wait $p; r=$?; kill $w 2>/dev/null; exit $r"
        )
        return self.command(["sh", "-c", watch, "sh", *argv], env=env, dedicated=True)

    def _local_env(self, env: Mapping[str, str] | None) -> dict[str, str]:
        return {**os.environ, **(env or {})} if self.transport is None else dict(os.environ)

    def run(
        self,
        argv: Sequence[str],
        timeout_s: float,
        *,
        in_cgroup: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv to its end; a lost connection to the host raises LabError with ssh's reason
        (the command's own failure is the caller's to read)."""
        try:
            proc = subprocess.run(
                self.command(argv, in_cgroup=in_cgroup, env=env),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=self._local_env(env),
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError as exc:
            raise LabError(f"{self.name}: {exc.filename}: command not found") from None
        if self.transport is not None:
            lost = connection_lost(proc.returncode, proc.stderr)
            if lost is not None:
                raise LabError(f"{self.name} ({self.transport.describe}): {lost}")
        return proc

    def popen(
        self, argv: Sequence[str], out: IO[bytes], *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                self.command(argv, env=env) if self.transport is None else self._remote(argv, env),
                # over a transport: a pipe never written, whose end tells the host to stop it
                stdin=subprocess.DEVNULL if self.transport is None else subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self._local_env(env),
            )
        except FileNotFoundError as exc:
            raise LabError(f"{self.name}: {exc.filename}: command not found") from None


@dataclass
class Lab:
    lab_id: str
    record_dir: Path
    workload: Host
    load: Host
    kind: str  # "namespaces" | "loopback"
    cgroup: str | None = None  # relative path the collectors read
    load_cgroup: str | None = None  # the load generator's own cgroup (relative path)
    sysctls: dict[str, str] = field(default_factory=dict)  # what each host read back
    set_by_lab: list[str] = field(default_factory=list)  # "<role>:<key>" the lab wrote
    gives_up: tuple[str, ...] = ()
    clients: str | None = None  # the network the load's connections come from (None: its address)

    @property
    def load_net(self) -> str:
        """What an agent's allow-list must hold for the load to get through (``{load_net}``)."""
        return self.clients or f"{self.load.address}/32"

    @property
    def record(self) -> Path:
        return self.record_dir / f"{self.lab_id}.json"

    @property
    def agent_dir(self) -> str:
        """The agent's private folder on the workload host (``{agent_dir}``): short enough for
        a unix socket under it (sun_path holds 107 bytes; this is 24), made before the agent's
        first step, removed with the lab. A loopback lab, which may run without root, keeps it
        under /tmp (23 bytes)."""
        if self.kind == "loopback":
            return f"/tmp/tare-agent-{self.lab_id}"
        return f"{AGENT_DIR_ROOT}/{self.lab_id}"


def _run(argv: Sequence[str], what: str) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise LabError(f"{what}: {' '.join(argv)}: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def cgroup_dirs(rel: str) -> list[Path]:
    v1 = [CGROUP_ROOT / "cpuacct" / rel, CGROUP_ROOT / "memory" / rel]
    if all((p.parents[len(Path(rel).parts) - 1] / "cgroup.procs").exists() for p in v1):
        return v1
    return [CGROUP_ROOT / rel]


def split_cpus(ncpu: int, workload: int | None = None) -> tuple[str, str]:
    """(workload cores, load cores): the last ``workload`` cores for the workload (``[workload]
    cpus``; by default all but the load's, which is half the machine, at least one core), the
    others for the load. One core: both share it. LabError when the load would have none."""
    if workload is not None and workload > max(ncpu - 1, 1):
        raise LabError(
            f"workload.cpus = {workload}: this machine has {ncpu} core(s) and the load needs "
            "one of its own"
        )
    if ncpu < 2:
        return "0", "0"
    n = workload if workload is not None else ncpu - max(1, ncpu // 2)
    return compact(range(ncpu - n, ncpu)), compact(range(ncpu - n))


# The load host's own tuning, set unless the campaign's [lab.sysctls.load] says otherwise: a load
# generator's client-side needs (source ports, reusing its TIME_WAIT sockets), never the server's.
LOAD_SYSCTLS: Mapping[str, str] = {
    "net.ipv4.ip_local_port_range": "1024 65535",
    # client-side TIME_WAIT exhausts the ports in seconds without reuse
    "net.ipv4.tcp_tw_reuse": "1",
}
# The workload host keeps the kernel's (or its owner's) settings: the lab sets there only what
# the campaign's [lab.sysctls.workload] says a production server runs with. These are read back
# and recorded with every run whatever sets them: what a stateful firewall's cost depends on
# (the conntrack table's size and how long it keeps a closed connection; the accept queues).
WORKLOAD_RECORDED = (
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_buckets",
    "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.core.somaxconn",
    "net.ipv4.tcp_max_syn_backlog",
)


@dataclass(frozen=True, slots=True)
class Sysctls:
    """What the lab writes on each host role (``[lab.sysctls]``): nothing on the workload host
    by default, the load generator's needs on the load host."""

    workload: Mapping[str, str] = field(default_factory=dict)
    load: Mapping[str, str] = field(default_factory=lambda: dict(LOAD_SYSCTLS))

    @classmethod
    def asked(cls, workload: Mapping[str, str], load: Mapping[str, str]) -> Sysctls:
        """A campaign's values: the workload's alone, the load's over LOAD_SYSCTLS."""
        return cls(dict(workload), {**LOAD_SYSCTLS, **load})


def apply_sysctls(lab: Lab, sysctls: Sysctls) -> None:
    """Each host's sysctls as ``sysctls`` says, and what each host then reads back (recorded,
    with the workload host's WORKLOAD_RECORDED whoever set them). What the lab wrote is listed
    in ``lab.set_by_lab``: a reader can tell the host's own settings from the lab's."""
    roles = ((lab.workload, sysctls.workload, WORKLOAD_RECORDED), (lab.load, sysctls.load, ()))
    for host, wanted, recorded in roles:
        failed = set()
        for key, value in wanted.items():
            res = host.run(["sysctl", "-qw", f"{key}={value}"], 10, in_cgroup=False)
            lab.set_by_lab.append(f"{host.name}:{key}")
            if res.returncode != 0:
                failed.add(key)
        keys = [*wanted, *(k for k in recorded if k not in wanted)]
        for key, value in _read_sysctls(host, keys).items():
            lab.sysctls[f"{host.name}:{key}"] = "unavailable" if key in failed else value


def _read_sysctls(host: Host, keys: Sequence[str]) -> dict[str, str]:
    """``keys`` as the host reads them, in one command ("unavailable": no such key there)."""
    if not keys:
        return {}
    got = host.run(["sysctl", "-e", *keys], 10, in_cgroup=False)
    found = {}
    for line in got.stdout.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            found[key.strip()] = " ".join(value.split())
    return {k: found.get(k, "unavailable") for k in keys}


def namespace_lab(
    lab_id: str,
    record_dir: Path,
    port: int,
    *,
    pin: bool = True,
    rps: bool = True,
    sysctls: Sysctls | None = None,
    clients: int = MAX_CLIENTS,
    workload_cpus: int | None = None,
) -> Lab:
    """Build the two-namespace lab; the record written first lets ``tare lab down`` clean up
    after a crash. ``pin`` and ``rps`` (both on by default) can be switched off to measure what
    they do for the noise (``tare calibrate``, ``benchmarks/noise_floor.py``); the workload gets
    ``workload_cpus`` cores (``split_cpus``)."""
    w_ns, l_ns = f"tare-w-{lab_id}", f"tare-l-{lab_id}"
    w_if, l_if = f"tw-{lab_id}", f"tl-{lab_id}"
    w_cpus, l_cpus = split_cpus(os.cpu_count() or 1, workload_cpus)
    rel, load_rel = f"tare/{lab_id}", f"tare/{lab_id}-load"
    dirs, load_dirs = cgroup_dirs(rel), cgroup_dirs(load_rel)
    lab = Lab(
        lab_id,
        record_dir,
        workload=Host(
            "workload",
            f"{SUBNET}.1",
            w_ns,
            w_cpus if pin else None,
            tuple(d / "cgroup.procs" for d in dirs),
            LAB_IF,
        ),
        load=Host(
            "load",
            f"{SUBNET}.2",
            l_ns,
            l_cpus if pin else None,
            tuple(d / "cgroup.procs" for d in load_dirs),
            LAB_IF,
        ),
        kind="namespaces",
        cgroup=rel,
        load_cgroup=load_rel,
    )
    record_dir.mkdir(parents=True, exist_ok=True)
    lab.record.write_text(
        json.dumps(
            {
                "netns": [w_ns, l_ns],
                "cgroups": [str(d) for d in (*dirs, *load_dirs)],
                "created": time.time(),
            }
        )
    )
    try:
        _run(["ip", "netns", "add", w_ns], "create the workload namespace")
        _run(["ip", "netns", "add", l_ns], "create the load namespace")
        _run(["ip", "link", "add", w_if, "type", "veth", "peer", "name", l_if], "create veth")
        for ifname, ns, addr in ((w_if, w_ns, f"{SUBNET}.1"), (l_if, l_ns, f"{SUBNET}.2")):
            _run(["ip", "link", "set", ifname, "netns", ns], "move veth")
            # one name in every lab, so that a KPI's path is the same for every run
            _run(["ip", "-n", ns, "link", "set", ifname, "name", LAB_IF], "rename veth")
            _run(["ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", LAB_IF], "address")
            _run(["ip", "-n", ns, "link", "set", LAB_IF, "up"], "link up")
            _run(["ip", "-n", ns, "link", "set", "lo", "up"], "lo up")
        for d in (*dirs, *load_dirs):
            d.mkdir(parents=True, exist_ok=True)
        apply_sysctls(lab, sysctls or Sysctls())
        if clients > 1:
            spread_clients(lab, clients)
        for host, cpus in ((lab.workload, w_cpus), (lab.load, l_cpus)):
            if not rps:
                lab.sysctls[f"{host.name}:rps_cpus"] = "off"
                continue
            assert host.interface is not None
            path = f"/sys/class/net/{host.interface}/queues/rx-0/rps_cpus"
            res = host.run(["sh", "-c", f"echo {cpu_mask(cpus)} > {path}"], 10, in_cgroup=False)
            lab.sysctls[f"{host.name}:rps_cpus"] = (
                cpu_mask(cpus) if res.returncode == 0 else "unavailable"
            )
    except BaseException:
        teardown_record(lab.record)
        raise
    return lab


def clients_ruleset(clients: int, interface: str, workload: str) -> str:
    """The load namespace's source NAT: each new connection to the workload from the next of
    ``clients`` addresses of CLIENT_NET in turn (pure: an ``nft -f`` script)."""
    pairs = ", ".join(f"{i} : {CLIENT_NET}.{i + 1}" for i in range(clients))
    return (
        "table ip tare_clients {\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        f'    oifname "{interface}" ip daddr {workload} '
        f"snat to numgen inc mod {clients} map {{ {pairs} }}\n"
        "  }\n"
        "}\n"
    )


def spread_clients(lab: Lab, clients: int) -> None:
    """The load's connections come from ``clients`` addresses (source NAT in the load
    namespace, a route back on the workload side): what the lab changes for it is listed."""
    assert lab.load.netns is not None and lab.load.interface is not None
    script = clients_ruleset(clients, lab.load.interface, lab.workload.address)
    proc = subprocess.run(
        ["ip", "netns", "exec", lab.load.netns, "nft", "-f", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        raise LabError(f"spread the load over {clients} client addresses: {proc.stderr.strip()}")
    net = f"{CLIENT_NET}.0/24"
    assert lab.workload.netns is not None
    _run(
        ["ip", "-n", lab.workload.netns, "route", "add", net, "via", lab.load.address],
        "route the client addresses",
    )
    lab.clients = net
    lab.set_by_lab += [f"load:snat to {clients} addresses of {net}", f"workload:route {net}"]


def loopback_lab(lab_id: str, record_dir: Path, workload_cpus: int | None = None) -> Lab:
    w_cpus, l_cpus = split_cpus(os.cpu_count() or 1, workload_cpus)
    return Lab(
        lab_id,
        record_dir,
        workload=Host("workload", "127.0.0.1", None, w_cpus, (), "lo"),
        load=Host("load", "127.0.0.1", None, l_cpus, (), "lo"),
        kind="loopback",
        gives_up=(
            "separate network namespaces (server and load share the host's stack)",
            "the workload cgroup (no cgroup CPU/memory KPIs)",
            "the load host's sysctls (port range, tcp_tw_reuse) and any [lab.sysctls]",
            "RPS steering",
            "agents that need root",
        ),
    )


def _kill_netns_processes(ns: str) -> None:
    res = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    pids = [int(p) for p in res.stdout.split() if p.isdigit()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
            time.sleep(0.05)
        if not pids:
            return


def _zombie(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return text[text.rindex(")") + 2] == "Z"


def teardown_record(record: Path) -> list[str]:
    """Remove what a lab record names (namespaces, their processes, cgroups); idempotent."""
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return []
    done: list[str] = []
    existing = set(
        subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=False
        ).stdout.split()
    )
    for ns in data.get("netns", []):
        if ns in existing:
            _kill_netns_processes(ns)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
            done.append(f"netns {ns}")
    for d in map(Path, data.get("cgroups", [])):
        if d.exists():
            procs = (
                (d / "cgroup.procs").read_text().split() if (d / "cgroup.procs").exists() else []
            )
            for pid in procs:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    d.rmdir()
                    done.append(f"cgroup {d}")
                    break
                except OSError:
                    time.sleep(0.05)
    if data.get("kind") == "hosts":
        done += teardown_remote(data)
    else:
        private = Path(AGENT_DIR_ROOT) / record.stem
        if private.exists():
            shutil.rmtree(private, ignore_errors=True)
            done.append(f"agent folder {private}")
    record.unlink(missing_ok=True)
    return done


def teardown(lab: Lab) -> list[str]:
    return teardown_record(lab.record) if lab.kind in ("namespaces", "hosts") else []


def teardown_all(record_dir: Path, skip: frozenset[Path] = frozenset()) -> list[str]:
    done: list[str] = []
    for record in sorted(record_dir.glob("*.json")):
        if record not in skip:
            done += teardown_record(record)
    return done
