"""Several labs in one night: `tare nightly A.toml B.toml` runs two campaigns at once, each on
its own pair of hosts reached over SSH (four network namespaces, each with its own sshd; each
pair joined by its own test network), into one Graphite cluster (carbon-c-relay in front of two
caches) that the hosts' collectors push to themselves, each analysed separately; campaigns that
would share a host are refused before anything starts, naming the host."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import sshhost
from tests.conftest import ROOT, Stack, run_tare
from tests.lab import LANE_B, campaign, runs

pytestmark = [
    *sshhost.lab_marks(),
    # its module fixture makes hosts of fixed names and subnets: its tests on one worker, the
    # lane's
    LANE_B,
]

VENV_BIN = ROOT / ".venv" / "bin"


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def lab_network(w: sshhost.SshHost, lo: sshhost.SshHost, subnet: str, tag: str) -> Iterator[str]:
    """A veth pair between a workload and a load host: their own network, as in a real lab."""
    a, b = f"tlw-{tag}", f"tll-{tag}"
    sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
    try:
        sh("ip", "link", "set", a, "netns", w.netns)
        sh("ip", "link", "set", b, "netns", lo.netns)
        for ns, dev, addr in ((w.netns, a, f"{subnet}.1"), (lo.netns, b, f"{subnet}.2")):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        yield a
    finally:
        subprocess.run(["ip", "-n", w.netns, "link", "del", a], capture_output=True, check=False)


def hosts_table(w: sshhost.SshHost, lo: sshhost.SshHost, subnet: str, iface: str) -> str:
    return f"""
[hosts.workload]
ssh = "root@{w.address}"
key = "{w.ssh.key}"
known_hosts = "{w.ssh.known_hosts}"
address = "{subnet}.1"
interface = "{iface}"
tare = "{VENV_BIN / "tare"}"
[hosts.load]
ssh = "root@{lo.address}"
key = "{lo.ssh.key}"
known_hosts = "{lo.ssh.known_hosts}"
address = "{subnet}.2"
"""


@pytest.fixture(scope="module")
def two_labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, list[str]]]:
    tmp = tmp_path_factory.mktemp("many")
    with contextlib.ExitStack() as stack:
        wa = stack.enter_context(sshhost.ssh_host(tmp / "wa", "wa", "10.213.95"))
        la = stack.enter_context(sshhost.ssh_host(tmp / "la", "la", "10.213.96"))
        wb = stack.enter_context(sshhost.ssh_host(tmp / "wb", "wb", "10.213.97"))
        lb = stack.enter_context(sshhost.ssh_host(tmp / "lb", "lb", "10.213.98"))
        ia = stack.enter_context(lab_network(wa, la, "10.213.105", "a"))
        ib = stack.enter_context(lab_network(wb, lb, "10.213.106", "b"))
        # the Graphite cluster (a relay in front of two caches) listens on this machine's end of
        # wa's link; wb reaches it through its own; every host's collector pushes there itself
        sh("ip", "-n", wb.netns, "route", "add", f"{wa.local_address}/32", "via",
           wb.local_address)  # fmt: skip
        graphite = stack.enter_context(
            sshhost.listening_stack(tmp / "stack", wa.local_address, "--caches", "2")
        )
        yield (
            graphite,
            [
                hosts_table(wa, la, "10.213.105", ia),
                hosts_table(wb, lb, "10.213.106", ib),
            ],
        )


def test_two_campaigns_run_at_once_each_on_its_hosts(
    two_labs: tuple[Stack, list[str]], tmp_path: Path
) -> None:
    stack, tables = two_labs
    configs = [
        campaign(
            tmp_path,
            stack,
            name=name,
            modes='["enforced"]',
            # two labs on this 2-core machine at once (on real hosts each has its own cores)
            rates="[500]",
            refagent=str(VENV_BIN / "tare-refagent"),
            extra=table,
        )
        for name, table in (("laba", tables[0]), ("labb", tables[1]))
    ]
    state = tmp_path / "state"
    res = run_tare(
        "nightly", *map(str, configs), "--state-dir", str(state), "--notify", "none", "--json",
        "--junit", str(tmp_path / "night.xml"), timeout=600,
    )  # fmt: skip
    assert res.code == 0, res.err
    nights = {n["campaign"]: n for n in json.loads(res.out)["nights"]}
    assert set(nights) == {"laba", "labb"}
    for name, night in nights.items():
        assert night["exit"] == 0 and not night["not_valid"], night
        assert (tmp_path / f"night-{name}.xml").exists()  # one JUnit file each
    # each campaign's progress is told under its name
    assert "[laba] " in res.err and "[labb] " in res.err
    done = runs(state)
    assert len(done) == 4 and {r["status"] for r in done} == {"done"}, [
        (r["run_id"], r["status"], r["reason"]) for r in done
    ]
    for r in done:  # facts of both hosts, learnt over SSH, with every run
        facts = r["manifest"]["lab"]["sysctls"]  # type: ignore[index]
        assert facts["workload:kernel"] != "unavailable", facts
        assert facts["load:kernel"] != "unavailable", facts
    # they ran at once: each campaign's runs overlap the other's
    spans = {}
    for name in ("laba", "labb"):
        mine = [r for r in done if str(r["run_id"]).startswith(name)]
        spans[name] = (min(r["started"] for r in mine), max(r["ended"] for r in mine))
    (a0, a1), (b0, b1) = spans["laba"], spans["labb"]
    assert a0 < b1 and b0 < a1, spans


def test_campaigns_that_would_share_a_host_are_refused_naming_it(
    two_labs: tuple[Stack, list[str]], tmp_path: Path
) -> None:
    stack, tables = two_labs
    one = campaign(tmp_path, stack, name="one", extra=tables[0])
    two = campaign(tmp_path, stack, name="two", extra=tables[0])  # the same hosts
    here = campaign(tmp_path, stack, name="here")  # this machine's namespaces lab
    res = run_tare("nightly", str(one), str(two), "--state-dir", str(tmp_path / "s"))
    assert res.code == 2, res.err
    assert "would both measure on ssh root@10.213.95.2:22" in res.err
    assert "Traceback" not in res.err
    res = run_tare("nightly", str(here), str(here), "--state-dir", str(tmp_path / "s"))
    assert res.code == 2 and "are both campaign 'here'" in res.err
