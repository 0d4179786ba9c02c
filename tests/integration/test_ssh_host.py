"""A lab host reached over SSH through the one ``Host`` interface: commands, their exit codes,
environment and awkward arguments arrive intact; connections are shared; a long-lived command is
stopped there when tare stops it; a dropped link fails the step with ssh's reason."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.processes import stop
from harness.lab import Host, LabError
from tests import sshhost
from tests.poll import wait_for

pytestmark = [
    pytest.mark.root,
    # every test makes the same host (fixed name and subnet): its tests on one worker
    pytest.mark.xdist_group("ssh_host"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)"),
    pytest.mark.skipif(not sshhost.available(), reason="openssh-server is not installed"),
]


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[tuple[Host, sshhost.SshHost]]:
    with sshhost.ssh_host(tmp_path / "ssh", "t1", "10.213.91") as h:
        yield Host("workload", h.address, transport=h.ssh), h


def remote_alive(h: sshhost.SshHost, argv0: str, arg: str) -> bool:
    """A process ``argv0 arg`` runs in the host's namespace (by its own argv, not a parent's
    command line that mentions it)."""
    wanted = [argv0.encode(), arg.encode()]
    return any(cmd.split(b"\0")[:2] == wanted for _, cmd in sshhost.processes_in(h.netns))


def test_commands_run_there_with_their_arguments_env_and_exit_code(
    remote: tuple[Host, sshhost.SshHost],
) -> None:
    host, h = remote
    awkward = ["a b", "$HOME", "it's", "semi;colon", "*", ""]
    res = host.run(["python3", "-c", "import sys; print(sys.argv[1:])", *awkward], 30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == repr(awkward)
    res = host.run(["sh", "-c", 'echo "$TARE_X"; exit 7'], 30, env={"TARE_X": "x y"})
    assert (res.returncode, res.stdout.strip()) == (7, "x y")
    # it ran in the host's namespace: its address is there
    res = host.run(["ip", "-o", "addr", "show"], 30)
    assert h.address in res.stdout


def test_steps_share_one_connection(remote: tuple[Host, sshhost.SshHost]) -> None:
    host, h = remote
    host.run(["true"], 30)
    check = subprocess.run(
        [*h.ssh.options(), "-O", "check", h.ssh.target], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr  # the master is up; later steps multiplex on it
    sessions_before = _sshd_sessions(h)
    for _ in range(5):
        assert host.run(["true"], 30).returncode == 0
    assert _sshd_sessions(h) == sessions_before  # no new connection (no new sshd child)


def _sshd_sessions(h: sshhost.SshHost) -> int:
    return sum(
        cmd.startswith(b"sshd: root") and b"notty" not in cmd
        for _, cmd in sshhost.processes_in(h.netns)
    )


def test_a_long_lived_command_is_stopped_there_with_its_group(
    remote: tuple[Host, sshhost.SshHost], tmp_path: Path
) -> None:
    host, h = remote
    with (tmp_path / "out.log").open("ab") as out:
        proc = host.popen(["sh", "-c", "sleep 300 & exec sleep 301"], out)
    wait_for(lambda: remote_alive(h, "sleep", "301"), timeout_s=15, what="the remote command")
    stop(proc.pid)

    def both_gone() -> bool:
        return not remote_alive(h, "sleep", "300") and not remote_alive(h, "sleep", "301")

    wait_for(both_gone, timeout_s=15, what="the remote group to stop")


def test_a_command_that_ends_there_ends_here(remote: tuple[Host, sshhost.SshHost]) -> None:
    host, _ = remote
    with open(os.devnull, "ab") as out:
        proc = host.popen(["sh", "-c", "exit 3"], out)
    assert proc.wait(timeout=20) == 3


def test_a_dropped_link_fails_the_step_with_the_reason(
    remote: tuple[Host, sshhost.SshHost],
) -> None:
    host, h = remote
    assert host.run(["true"], 30).returncode == 0
    subprocess.run(["ip", "link", "set", h.link, "down"], check=True)
    started = time.monotonic()
    with pytest.raises(LabError, match=r"workload \(ssh root@10\.213\.91\.2:22\): ssh: "):
        host.run(["sleep", "1"], 60)
    assert time.monotonic() - started < 40  # noticed by keep-alives, not hung
