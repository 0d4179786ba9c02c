"""Command building for hosts reached over SSH: Linux shells and Windows' PowerShell."""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

import pytest

from harness.lab import Host
from harness.remote import Ssh, WindowsSsh, connection_lost, powershell_script, ps_quote
from harness.remote_collect import RemoteCollector, open_log


def ssh() -> Ssh:
    return Ssh("10.0.0.2", user="lab", port=2222, key=Path("/k/id"), control_dir=Path("/c"))


def test_ssh_shares_connections_fails_fast_and_quotes_the_remote_command() -> None:
    argv = ssh().wrap(["echo", "a b", "$HOME", "it's"], {"TARE_RUN": "r 1"})
    assert argv[0] == "ssh"
    joined = " ".join(argv)
    for option in (
        "BatchMode=yes",
        "ControlMaster=auto",
        "ControlPath=/c/tare-ssh-%C",
        "ServerAliveInterval=2",
        "-p 2222",
        "-i /k/id",
        "IdentitiesOnly=yes",
    ):
        assert option in joined
    assert argv[-3:-1] == ["lab@10.0.0.2", "--"]
    # the remote shell splits the one string back into exactly our words
    assert shlex.split(argv[-1]) == ["env", "TARE_RUN=r 1", "echo", "a b", "$HOME", "it's"]


def test_a_dedicated_connection_shares_nothing() -> None:
    joined = " ".join(ssh().wrap(["nginx"], dedicated=True))
    assert "ControlMaster=no" in joined and "ControlPath=none" in joined
    assert "ControlPersist" not in joined


def test_known_hosts_file_is_checked_strictly() -> None:
    s = Ssh("h", known_hosts=Path("/kh"))
    assert "UserKnownHostsFile=/kh" in s.options() and "StrictHostKeyChecking=yes" in s.options()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"destination": "-oProxyCommand=x"}, "is not a host name"),
        ({"destination": ""}, "is not a host name"),
        ({"destination": "h", "user": "a b"}, "is not a user name"),
        ({"destination": "h", "port": 0}, "out of range"),
    ],
)
def test_bad_destinations_are_refused(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Ssh(**kwargs)  # type: ignore[arg-type]


def test_env_names_that_a_shell_would_read_as_code_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be passed"):
        ssh().wrap(["true"], {"A;rm -rf /": "x"})


def test_host_wraps_namespace_cgroup_and_cores_inside_the_transport() -> None:
    host = Host(
        "workload",
        "10.0.0.2",
        netns="ns1",
        cpus="1",
        cgroup_procs=(Path("/sys/fs/cgroup/tare/x/cgroup.procs"),),
        transport=ssh(),
    )
    argv = host.command(["nginx", "-g", "daemon off;"])
    inner = shlex.split(argv[-1])
    assert inner[:3] == ["sh", "-c", 'echo $$ > /sys/fs/cgroup/tare/x/cgroup.procs && exec "$@"']
    assert inner[4:] == ["ip", "netns", "exec", "ns1", "taskset", "-c", "1", "nginx", "-g",
                         "daemon off;"]  # fmt: skip


def test_ssh_connection_failures_are_told_apart_from_the_commands_own() -> None:
    assert connection_lost(1, "grep: no match") is None
    why = connection_lost(255, "debug\nssh: connect to host 10.0.0.2 port 22: No route to host")
    assert why == "ssh: ssh: connect to host 10.0.0.2 port 22: No route to host"


def decode(argv: list[str]) -> str:
    assert argv[argv.index("--") + 1] == "powershell.exe"
    return base64.b64decode(argv[-1]).decode("utf-16-le")


def test_powershell_quotes_single_quotes_and_expands_nothing() -> None:
    assert ps_quote("it's $HOME `n") == "'it''s $HOME `n'"


def test_windows_steps_are_encoded_powershell_with_env_and_exit_code() -> None:
    w = WindowsSsh(ssh())
    argv = w.wrap(
        ["C:\\Program Files\\Agent\\agent.exe", "--mode", "enforced", "a'b"], {"TARE_RUN": "r1"}
    )
    assert argv[-2] == "-EncodedCommand" and "-NonInteractive" in argv
    script = decode(argv)
    assert "$env:TARE_RUN = 'r1'" in script
    assert "& 'C:\\Program Files\\Agent\\agent.exe' '--mode' 'enforced' 'a''b'" in script
    assert script.rstrip().endswith("exit $LASTEXITCODE")
    assert script.startswith("$ErrorActionPreference = 'Stop'")


def test_windows_steps_can_be_pinned_to_cores() -> None:
    script = decode(WindowsSsh(ssh(), affinity=0b10).wrap(["python.exe", "-m", "tare"]))
    assert "Start-Process -FilePath 'python.exe' -ArgumentList @('-m', 'tare')" in script
    assert "$p.ProcessorAffinity = [IntPtr]2" in script
    assert script.rstrip().endswith("exit $p.ExitCode")


def test_powershell_needs_a_command() -> None:
    with pytest.raises(ValueError, match="no command"):
        powershell_script([])


def test_a_collector_whose_connection_drops_fails_in_ssh_words(tmp_path: Path) -> None:
    """Asked mid-run (before it is stopped), the collector's failure names ssh's exit and its
    last words, as when it is stopped after the drop."""
    dies = ["sh", "-c", 'echo "Connection to 10.0.0.2 closed by remote host." >&2; exit 255']
    log = open_log(tmp_path / "collector.log")
    collector = RemoteCollector(
        Host("workload", "127.0.0.1"), dies, str(tmp_path / "r.json"), log, "tare"
    )
    collector.proc.wait(10)
    expected = (
        "the collector on the workload host ended mid-run "
        "(ssh exit 255: Connection to 10.0.0.2 closed by remote host.)"
    )
    assert collector.failure() == expected
    collector.stop()
    assert collector.failure() == expected
