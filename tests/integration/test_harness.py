"""``tare run`` for real, as root: namespaces, nginx, h2load, the reference agent, Graphite."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.kpis import KPIS
from contracts.labels import label
from contracts.manifest import LabFacts
from contracts.noise import Noise, save
from contracts.paths import Source
from dashboards.common import Shape
from pipeline.analysis import measures
from pipeline.fetch import RunRef, fetch_run
from pipeline.graphite import GraphiteClient
from tests.conftest import ROOT, Stack, run_tare
from tests.lab import LANE_A, LANE_B, campaign, netns_list, runs
from tests.night import CELL, Night
from tests.poll import wait_for
from tests.sandbox import is_root

pytestmark = pytest.mark.skipif(not is_root(), reason="the namespaces lab needs root")


@pytest.mark.xdist_group("night")  # one worker builds the shared night
@pytest.mark.solo  # two collectors compared to a tick: a neighbour moves their phases
def test_the_night_runs_baseline_and_agent_and_lands_in_graphite(
    graphite_stack: Stack, shared_night: Night
) -> None:
    """The shared night, run by ``tare nightly`` (tests/night.py): every run done, recorded with
    its facts, its series and load results in Graphite, its events, and no lab left behind.
    collectd collects the runs (the series the analysis reads); the sampler writes the same
    series under a second prefix: both are compared second by second and run by run."""
    night, stack = shared_night, graphite_stack
    res = night.result
    assert res.code == 1, res.err  # its one regression (the threshold every overhead breaches)
    summary = night.summary
    assert summary["runs"] == 6 and summary["not_valid"] == [] and summary["exit"] == 1
    assert [s["name"] for s in summary["stages"]] == ["stack", "run", "analyze", "alert", "report"]
    assert all(s["code"] == 0 for s in summary["stages"] if s["name"] != "alert"), summary
    assert Path(summary["report"]).exists()
    state = night.state
    rows = runs(state)
    assert sorted((r["mode"], r["status"]) for r in rows) == sorted(
        [("baseline", "done")] * 3 + [("enforced", "done")] * 3
    )
    enforced = next(r for r in rows if r["mode"] == "enforced")
    manifest = enforced["manifest"]
    assert isinstance(manifest, dict)
    assert manifest["agent_version"] == "tare-refagent, version 1.0.0"
    # the workload host keeps the kernel's settings but for what the campaign asked; the load
    # host has the generator's tuning; what each read back is recorded, the lab's own named
    # (the last enforced run: by then the agent has loaded conntrack, whose settings exist
    # only once it is loaded)
    lab = [r for r in rows if r["mode"] == "enforced"][-1]["manifest"]["lab"]  # type: ignore[index]
    assert lab["sysctls"]["load:net.ipv4.tcp_tw_reuse"] == "1"
    assert lab["sysctls"]["workload:net.core.somaxconn"] == "8192"
    timeout = lab["sysctls"]["workload:net.netfilter.nf_conntrack_tcp_timeout_time_wait"]
    assert timeout == "120", lab["sysctls"]  # the kernel's, no longer the lab's 1 s
    assert sorted(lab["set_by_lab"]) == [
        "load:net.ipv4.ip_local_port_range",
        "load:net.ipv4.tcp_tw_reuse",
        "load:snat to 254 addresses of 169.254.214.0/24",
        "workload:net.core.somaxconn",
        "workload:route 169.254.214.0/24",
    ]
    # the enforcing agent allowed the load's many addresses ({load_net}): it refused none
    assert all(r["manifest"]["load"]["error_pct"] == 0 for r in rows), rows  # type: ignore[index]
    assert manifest["campaign"]["host"]["kernel"]
    assert manifest["version"] == 1 and manifest["lab"]["workload_interface"] == "tare0"
    assert manifest["load"]["achieved_rate"] >= 980
    client = GraphiteClient(stack.render_url)
    if night.collectd:
        assert manifest["campaign"]["collector"] == "collectd"
        for row in rows:
            same_seconds_and_means(client, row)
    now = int(time.time())
    for row in rows:
        run_id = row["run_id"]
        base = f"tare.runs.{run_id}.*"

        def series(base: str = base) -> set[str] | None:
            found = {n.path.rsplit(".", 1)[1] for n in client.find(f"{base}.tare.*")}
            return found if {"cgroup", "tcp", "cpu_all", "proc_server"} <= found else None

        groups = wait_for(series, timeout_s=20, what=f"series of {run_id}")
        assert ("proc_agent" in groups) == (row["mode"] == "enforced")

        def achieved(base: str = base) -> list[tuple[int, float]] | None:
            found = client.render([f"{base}.load.achieved_rate"], now - 3600, now + 5)
            return found[0].values() if found and found[0].values() else None

        assert wait_for(achieved, timeout_s=20, what="load results")[0][1] >= 980
        opens = client.render([f"{base}.tare.tcp.passive_opens_per_s"], now - 3600, now + 5)
        values = [v for _, v in opens[0].values()]
        assert max(values) > 800  # the workload namespace saw the load, counted by tare
    events = client.events(["tare", "run"], now - 3600, now + 5)
    assert {e["what"] for e in events} >= {f"tare run {r['run_id']}" for r in rows}
    # nothing left behind: the labs' namespaces and records are gone
    netns = netns_list()
    for row in rows:
        lab_id = row["manifest"]["lab"]["id"]  # type: ignore[index]
        assert f"tare-w-{lab_id}" not in netns and f"tare-l-{lab_id}" not in netns
    assert not list((state / "lab" / "records").glob("*.json"))


def test_workload_that_never_becomes_ready(graphite_stack: Stack, tmp_path: Path) -> None:
    conf = campaign(
        tmp_path, graphite_stack, name="noready", workload='["sleep", "60"]', ready_timeout=2
    )
    res = run_tare("run", str(conf), "--state-dir", str(tmp_path / "s"), timeout=120)
    assert res.code == 5, res.err
    assert "aborted: workload not ready on 169.254.213.1:8080 within 2 s" in res.err
    assert "Traceback" not in res.err


@pytest.mark.solo  # h2load flat out on both cores
def test_unreachable_target_rate_is_an_invalid_run(graphite_stack: Stack, tmp_path: Path) -> None:
    """Through ``tare nightly``: exit 5, each invalid run named, and in the JUnit file."""
    # 40,000/s is out of reach of one h2load here (13-25K/s), and fails in well under a minute
    conf = campaign(
        tmp_path, graphite_stack, name="toofast", modes='["idle"]', rates="[40000]", min_ratio=0.98
    )
    junit = tmp_path / "junit.xml"
    args = ("--state-dir", str(tmp_path / "s"), "--junit", str(junit), "--notify", "none")
    res = run_tare("nightly", str(conf), *args, timeout=300)
    assert res.code == 5, res.err
    assert "2 not valid" in res.out and "of target 40000 conn/s" in res.out
    last = res.out.strip().splitlines()[-1]  # the one-line summary
    assert last.startswith("nightly toofast-") and "2 invalid runs" in last, last
    assert last.endswith("; exit 5"), last
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    errors = [c for c in suite.iter("testcase") if c.find("error") is not None]
    assert {c.get("classname") for c in errors} == {"linux.toofast.stages", "linux.toofast.runs"}


def test_missing_load_tool_and_busy_lab(graphite_stack: Stack, tmp_path: Path) -> None:
    conf = campaign(tmp_path, graphite_stack, name="notool")
    res = run_tare(
        "run",
        str(conf),
        "--state-dir",
        str(tmp_path / "s"),
        env={"PATH": str(Path(sys.executable).parent)},
    )
    assert res.code == 4
    assert "load tool h2load not found (apt-get install nghttp2-client)" in res.err
    from harness.lock import LabLock

    locks = tmp_path / "locks"
    with LabLock("run", "other", tmp_path / "other-state", directory=locks):
        res = run_tare(
            "run",
            str(conf),
            "--state-dir",
            str(tmp_path / "busy"),
            env={"TARE_LOCK_DIR": str(locks)},
        )
    assert res.code == 4
    assert f"the lab is in use by pid {os.getpid()} (tare run, campaign other" in res.err


def test_a_workload_that_leaves_the_load_no_core_is_refused_before_any_run(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    ncpu = os.cpu_count() or 1
    conf = campaign(tmp_path, graphite_stack, name="allcores", workload_cpus=ncpu)
    res = run_tare("run", str(conf), "--state-dir", str(tmp_path / "s"))
    assert res.code == 3, res.err
    assert res.err.strip().splitlines() == [
        f"tare: {conf}: workload.cpus = {ncpu}: this machine has {ncpu} core(s) and the load "
        "needs one of its own"
    ]
    assert runs(tmp_path / "s") == []


def test_lab_down_cleans_up_after_a_crash(tmp_path: Path) -> None:
    from harness.lab import namespace_lab

    lab = namespace_lab("crash01", tmp_path / "state" / "lab" / "records", 8080)
    sleeper = subprocess.Popen(lab.workload.command(["sleep", "300"]))
    netns = netns_list()
    assert "tare-w-crash01" in netns
    res = run_tare("lab", "down", "--state-dir", str(tmp_path / "state"))
    assert res.code == 0, res.err
    assert "netns tare-w-crash01" in res.out
    sleeper.wait(timeout=10)
    netns = netns_list()
    assert "crash01" not in netns
    assert run_tare("lab", "down", "--state-dir", str(tmp_path / "state")).out.strip() == (
        "lab: nothing to remove"
    )


def test_plan_of_the_nightly_matrix(tmp_path: Path) -> None:
    nightly = str(ROOT / "examples" / "nightly.toml")
    res = run_tare("plan", nightly, "--json", "--state-dir", str(tmp_path))
    assert res.code == 0, res.err
    plan = json.loads(res.out)
    # adaptive: the first 4 rounds of the 24 cells are planned, the rest decided as it goes
    assert plan["cells"] == 24 and len(plan["runs"]) == 4 * 24
    assert plan["fixed_wall_time_s"] > 3 * 24 * 30
    a = plan["adaptive_wall_time_s"]
    assert a["least"] == plan["wall_time_s"] and abs(a["least"] * 3 - a["most"]) <= 2
    assert a["expected"] == a["most"]  # no noise measured in this state dir: the budget
    text = run_tare("plan", nightly, "--state-dir", str(tmp_path)).out
    assert "fixed design, 3 repeats: estimated wall time " in text
    assert "adaptive, 4 to 12 rounds: at least " in text and "<- this campaign" in text
    assert (
        "rate=15000 profile=connections policy_size=1000 policy_updates_per_min=0: no noise "
        "measured (tare calibrate)" in text
    )
    assert "throughput 1000 Mbit/s" in text and "requests 10000 req/s" in text
    # with a calibration's noise at one rate, every block expects from the nearest
    noise = Noise(5000, 30, 23, {"cpu_cgroup": 0.3, "mem_cgroup": 0.2}, 10, 0)
    save(tmp_path, noise)
    plan = json.loads(run_tare("plan", nightly, "--json", "--state-dir", str(tmp_path)).out)
    assert plan["adaptive_wall_time_s"]["expected"] == plan["adaptive_wall_time_s"]["least"]


@pytest.mark.solo  # h2load flat out: the machine's capacity
def test_capacity_sweep(graphite_stack: Stack, tmp_path: Path) -> None:
    conf = campaign(tmp_path, graphite_stack, name="cap")
    res = run_tare(
        "capacity",
        str(conf),
        "--clients",
        "1,8",
        "--step-s",
        "1",
        "--repeats",
        "2",
        "--json",
        "--state-dir",
        str(tmp_path / "s"),
        timeout=300,
    )
    assert res.code == 0, res.err
    data = json.loads(res.out)
    # interleaved, the order reversed in the second repeat
    assert [s["mode"] for s in data["sweeps"]] == ["baseline", "enforced", "enforced", "baseline"]
    for sweep in data["sweeps"]:
        assert sweep["error"] is None
        assert [s["clients"] for s in sweep["steps"]] == [1, 8]
        assert sweep["max_conn_per_s"] > 1000
        assert sweep["steps"][1]["rate"] > sweep["steps"][0]["rate"]  # more clients, more rate
    modes = {m["mode"]: m for m in data["modes"]}
    assert set(modes) == {"baseline", "enforced"}
    enforced = modes["enforced"]
    assert enforced["sweeps"] == 2 and enforced["change_vs_baseline_pct"] is not None
    low, high = enforced["ci_pct"]  # a between-sweep interval, never a bare difference
    assert low <= enforced["change_vs_baseline_pct"] <= high
    assert enforced["method"].startswith("welch")
    assert not list((tmp_path / "s" / "lab" / "records").glob("*.json"))


@LANE_B
def test_a_failing_agent_fails_its_run_and_the_campaign_goes_on(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    """An agent that cannot install fails its run, naming the step and its words, and the
    baseline goes on; after the same step failed in two runs of the mode in a row, the mode's
    third run is not tried (skipped, with the reason)."""
    conf = campaign(tmp_path, graphite_stack, name="badagent", repeats=3)
    text = conf.read_text()
    start = text.index("install = [")
    end = text.index("]", text.index('"{port}"', start)) + 1
    conf.write_text(
        text[:start] + 'install = ["sh", "-c", "echo policy engine down >&2; exit 7"]' + text[end:]
    )
    state = tmp_path / "s"
    res = run_tare("run", str(conf), "--state-dir", str(state), timeout=300)
    assert res.code == 5, res.err
    assert "agent install exited 7: policy engine down" in res.err
    rows = runs(state)
    assert [r["status"] for r in rows if r["mode"] == "baseline"] == ["done"] * 3
    enforced = [(r["status"], r["reason"]) for r in rows if r["mode"] == "enforced"]
    assert enforced == [
        ("failed", "agent install exited 7: policy engine down"),
        ("failed", "agent install exited 7: policy engine down"),
        (
            "skipped",
            "the agent's install step failed in 2 runs of enforced in a row: agent install "
            "exited 7: policy engine down",
        ),
    ]


@LANE_B
def test_httperf_driver_and_a_clean_night_of_one_run_a_side(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    """httperf drives the load; a night with nothing to report is exit 0 through every stage;
    one run a side gives a difference, and no interval, p-value or star (no inference)."""
    conf = campaign(tmp_path, graphite_stack, name="httperf", modes='["idle"]')
    conf.write_text(conf.read_text().replace("[load]\n", '[load]\ntool = "httperf"\n'))
    state = tmp_path / "s"
    args = ("--state-dir", str(state), "--json", "--notify", "none")
    res = run_tare("nightly", str(conf), *args, timeout=300)
    assert res.code == 0, res.err
    night = json.loads(res.out)
    assert night["runs"] == 2 and night["not_valid"] == [] and night["exit"] == 0
    assert [(s["name"], s["code"]) for s in night["stages"]] == [
        ("stack", 0),
        ("run", 0),
        ("analyze", 0),
        ("alert", 0),
        ("report", 0),
    ]
    assert night["alerts_new"] == 0 and Path(night["report"]).exists()
    rows = runs(state)
    assert [(r["mode"], r["status"]) for r in rows] == [("baseline", "done"), ("idle", "done")]
    assert all(r["manifest"]["load"]["tool"] == "httperf" for r in rows)  # type: ignore[index]
    res = run_tare("analyze", "--latest", "--json", "--no-write-back", "--state-dir", str(state))
    assert res.code == 0, res.err
    found = json.loads(res.out)["overheads"]
    assert found and all(o["method"] == "no inference (1 vs 1 runs)" for o in found)
    assert not any(o["significant"] for o in found)
    assert all(o["pvalue"] is None and o.get("ci_low") is None for o in found)  # strict JSON
    text = run_tare("analyze", "--latest", "--no-write-back", "--state-dir", str(state)).out
    assert "(no inference)" in text and "*" not in text.split("\n", 2)[2]


@LANE_B
def test_loopback_lab_says_what_it_gives_up(graphite_stack: Stack, tmp_path: Path) -> None:
    from tests.conftest import free_ports

    (port,) = free_ports(1)
    conf = campaign(tmp_path, graphite_stack, name="loop", modes='["idle"]')
    text = conf.read_text().replace("port = 8080", f"port = {port}")
    # an agent that needs no root: every lifecycle step succeeds and does nothing
    for key in ("install", "uninstall", "set_mode", "start", "stop", "health"):
        start = text.index(f"\n{key} = [") + 1
        end = text.index("]\n", start) + 1
        argv = '["echo", "{mode}"]' if key == "set_mode" else '["true"]'
        text = text[:start] + f"{key} = {argv}" + text[end:]
    conf.write_text(text)
    state = tmp_path / "s"
    res = run_tare("run", str(conf), "--lab", "loopback", "--state-dir", str(state), timeout=300)
    assert res.code == 0, res.err
    assert "--lab loopback: a loopback lab, which gives up separate network namespaces" in res.err
    rows = runs(state)
    assert [r["status"] for r in rows] == ["done", "done"]
    assert rows[0]["manifest"]["lab"]["kind"] == "loopback"  # type: ignore[index]


# how far the two collectors' per-run means of a judged KPI may differ (they sample the same
# kernel counters at different phases of each second)
TOLERANCE = {"pp of a core": 0.2, "MB": 0.5, "%": 1.0, "MB/s": 0.05, "Kseg/s": 0.3}
# conntrack: the table's fill grows by up to rate/max per second between the two collectors'
# phases (1K/s on 262,144 entries: 0.4 %); drops stand at 0 here
TOLERANCE |= {"% of table": 0.5, "1/s": 1.0}
# kernel ticks (100/s): +-1 tick a second between phases
TICK_SAMPLED = {"softirq_all": 0.5, "cpu_agent": 0.5}


def same_seconds_and_means(client: GraphiteClient, row: dict[str, Any]) -> None:
    """The run's judged KPIs from collectd ('tare') and from the sampler ('tarecmp'): values
    for the same seconds, and per-run means within TOLERANCE (rates: relative, in %)."""
    m = row["manifest"]
    assert [(c["name"], c["prefix"], c["missing_s"]) for c in m["collection"]] == [
        ("collectd", "tare", 0),
        ("sampler", "tarecmp", 0),
    ]
    assert all(0 < c["cpu_pct"] < 5 for c in m["collection"])  # their cost, measured
    assert 1 < m["collection"][0]["rss_mb"] < 200
    start, end = math.ceil(row["steady_start"]), math.floor(row["steady_end"])
    host = label(m["campaign"]["host"]["host"])
    cores = LabFacts.from_json(m["lab"]).workload_cores
    levels = tuple((k, v) for k, v in dict(m["levels"]).items())
    kpis = [
        k
        for k in KPIS
        if k.judged and k.source is Source.TARE and k.ratio_of is None and measures(k, levels)
    ]
    frames = {
        prefix: fetch_run(
            client,
            RunRef(row["run_id"], host, prefix, start, end, cores, m["lab"]["workload_interface"]),
            kpis,
        )
        for prefix in ("tare", "tarecmp")
    }
    for kpi in kpis:
        a, b = (f[f["kpi"] == kpi.name].set_index("time")["value"] for f in frames.values())
        seconds_a, seconds_b = set(a.dropna().index), set(b.dropna().index)
        assert len(seconds_a ^ seconds_b) <= 2, (kpi.name, sorted(seconds_a ^ seconds_b))
        assert len(seconds_a) >= end - start - 2, (kpi.name, len(seconds_a))
        both = sorted(seconds_a & seconds_b)  # the means over the same seconds
        a, b = a[both], b[both]
        if kpi.relative_only:
            diff = abs(a.mean() - b.mean()) / max(abs(b.mean()), 1e-9) * 100
        else:
            diff = abs(a.mean() - b.mean())
        limit = TICK_SAMPLED.get(kpi.name, TOLERANCE[kpi.unit])
        assert diff <= limit, (kpi.name, row["mode"], a.mean(), b.mean())


def the_breach_fails_its_case(junit: Path, cell: str) -> None:
    cases = {
        (c.get("classname"), c.get("name")): c for c in ET.parse(junit).getroot().iter("testcase")
    }
    failed = cases[(cell, "cpu_cgroup")].find("failure")
    assert failed is not None and "threshold" in str(failed.get("message"))
    assert "welch" in str(failed.get("message"))  # tonight's overhead and CI with it
    assert cases[(cell, "cpu_workload_core")].find("failure") is None
    assert (cell, "mem_available") not in cases  # context KPIs are not test cases


@pytest.mark.xdist_group("night")  # one worker builds the shared night
@pytest.mark.solo  # two collectors compared to a tick: a neighbour moves their phases
def test_analyze_overhead_with_confidence_intervals_written_back(
    graphite_stack: Stack, shared_night: Night, tmp_path: Path
) -> None:
    """The shared night (tests/night.py): a threshold every overhead breaches, through
    ``tare nightly --fail-on-regression``: exit 1, and that cell and KPI a failed case of the
    JUnit file. Adaptive, with a CPU target no lab reaches: the look after 2 rounds adds a third,
    the budget, and the night says the cell stayed too noisy. Then analyze, the report and the
    dashboards read it (from a copy of its state: analyze writes there)."""
    res = shared_night.result
    assert res.code == 1, res.err
    the_night_went_adaptive(res.err, shared_night.summary)
    the_breach_fails_its_case(shared_night.junit, CELL)
    state = shared_night.copy_state(tmp_path / "s")
    out = tmp_path / "tables"
    res = run_tare("analyze", "--latest", "--json", "--out", str(out), "--state-dir", str(state))
    assert res.code == 0, res.err
    data = json.loads(res.out)
    rows = {r["kpi"]: r for r in data["overheads"]}
    assert {"cpu_cgroup", "cpu_workload_core", "mem_available", "conn_rate"} <= set(rows)
    cpu = rows["cpu_cgroup"]
    assert cpu["mode"] == "enforced" and cpu["rate"] == 1000 and cpu["method"] == "welch"
    assert cpu["n_baseline"] == cpu["n_contender"] == 3
    assert cpu["ci_low"] <= cpu["absolute"] <= cpu["ci_high"] and cpu["mde"] > 0
    assert cpu["qvalue"] >= cpu["pvalue"] and data["target_ci"]["cpu_cgroup"] == 0.001
    assert rows["mem_available"]["judged"] is False and not rows["mem_available"]["significant"]
    assert rows["mem_cgroup"]["absolute"] > 0  # the agent's daemon lives in the workload cgroup
    assert (out / data["campaign"]["id"] / "overhead.csv").exists()
    assert data["written_points"] > 0
    night = data["campaign"]["night"]
    import calendar

    ts = calendar.timegm(time.strptime(night, "%Y-%m-%d"))
    client = GraphiteClient(graphite_stack.render_url)
    target = "tare.nightly.linux.analyzed.enforced.rate_1000.policy_size_1000.cpu_cgroup.overhead"

    def written() -> list[tuple[int, float]] | None:
        found = client.render([target], ts - 3600, ts + 3600)
        return found[0].values() if found and found[0].values() else None

    point = wait_for(written, timeout_s=20, what="the nightly overhead point")
    assert point[0][0] == ts and point[0][1] == pytest.approx(cpu["absolute"])
    text = run_tare("analyze", "--latest", "--no-write-back", "--state-dir", str(state)).out
    method = next(line for line in text.splitlines() if line.startswith("method: "))
    assert "enforced rate=1000 policy=1000" in text and "welch" in method
    assert "Benjamini-Hochberg over the" in text and "too noisy tonight: " in text

    the_report_shows_the_night(tmp_path, state, cpu, ts, night)
    # a KPI whose runs did not vary (the connection rate, exactly on target) has no interval
    no_ci = {k for k, r in rows.items() if r["judged"] and not has_interval(r)}
    the_dashboards_show_this_night(graphite_stack, state, ts, no_ci)


def has_interval(row: dict[str, Any]) -> bool:
    bounds = (row.get("ci_low"), row.get("relative_ci_low"))
    return any(isinstance(b, float) and math.isfinite(b) for b in bounds)


def the_report_shows_the_night(
    tmp_path: Path, state: Path, cpu: dict[str, Any], ts: int, night: str
) -> None:
    """One self-contained page whose images are real plots of these numbers, read in a real
    browser."""
    res = run_tare("report", "--out", str(tmp_path / "report"), "--state-dir", str(state))
    assert res.code == 0, res.err
    page = parse_report(tmp_path / "report" / "report.html")
    assert {"overhead-cpu_cgroup", "trend-cpu_cgroup"} <= set(page.images)
    assert len([k for k in page.images if k.startswith("run-")]) == 6
    for image in page.images.values():
        assert image.shape[0] > 100 and image.shape[1] > 300
        assert float(image.std()) > 0.01  # not a blank picture
    plotted = {(r[0], int(r[1])): float(r[2]) for r in page.tables["overhead-cpu_cgroup"]}
    assert plotted[("enforced", 1000)] == pytest.approx(cpu["absolute"], rel=1e-9)
    trend = page.tables["trend-cpu_cgroup"]
    assert [int(r[1]) for r in trend] == [ts]  # the exact value; the text is the night's date
    assert [r[1] for r in page.texts["trend-cpu_cgroup"]] == [night]
    the_report_reads_in_a_browser(tmp_path / "report" / "report.html", tmp_path / "browser")


def the_report_reads_in_a_browser(path: Path, out: Path) -> None:
    import matplotlib.image

    from tests.browser import LAPTOP, open_page

    text = path.read_text()
    assert text.index("<h2>Summary</h2>") < text.index("overhead against connection rate")
    assert "alerts</h3><ul><li>" in text and "threshold" in text  # tonight's breach, first
    shown = re.sub(r'data-value="[^"]*"', "", text)  # exact values are for programs
    assert not re.search(r"\d\.\d{3,}e-\d+", shown)  # no p-value like 4.685e-13 is shown
    opened = open_page(path, out)
    assert opened.errors == [] and opened.undecoded == [], (opened.errors, opened.console)
    assert opened.images >= 10 and opened.width <= LAPTOP[0]
    shot = matplotlib.image.imread(opened.screenshot)
    assert shot.shape[1] == LAPTOP[0] and float(shot.std()) > 0.01


CONNECTIONS_ENFORCED = (("mode", "enforced"), ("rate", 1000), ("policy_size", 1000))


def the_dashboards_show_this_night(
    stack: Stack, state: Path, night_ts: int, no_ci: set[str]
) -> None:
    from tests.dashcheck import not_calibration, problems

    rows = [r for r in runs(state) if r["mode"] == "enforced" and r["status"] == "done"]
    run_id = str(rows[0]["run_id"])
    client = GraphiteClient(stack.render_url)
    (host,) = [n.path.rsplit(".", 1)[-1] for n in client.find(f"tare.runs.{run_id}.*")]
    values = {
        "prefix": "tare",
        "platform": "linux",
        "campaign": "analyzed",
        "mode": "enforced",
        "rate": "1000",
        "policy_size": "1000",
        "run_id": run_id,
        "host": host,
    }
    start, end = night_ts - 3600, int(time.time()) + 3600
    # counters that can stand still: no interval is written
    assert no_ci <= {"conn_rate", "mem_conntrack", "error_pct", "conntrack_drops_per_s"}, no_ci
    # the KPIs of the other load profiles (and a per-packet cost): not measured in this night
    other = {k.name for k in KPIS if k.judged and not measures(k, CONNECTIONS_ENFORCED)}

    def excused(expr: str) -> bool:
        return any(f".{kpi}.ci_" in expr for kpi in no_ci) or any(
            f".{kpi}." in expr for kpi in other
        )

    shape = Shape(factors=("policy_size",))
    checked, failed = problems(
        stack.render_url, values, start, end, not_calibration, excused, shape
    )
    assert checked > 60 and failed == [], failed


def the_night_went_adaptive(log: str, night: dict[str, Any]) -> None:
    assert night["not_valid"] == [] and len(night["regressions"]) == 1 and night["exit"] == 1
    assert night["runs"] == 6  # 2 rounds, then the third the look asked for
    assert "adaptive: rate=1000 policy_size=1000: after 2 round(s) " in log
    assert " short, e.g. " in log and "1 more round(s)" in log
    assert "after 3 round(s) the budget is spent; too noisy tonight" in log
    noisy = [n for n in night["too_noisy"] if n["kpi"] == "cpu_cgroup"]
    assert noisy and noisy[0]["target"] == 0.001 and noisy[0]["cell"]["mode"] == "enforced"


@dataclass
class Report:
    images: dict[str, Any]
    tables: dict[str, list[list[str]]]  # each cell's exact value (data-value), else its text
    texts: dict[str, list[list[str]]]  # each cell as shown


def parse_report(path: Path) -> Report:
    import base64
    import io
    from html.parser import HTMLParser

    import matplotlib.image

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.images: dict[str, Any] = {}
            self.tables: dict[str, list[list[str]]] = {}
            self.texts: dict[str, list[list[str]]] = {}
            self.table: str | None = None
            self.cell: str | None = None
            self.value: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "img":
                src = a["src"] or ""
                assert src.startswith("data:image/png;base64,")  # self-contained
                raw = base64.b64decode(src.split(",", 1)[1])
                assert raw[:8] == b"\x89PNG\r\n\x1a\n"
                self.images[a["id"] or ""] = matplotlib.image.imread(io.BytesIO(raw))
            elif tag == "table":
                self.table = a.get("data-plot")
                if self.table:
                    self.tables[self.table], self.texts[self.table] = [], []
            elif tag == "tr" and self.table:
                self.tables[self.table].append([])
                self.texts[self.table].append([])
            elif tag == "td" and self.table:
                self.cell, self.value = "", a.get("data-value")

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell += data

        def handle_endtag(self, tag: str) -> None:
            if tag == "td" and self.table and self.cell is not None:
                exact = self.value if self.value is not None else self.cell
                self.tables[self.table][-1].append(exact)
                self.texts[self.table][-1].append(self.cell)
                self.cell = None
            elif tag == "table":
                if self.table:
                    self.tables[self.table] = [r for r in self.tables[self.table] if r]
                    self.texts[self.table] = [r for r in self.texts[self.table] if r]
                self.table = None

    parser = Parser()
    parser.feed(path.read_text())
    return Report(parser.images, parser.tables, parser.texts)


@pytest.mark.solo  # its hog burns a whole core for a minute: it is the neighbour
def test_a_run_disturbed_by_an_outside_process_is_left_out_and_run_again(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    conf = campaign(
        tmp_path,
        graphite_stack,
        name="disturbed",
        max_disturbance=20,
        design="reruns_disturbed = 1",
    )
    # a neighbour that burns a whole core, outside the lab's cgroups, for the whole campaign
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        res = run_tare("run", str(conf), "--state-dir", str(tmp_path / "s"), timeout=300)
    finally:
        hog.kill()
        hog.wait()
    assert res.code == 5, res.err  # both runs stayed disturbed after their one re-run
    assert "disturbed: " in res.err and "python" in res.err
    rows = runs(tmp_path / "s")
    assert [r["status"] for r in rows] == ["disturbed", "disturbed"]
    for r in rows:
        m = r["manifest"]
        assert isinstance(m, dict)
        assert m["disturbance_pct"] > 20 and len(m["disturbed_attempts"]) == 1


@LANE_A  # the lanes balanced by duration: the profiles test went solo
def test_every_run_is_probed_before_its_agent_and_cpu_adjusted_by_it(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    """``design.covariate``: each run begins with its own load on the bare workload (before
    any agent step), its CPU KPIs recorded in the manifest; the analysis adjusts the CPU KPIs
    by them (ANCOVA) and says how much that narrowed each interval."""
    conf = campaign(
        tmp_path,
        graphite_stack,
        name="probed",
        modes='["idle"]',
        repeats=3,
        covariate=True,
        workload_cpus=1,  # what this 2-core machine allows: the key's path end to end
    )
    state = tmp_path / "s"
    res = run_tare("run", str(conf), "--state-dir", str(state), timeout=600)
    assert res.code == 0, res.err
    rows = runs(state)
    assert len(rows) == 6 and all(r["status"] == "done" for r in rows)
    for row in rows:
        probe = row["manifest"]["probe"]  # type: ignore[index]
        assert probe["completed"] >= 0.9 and 1.5 <= probe["seconds"] <= 6, probe
        values = probe["values"]
        assert {"cpu_cgroup", "cpu_workload_core", "cpu_all", "spin_ms"} <= set(values)
        assert 0 < values["cpu_cgroup"] < 100 and values["spin_ms"] > 0
        lab = row["manifest"]["lab"]  # type: ignore[index]
        assert (lab["workload_cpus"], lab["load_cpus"]) == ("1", "0")
        nginx_conf = state / "lab" / "runs" / str(row["run_id"]) / "nginx" / "nginx.conf"
        assert "worker_processes 1;" in nginx_conf.read_text()  # one worker per workload core
    res = run_tare("analyze", "--latest", "--json", "--no-write-back", "--state-dir", str(state))
    assert res.code == 0, res.err
    found = {o["kpi"]: o for o in json.loads(res.out)["overheads"]}
    assert found["cpu_cgroup"]["method"] == "welch + covariate"
    assert found["cpu_cgroup"]["narrowed"] > 0
    assert found["mem_cgroup"]["method"] == "welch"  # no probe for memory


@pytest.mark.solo  # h2load flat out on both cores
def test_a_rate_out_of_reach_is_refused_before_any_run(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    """``load.check_rates``: the rate is offered to the bare workload for a few seconds
    first; one the lab cannot offer ends the campaign in one line, exit 5, no run spent."""
    conf = campaign(
        tmp_path,
        graphite_stack,
        name="reach",
        modes='["idle"]',
        rates="[40000]",
        check_rates=True,
    )
    state = tmp_path / "s"
    res = run_tare("run", str(conf), "--state-dir", str(state), timeout=300)
    assert res.code == 5, res.err
    line = next(x for x in res.err.splitlines() if "out of reach" in x)
    assert re.search(r"rate 40000/s is out of reach: this host offers at most \d+ conn/s", line)
    assert "with the load on core(s) 0" in line and "Traceback" not in res.err
    assert "no run was spent" in res.err
    assert runs(state) == []


@pytest.mark.solo  # 10K connections/s: the load's core flat out
def test_an_agent_that_overflows_conntrack_is_measured_in_a_valid_run(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    """With the kernel's defaults (262,144 entries, 120 s in TIME_WAIT) and the load from many
    client addresses, the enforced agent's conntrack table fills after ~26 s at 10K/s and drops
    every new connection: the run is valid, the failed requests and the drops are the agent's
    cost, and the table and the report say so in words."""
    conf = campaign(
        tmp_path, graphite_stack, name="overflow", rates="[10000]", duration=34, clients=254
    )
    state = tmp_path / "s"
    res = run_tare("run", str(conf), "--state-dir", str(state), timeout=400)
    assert res.code == 0, res.err
    rows = {r["mode"]: r for r in runs(state)}
    assert {m: r["status"] for m, r in rows.items()} == {"baseline": "done", "enforced": "done"}
    base, enforced = (rows[m]["manifest"]["load"] for m in ("baseline", "enforced"))  # type: ignore[index]
    assert base["error_pct"] == 0 and enforced["error_pct"] > 5, enforced
    lab = rows["enforced"]["manifest"]["lab"]  # type: ignore[index]
    assert lab["sysctls"]["workload:net.netfilter.nf_conntrack_max"] == "262144"
    res = run_tare("analyze", "--latest", "--no-write-back", "--state-dir", str(state))
    assert res.code == 0, res.err
    conntrack = next(x for x in res.out.splitlines() if x.startswith("conntrack: "))
    assert re.search(r"enforced rate=10000 .*: the table full for \d+ s of each run", conntrack)
    assert "packets dropped a second" in conntrack
    assert any(x.startswith("failed requests: enforced rate=10000") for x in res.out.splitlines())
    res = run_tare("analyze", "--latest", "--json", "--no-write-back", "--state-dir", str(state))
    found = {o["kpi"]: o for o in json.loads(res.out)["overheads"]}
    assert found["conntrack_drops_per_s"]["contender_mean"] > 100
    assert found["mem_conntrack"]["contender_mean"] > 20  # filling to 262,144 entries
    assert found["cpu_cgroup"]["like_for_like"] is False
    assert found["latency_p99_ms"]["like_for_like"] is True
