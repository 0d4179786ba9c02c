"""How commands run on a host of the lab, and the default nginx config."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import nginx
from harness.lab import Host, Lab, LabError, clients_ruleset, split_cpus


def test_namespace_host_joins_cgroup_then_namespace_then_cores() -> None:
    host = Host(
        "workload",
        "169.254.213.1",
        "tare-w-1",
        "1",
        (Path("/sys/fs/cgroup/cpuacct/tare/1/cgroup.procs"),),
        "tare0",
    )
    argv = host.command(["nginx", "-g", "daemon off;"])
    assert argv[:2] == ["sh", "-c"]
    assert "echo $$ > /sys/fs/cgroup/cpuacct/tare/1/cgroup.procs" in argv[2]
    assert argv[3:] == [
        "sh",
        "ip",
        "netns",
        "exec",
        "tare-w-1",
        "taskset",
        "-c",
        "1",
        "nginx",
        "-g",
        "daemon off;",
    ]
    assert host.command(["true"], in_cgroup=False)[:4] == ["ip", "netns", "exec", "tare-w-1"]


def test_loopback_host_is_just_pinned() -> None:
    assert Host("load", "127.0.0.1", cpus="0").command(["h2load"]) == [
        "taskset",
        "-c",
        "0",
        "h2load",
    ]


def test_split_cpus() -> None:
    """The workload the last cores (by default all but the load's half), the load the rest."""
    assert split_cpus(2) == ("1", "0")
    assert split_cpus(8) == ("4-7", "0-3")
    assert split_cpus(3) == ("1-2", "0")
    assert split_cpus(1) == ("0", "0")
    assert split_cpus(8, 1) == ("7", "0-6")
    assert split_cpus(8, 6) == ("2-7", "0-1")
    assert split_cpus(2, 1) == ("1", "0")
    assert split_cpus(1, 1) == ("0", "0")  # one core: both share it, as without the setting


def test_a_workload_that_leaves_the_load_no_core_is_refused() -> None:
    with pytest.raises(LabError) as err:
        split_cpus(2, 2)
    assert str(err.value) == (
        "workload.cpus = 2: this machine has 2 core(s) and the load needs one of its own"
    )


def test_nginx_config(tmp_path: Path) -> None:
    conf = nginx.write(tmp_path, 8080)
    text = conf.read_text()
    assert "listen 8080 backlog=65535 reuseport;" in text
    assert f"pid {tmp_path}/nginx.pid;" in text
    assert "keepalive_timeout 0;" in text
    assert f"access_log {tmp_path}/access.log combined;" in text  # a packaged nginx's default
    assert (tmp_path / "tmp").is_dir()
    assert "access_log off;" in nginx.write(tmp_path, 8080, access_log=False).read_text()
    # one worker per workload core; unpinned, nginx's own count
    assert "worker_processes auto;" in text
    assert "worker_processes 3;" in nginx.write(tmp_path, 8080, workers=3).read_text()


def test_the_load_comes_from_many_client_addresses_in_turn() -> None:
    """Source NAT in the load namespace: each new connection from the next address."""
    script = clients_ruleset(3, "tare0", "169.254.213.1")
    assert "type nat hook postrouting priority srcnat" in script
    assert (
        'oifname "tare0" ip daddr 169.254.213.1 snat to numgen inc mod 3 map '
        "{ 0 : 169.254.214.1, 1 : 169.254.214.2, 2 : 169.254.214.3 }"
    ) in script
    load = Host("load", "169.254.213.2")
    lab = Lab("x", Path("/tmp"), Host("workload", "169.254.213.1"), load, "namespaces")
    assert lab.load_net == "169.254.213.2/32"  # one address: the load's own
    lab.clients = "169.254.214.0/24"
    assert lab.load_net == "169.254.214.0/24"


def test_the_runs_values_name_the_agents_folder_namespace_and_interface(tmp_path: Path) -> None:
    """What the placeholders and the agent's TARE_* variables hold in a namespaces lab; the
    private folder leaves a unix socket path room under the kernel's 107 bytes."""
    from harness.agent import AgentCommands, agent_env
    from harness.runner import run_values
    from tests.runner_config import runner_config

    lab = Lab(
        "ab12cd34",
        tmp_path,
        Host("workload", "169.254.213.1", "tare-w-ab12cd34", "1", (), "tare0"),
        Host("load", "169.254.213.2", "tare-l-ab12cd34", "0", (), "tare0"),
        kind="namespaces",
        clients="169.254.214.0/24",
    )
    argv = ("true",)
    commands = AgentCommands(argv, argv, argv, argv, argv, argv, None, 5.0)
    cfg = runner_config(tmp_path, commands, Path("/srv/campaigns"))
    values = run_values(lab, cfg, {"mode": "enforced", "rate": 5000}, "run-1", tmp_path / "r")
    assert values["agent_dir"] == "/run/tare/agent/ab12cd34"
    assert len(f"{values['agent_dir']}/") + 64 < 108  # a 64-byte socket name still fits
    env = agent_env(values)
    assert {k: env[k] for k in ("TARE_NETNS", "TARE_INTERFACE", "TARE_LOAD_NET", "TARE_PORT")} == {
        "TARE_NETNS": "tare-w-ab12cd34",
        "TARE_INTERFACE": "tare0",
        "TARE_LOAD_NET": "169.254.214.0/24",
        "TARE_PORT": "8080",
    }
    assert (env["TARE_MODE"], env["TARE_RATE"], env["TARE_CAMPAIGN_DIR"]) == (
        "enforced",
        "5000",
        "/srv/campaigns",
    )
    loopback = Lab("ab12cd34", tmp_path, lab.workload, lab.load, kind="loopback")
    assert loopback.agent_dir == "/tmp/tare-agent-ab12cd34"  # a lab that may run without root
