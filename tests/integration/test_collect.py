"""30 s of ``tare collect`` and 30 s of collectd with the rendered config, against the real
stack, leave exactly the documented series with at most 2 missing seconds each."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from collectors import collectd
from collectors.series import GROUPS, group_template
from pipeline.graphite import GraphiteClient
from tests.conftest import ROOT, Stack
from tests.sandbox import is_root, sandbox

pytestmark = pytest.mark.skipif(not is_root(), reason="namespaces and cgroups need root")

DURATION = 30


def _collect(
    stack: Stack, run_id: str, box_args: list[str], collector: str, state: Path
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tare",
            "collect",
            "--run-id",
            run_id,
            "--duration",
            str(DURATION),
            "--carbon",
            f"{stack.carbon_host}:{stack.carbon_port}",
            "--host",
            "testhost",
            "--collector",
            collector,
            "--state-dir",
            str(state),
            "--json",
            *box_args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _series(client: GraphiteClient, run_id: str, start: int, end: int) -> dict[str, list]:
    found = client.render([f"tare.runs.{run_id}.testhost.tare.*.*"], start, end)
    return {s.target.split(".tare.", 1)[1]: list(s.points) for s in found}


def _documented() -> dict[str, set[str]]:
    return {group: {m.name for m in metrics} for group, metrics in GROUPS.items()}


def _check(series: dict[str, list], start: int, end: int, expect_groups: set[str]) -> None:
    documented = _documented()
    groups: dict[str, set[str]] = {}
    for name in series:
        group, metric = name.rsplit(".", 1)
        groups.setdefault(group, set()).add(metric)
    # every series written is documented, and every documented metric of a group is written
    for group, metrics in groups.items():
        template = group_template(group)
        assert metrics == documented[template], (group, metrics ^ documented[template])
    missing_groups = {g for g in expect_groups if not any(re.fullmatch(g, x) for x in groups)}
    assert not missing_groups, sorted(groups)
    # from the collector's first sample (a loaded machine may start it seconds late) to the end
    first = min((t for pts in series.values() for t, v in pts if v is not None), default=start)
    window = range(max(start + 3, first + 2), end - 2)
    for name, points in series.items():
        values = {t for t, v in points if v is not None}
        missing = [t for t in window if t not in values]
        assert len(missing) <= 2, (name, missing)


@pytest.mark.skipif(collectd.binary() is None, reason="collectd not installed")
def test_standalone_and_collectd_write_the_documented_series(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    uid = uuid.uuid4().hex[:6]
    with sandbox(tmp_path, DURATION + 20) as box:
        args = [
            "--netns",
            box.netns,
            "--interface",
            "lo",
            "--cgroup",
            box.cgroup,
            "--process",
            f"sleeper={box.sleeper_name}",
            "--process-pidfile",
            f"load={box.pid_file}",
        ]
        start = int(time.time())
        runs = {
            "standalone": _collect(graphite_stack, f"s{uid}", args, "standalone", tmp_path / "s"),
            "collectd": _collect(graphite_stack, f"c{uid}", args, "collectd", tmp_path / "c"),
        }
        outputs = {name: p.communicate(timeout=DURATION + 60) for name, p in runs.items()}
        end = int(time.time())
    for name, proc in runs.items():
        assert proc.returncode == 0, (name, outputs[name][1])
    report = json.loads(outputs["standalone"][0])
    assert report["samples"] >= DURATION - 1
    assert report["spooled_bytes"] == 0
    client = GraphiteClient(graphite_stack.render_url)
    expect = {
        "cpu_all",
        r"cpu_\d+",
        "memory",
        "cgroup",
        "tcp",
        "net_lo",
        "proc_sleeper",
        "proc_load",
    }
    if Path("/proc/net/stat/nf_conntrack").exists():
        expect.add("conntrack")
    for run_id in (f"s{uid}", f"c{uid}"):
        series = _series(client, run_id, start, end)
        _check(series, start, end, expect)
        # the namespace's own traffic: ~50 connections/s accepted, none seen on the host
        opens = [v for _, v in series["tcp.passive_opens_per_s"] if v is not None]
        assert sum(opens) / len(opens) > 10
        rss = [v for _, v in series["proc_sleeper.rss_bytes"] if v is not None]
        assert min(rss) > 0
        cg = [v for _, v in series["cgroup.cpu_pct"] if v is not None]
        assert sum(cg) / len(cg) > 0.5  # the traffic loop burns some CPU inside the cgroup
    # collectd's own plugins ran too, under the same run prefix
    nodes = {n.path.rsplit(".", 1)[1] for n in client.find(f"tare.runs.c{uid}.testhost.*")}
    assert {"memory", "tare"} <= nodes and "cpu" not in nodes  # tare has the cores


def test_bad_input_keeps_the_other_series_flowing(graphite_stack: Stack, tmp_path: Path) -> None:
    run_id = f"b{uuid.uuid4().hex[:6]}"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tare",
            "collect",
            "--run-id",
            run_id,
            "--duration",
            "4",
            "--carbon",
            f"{graphite_stack.carbon_host}:{graphite_stack.carbon_port}",
            "--host",
            "testhost",
            "--netns",
            "no-such-ns",
            "--process",
            "ghost=no-such-process",
            "--cgroup",
            "no/such/cgroup",
            "--state-dir",
            str(tmp_path),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "network namespace 'no-such-ns' does not exist" in res.stderr
    assert "no running process matches name 'no-such-process'" in res.stderr
    assert "no cgroup 'no/such/cgroup'" in res.stderr
    assert "Traceback" not in res.stderr
    client = GraphiteClient(graphite_stack.render_url)
    now = int(time.time())
    found = client.render(
        [f"tare.runs.{run_id}.testhost.tare.memory.available_bytes"], now - 30, now + 1
    )
    assert found and len(found[0].values()) >= 3


def test_unreachable_carbon_spools_and_exits_4(tmp_path: Path) -> None:
    from tests.conftest import free_ports

    (port,) = free_ports(1)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tare",
            "collect",
            "--run-id",
            "u1",
            "--duration",
            "3",
            "--carbon",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 4, res.stderr
    assert f"carbon at 127.0.0.1:{port} unreachable" in res.stderr
    spool = list((tmp_path / "spool" / "collect").glob("*.spool"))
    assert spool and sum(len(p.read_text().splitlines()) for p in spool) > 10


@pytest.mark.skipif(collectd.binary() is None, reason="collectd not installed")
def test_stopping_tare_collect_stops_its_collectd(graphite_stack: Stack, tmp_path: Path) -> None:
    import psutil

    from tests.poll import wait_for

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tare",
            "collect",
            "--run-id",
            "stopme",
            "--collector",
            "collectd",
            "--carbon",
            f"{graphite_stack.carbon_host}:{graphite_stack.carbon_port}",
            "--state-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def child() -> psutil.Process | None:
        kids = psutil.Process(proc.pid).children()
        return next((k for k in kids if k.name() == "collectd" and "-f" in k.cmdline()), None)

    daemon = wait_for(child, timeout_s=30, what="collectd started by tare collect")
    proc.terminate()
    proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    daemon.wait(timeout=10)
    assert not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE
