"""The quickstart-shaped campaign with the workload host reached only over SSH: a network
namespace with its own sshd stands for the host. Its cgroup and sysctls are set over SSH, nginx
and the reference agent run there, its collector runs there and pushes to the stack's carbon
itself, its counters are read there; the load runs here. The same ledger, series and analysis
as the local lab. A connection dropped mid-run fails that run with the reason, and the campaign
goes on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.graphite import GraphiteClient
from tests import sshhost
from tests.conftest import ROOT, Stack, run_tare
from tests.lab import LANE_B, campaign, run_status, runs

pytestmark = [*sshhost.lab_marks(), LANE_B]

SUBNET = "10.213.94"
VENV_BIN = ROOT / ".venv" / "bin"


@pytest.fixture(scope="module")
def ssh_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sshhost.SshHost, Stack]]:
    tmp = tmp_path_factory.mktemp("sshlab")
    # carbon listens where the workload host reaches it: its collector pushes there itself
    with (
        sshhost.ssh_host(tmp / "ssh", "wl", SUBNET) as h,
        sshhost.listening_stack(tmp / "stack", h.local_address) as stack,
    ):
        yield h, stack


def hosts_table(h: sshhost.SshHost) -> str:
    return f"""
[hosts.workload]
ssh = "{h.ssh.user}@{h.address}"
key = "{h.ssh.key}"
known_hosts = "{h.ssh.known_hosts}"
address = "{h.address}"
interface = "tsp-wl"
tare = "{VENV_BIN / "tare"}"
[hosts.load]
address = "{h.local_address}"
"""


def write_campaign(tmp: Path, h: sshhost.SshHost, stack: Stack, name: str, repeats: int) -> Path:
    return campaign(
        tmp,
        stack,
        name=name,
        modes='["enforced"]',  # the subject is the host over SSH, not the agent's modes
        rates="[500]",  # the subject is the host over SSH; beside other tests 1K/s fell short
        repeats=repeats,
        refagent=str(VENV_BIN / "tare-refagent"),
        extra=hosts_table(h),
    )


def kill_sshd_sessions(netns: str) -> None:
    """SIGTERM to the sshd sessions in ``netns`` alone (a pkill there once killed another
    test's sessions)."""
    for pid, cmdline in sshhost.processes_in(netns):
        if cmdline.startswith(b"sshd: root@notty"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def drop_connections_during(state: Path, seq: int, h: sshhost.SshHost) -> threading.Event:
    """Once run ``seq`` is into its load (h2load has opened its log), cut sshd's side of every
    connection to the host, as when a link or the host's sshd goes away."""
    dropped = threading.Event()

    def drop() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            loading = any((state / "lab" / "runs").glob(f"*-{seq:03d}-*/load.log"))
            if run_status(state, seq) == "running" and loading:
                time.sleep(3)
                kill_sshd_sessions(h.netns)
                dropped.set()
                return
            time.sleep(0.2)

    threading.Thread(target=drop, daemon=True).start()
    return dropped


def test_the_campaign_runs_with_the_workload_host_over_ssh_alone(
    ssh_lab: tuple[sshhost.SshHost, Stack], tmp_path: Path
) -> None:
    h, stack = ssh_lab
    state = tmp_path / "state"
    path = write_campaign(tmp_path, h, stack, "sshlab", repeats=2)
    dropped = drop_connections_during(state, 2, h)
    res = run_tare("run", str(path), "--state-dir", str(state), timeout=600)
    assert dropped.is_set(), "the second run never started"
    done = runs(state)
    assert len(done) == 4  # baseline, enforced; enforced, baseline
    by_seq = {r["seq"]: r for r in done}
    # the run whose connections were cut failed, naming ssh's reason; the campaign went on,
    # the next runs over new connections
    assert res.code == 5, res.err  # a run not valid
    assert by_seq[2]["status"] == "failed", by_seq[2]
    assert "ssh" in str(by_seq[2]["reason"]).lower(), by_seq[2]["reason"]
    others = [r for r in done if r["seq"] != 2]
    assert {r["status"] for r in others} == {"done"}, [(r["status"], r["reason"]) for r in others]

    lab = others[0]["manifest"]["lab"]  # type: ignore[index]
    assert lab["kind"] == "hosts"
    facts = dict(lab["sysctls"])  # what the lab learnt of the workload host, over SSH
    assert facts["workload:kernel"] != "unavailable" and int(facts["workload:cpus"]) >= 1

    # the workload host's collector pushed the run's series itself: the host's cgroup, its
    # interface
    client = GraphiteClient(stack.render_url)
    run_id = others[-1]["run_id"]
    names = {n.path for n in client.find(f"tare.runs.{run_id}.*.tare.*")}
    assert any(n.endswith(".cgroup") for n in names), names
    assert any("net_tsp" in n for n in names), names

    # the analysis reads them as it reads a local lab's
    res = run_tare("analyze", "--latest", "--json", "--no-write-back", "--state-dir", str(state))
    assert res.code == 0, res.err
    table = json.loads(res.out)
    assert not table["absent_series"], table["absent_series"]
    kpis = {row["kpi"] for row in table["overheads"]}
    assert {"cpu_cgroup", "mem_cgroup", "cpu_agent", "tcp_ksegs"} <= kpis, kpis
    # nothing of the labs is left on the host: their cgroups are gone
    for run in others:
        lab_id = run["manifest"]["lab"]["id"]  # type: ignore[index]
        assert not any(Path(f"/sys/fs/cgroup/{c}/tare/{lab_id}").exists() for c in
                       ("cpuacct", "memory", "unified", ""))  # fmt: skip
    assert not list((state / "lab" / "records").glob("*.json"))
