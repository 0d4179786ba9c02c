"""A host reached only over SSH, made on this machine: a network namespace joined to this one by
a veth pair, running its own ``sshd`` (Debian ``openssh-server``) on the namespace's address, with
a host key and a client key the test generates. Nothing listens outside the namespace."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.remote import Ssh
from tests.conftest import Stack, run_tare, stack_args
from tests.poll import wait_for

SSHD = Path("/usr/sbin/sshd")


@dataclass(frozen=True)
class SshHost:
    netns: str
    address: str  # the host's address, reachable from this machine
    local_address: str  # this machine's end of the link, reachable from the host
    link: str  # this machine's end of the veth pair
    ssh: Ssh


def available() -> bool:
    return SSHD.exists() and shutil.which("ssh") is not None and shutil.which("ip") is not None


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def ssh_host(tmp: Path, name: str, subnet: str) -> Iterator[SshHost]:
    """A namespace ``name`` at ``<subnet>.2`` (this machine at ``<subnet>.1``) with sshd."""
    ns, link, peer = f"tare-ssh-{name}", f"ts-{name}", f"tsp-{name}"
    here, there = f"{subnet}.1", f"{subnet}.2"
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.chmod(0o700)
    for key in ("host_key", "client_key"):
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / key))
    (tmp / "authorized_keys").write_text((tmp / "client_key.pub").read_text())
    host_pub = (tmp / "host_key.pub").read_text().split()
    (tmp / "known_hosts").write_text(f"{there} {host_pub[0]} {host_pub[1]}\n")
    (tmp / "sshd_config").write_text(
        f"ListenAddress {there}\nPort 22\nHostKey {tmp / 'host_key'}\n"
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}\nPidFile {tmp / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "MaxSessions 64\nMaxStartups 64\nAcceptEnv none\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    sshd: subprocess.Popen[bytes] | None = None
    ssh: Ssh | None = None
    try:
        _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", link, "type", "veth", "peer", "name", peer)
        _run("ip", "link", "set", peer, "netns", ns)
        _run("ip", "addr", "add", f"{here}/30", "dev", link)
        _run("ip", "link", "set", link, "up")
        _run("ip", "-n", ns, "addr", "add", f"{there}/30", "dev", peer)
        _run("ip", "-n", ns, "link", "set", peer, "up")
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        log = (tmp / "sshd.log").open("ab")
        # nsenter enters the namespace's network only: unlike `ip netns exec` it keeps this
        # machine's mounts, so the "host" has its cgroup hierarchy, as a real one does
        sshd = subprocess.Popen(
            [
                "nsenter",
                f"--net=/run/netns/{ns}",
                str(SSHD),
                "-D",
                "-e",
                "-f",
                str(tmp / "sshd_config"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        # a unix socket's path is at most 108 bytes: pytest's directories are too deep
        control = Path(tempfile.mkdtemp(prefix="tare-ssh-", dir="/tmp"))
        ssh = Ssh(
            there,
            user="root",
            key=tmp / "client_key",
            control_dir=control,
            known_hosts=tmp / "known_hosts",
        )

        def answers() -> bool:
            probe = subprocess.run(
                [*ssh.options(), ssh.target, "true"],
                capture_output=True,
                timeout=15,
                stdin=subprocess.DEVNULL,
                check=False,
            )
            return probe.returncode == 0

        wait_for(answers, timeout_s=20, what=f"sshd in {ns}")
        yield SshHost(ns, there, here, link, ssh)
    finally:
        if sshd is not None:
            if ssh is not None:
                ssh.close()
                shutil.rmtree(ssh.control_dir, ignore_errors=True)
            with contextlib.suppress(ProcessLookupError):
                import os
                import signal

                os.killpg(sshd.pid, signal.SIGTERM)
            sshd.wait(timeout=10)
        pids = subprocess.run(
            ["ip", "netns", "pids", ns], capture_output=True, text=True, check=False
        ).stdout
        for pid in pids.split():
            subprocess.run(["kill", "-9", pid], capture_output=True, check=False)
        time.sleep(0.1)
        subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def processes_in(netns: str) -> list[tuple[int, bytes]]:
    """(pid, raw /proc cmdline) of each process in ``netns`` alone: a network namespace does
    not hide the machine's other processes from pkill or ps run inside it."""
    pids = subprocess.run(
        ["ip", "netns", "pids", netns], capture_output=True, text=True, check=False
    ).stdout.split()
    found = []
    for pid in pids:
        try:
            found.append((int(pid), Path(f"/proc/{pid}/cmdline").read_bytes()))
        except OSError:
            continue
    return found


def lab_marks() -> list[pytest.MarkDecorator]:
    """The marks of a lab test on hosts over SSH (root, sshd, h2load)."""
    return [
        pytest.mark.root,
        pytest.mark.integration,
        pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)"),
        pytest.mark.skipif(not available(), reason="openssh-server is not installed"),
        pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load is not installed"),
    ]


@contextlib.contextmanager
def listening_stack(state: Path, address: str, *more: str) -> Iterator[Stack]:
    """A stack of the test's own whose carbon port listens on ``address``, where the hosts'
    collectors reach it and push to it themselves."""
    caches = int(more[more.index("--caches") + 1]) if "--caches" in more else 1
    args = (*stack_args(state, caches), "--listen", address, "--collectd", "off", *more)
    res = run_tare("stack", "up", *args, "--json")
    assert res.code == 0, res.err
    info = json.loads(res.out)
    host, port = info["graphite"]["carbon"].rsplit(":", 1)
    assert host == address
    try:
        yield Stack(state, args, info["graphite"]["render_url"], host, int(port), 0, info)
    finally:
        run_tare("stack", "down", *args)
