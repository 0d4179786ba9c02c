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
