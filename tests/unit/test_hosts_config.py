"""A campaign's [hosts]: the workload host over SSH, what it needs, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.remote_collect import collect_argv, missing_seconds
from tare.config import parse_campaign
from tare.configfile import ConfigError
from tare.hosts import remote_workload
from tests.conftest import ROOT

GOOD = (ROOT / "examples" / "quickstart.toml").read_text()
REMOTE = """
[hosts.workload]
ssh = "lab@10.0.0.2"
port = 2222
key = "keys/id_ed25519"
address = "10.0.1.2"
interface = "eth1"
tare = "/opt/tare/bin/tare"
[hosts.load]
address = "10.0.1.1"
"""


def problems(extra: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_campaign(GOOD + extra, "c.toml")
    return info.value.lines()


def test_a_local_lab_needs_no_hosts_table() -> None:
    spec = parse_campaign(GOOD, "c.toml").spec
    assert not spec.hosts.workload.remote and not spec.hosts.load.remote


def test_the_workload_host_over_ssh_becomes_the_harness_types(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(GOOD + REMOTE)
    from tare.config import load_campaign

    campaign = load_campaign(path)
    remote = remote_workload(campaign)
    assert remote is not None
    assert (remote.ssh.user, remote.ssh.destination, remote.ssh.port) == ("lab", "10.0.0.2", 2222)
    assert remote.ssh.key == tmp_path / "keys" / "id_ed25519"  # relative to the campaign
    assert (remote.address, remote.interface, remote.tare) == (
        "10.0.1.2",
        "eth1",
        "/opt/tare/bin/tare",
    )
    assert remote.carbon == str(campaign.graphite.carbon)  # its collector's default target
    assert len(str(remote.ssh.control_dir)) < 40  # room for ssh's socket name in 108 bytes


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[hosts.workload]\nssh = "lab@h"\n', "c.toml: hosts.workload.address: required"),
        ('[hosts.workload]\nssh = "lab@h"\n', "c.toml: hosts.workload.interface: required"),
        ('[hosts.workload]\nssh = "lab@h"\n', "c.toml: hosts.load.address: required"),
        (
            '[hosts.load]\nssh = "lab@h"\n',
            "c.toml: hosts.load.ssh: a load host over SSH needs the workload host",
        ),
        ('[hosts.workload]\nssh = "-oProxyCommand=x"\n', "c.toml: hosts.workload.ssh: "),
        ('[hosts.workload]\nssh = "a b@h"\n', "c.toml: hosts.workload.ssh: "),
        ('[hosts.workload]\naddress = "h.example"\n', "c.toml: hosts.workload.address: "),
        ('[hosts.workload]\ninterface = "eth0; rm"\n', "c.toml: hosts.workload.interface: "),
        ('[hosts.workload]\ncarbon = "nowhere"\n', "c.toml: hosts.workload.carbon: "),
        ("[hosts.workload]\nport = 0\n", "c.toml: hosts.workload.port: must be a positive integer"),
        ("[hosts.elsewhere]\n", "c.toml: hosts.elsewhere: unknown key"),
    ],
)
def test_bad_hosts_name_the_key(extra: str, expected: str) -> None:
    lines = problems(extra)
    assert any(line.startswith(expected) for line in lines), lines


def test_the_cores_of_a_workload_host_over_ssh_are_not_chosen() -> None:
    with pytest.raises(ConfigError) as info:
        parse_campaign(GOOD.replace("[workload]\n", "[workload]\ncpus = 2\n") + REMOTE, "c.toml")
    assert info.value.lines() == [
        "c.toml: workload.cpus: a workload host over SSH uses all its cores; the cores are "
        "chosen only in a lab on this machine"
    ]


def test_the_remote_collector_is_tares_own_pushing_to_carbon_itself() -> None:
    argv = collect_argv(
        "/opt/tare/bin/tare", "quickstart", "r1", "10.0.1.1:2003", "tare", "vm",
        "tare/ab12", "eth1", [("server", "nginx"), ("agent", "tare-refagent")],
    )  # fmt: skip
    joined = " ".join(argv)
    assert argv[:2] == ["/opt/tare/bin/tare", "collect"]
    for part in ("--carbon 10.0.1.1:2003", "--host vm", "--cgroup tare/ab12", "--interface eth1",
                 "--process server=nginx", "--process agent=tare-refagent", "--json",
                 "--ready-file /var/tmp/tare-collect/quickstart/reports/r1.ready"):  # fmt: skip
        assert part in joined


def test_missing_seconds_of_the_steady_window() -> None:
    assert missing_seconds(list(range(100, 120)), (102.5, 110.2)) == 0
    assert missing_seconds([103, 104, 106, 107, 108, 109, 110], (102.5, 110.2)) == 1
    assert missing_seconds([], (100.0, 104.0)) == 5


def test_collectd_on_a_host_over_ssh_is_refused() -> None:
    text = GOOD.replace('collector = "sampler"', 'collector = "collectd"', 1) + REMOTE
    assert text != GOOD + REMOTE
    with pytest.raises(ConfigError) as info:
        parse_campaign(text, "c.toml")
    assert any(
        line.startswith("c.toml: collect.collector: a workload host over SSH is collected by")
        for line in info.value.lines()
    )
