"""``tare calibrate`` end to end: nginx and h2load in a namespaces lab, the ballast agent in the
workload's cgroup pinned to its core; the A/A test and the ballast recovered within their
margins, through the estimator ``tare analyze`` uses, and the exit code 0."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import Stack, run_tare
from tests.dashcheck import calibration, problems
from tests.poll import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.solo,  # it measures: a neighbour would move what it judges
    pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and cgroups need root"),
]


def test_a_known_ballast_is_recovered_and_the_aa_test_passes(graphite_stack: Stack) -> None:
    args = [
        "calibrate",
        "--rate",
        "1000",
        "--cpu-percent",
        "20",
        # without a covariate the workload core's floor at 1K/s here is ~2-3 points of a core
        # for 5 rounds of 20 s (docs/precision.md): judged within +-max(3, 20 %) = +-4
        "--cpu-margin",
        "3",
        "--memory-mb",
        "96",
        # 5 rounds of A, B, A2 as before (the noise is between runs: the rounds are what
        # narrows the CIs), each run 16 s instead of 20 (9 s of steady window after 5 s of
        # warm-up and 2 of cool-down). Fewer rounds did not hold the margins on this 2-core VM:
        # 3 rounds of 14 s gave the workload core's CI +-2.2 once, 4 rounds +-5.3 in another
        # run, past the +-4 allowed (docs/testing.md)
        "--budget-s",
        "160",
        "--run-s",
        "16",
        # a CI VM's neighbours steal 5-10 points of a core now and then (the product's default
        # limit is 5): this test is about recovering the ballast, not about the machine
        "--max-disturbance",
        "15",
        # each run's probe before the agent: 2 s (the product's 4) keeps the suite's time
        "--probe-s",
        "2",
        "--json",
    ]
    env = {
        "TARE_STATE_DIR": str(graphite_stack.state_dir),
        "TARE_WEB_PORT": graphite_stack.render_url.rsplit(":", 1)[1],
        "TARE_CARBON_PORT": str(graphite_stack.carbon_port),
    }
    res = run_tare(*args, env=env, timeout=900)
    assert res.code == 0, res.err  # a good lab calibrates; a failed one exits 5 naming the KPI
    out = json.loads(res.out)
    assert out["ok"] and out["problems"] == []
    assert out["injected"] == {"cpu_percent": 20.0, "memory_mb": 96.0}
    assert [r["group"] for r in out["runs"]][:3] == ["A", "B", "A2"]
    assert "rate 1000/s offered" in res.err  # the rate, checked before the first run
    probes = [r["probe"] for r in out["runs"] if r["status"] == "done"]
    assert all({"cpu_cgroup", "cpu_workload_core"} <= set(p) for p in probes), probes
    # at least min_rounds (3) rounds of A, B, A2. On a shared VM a run can be disturbed by a
    # neighbour (run again; left out naming what took the CPU when every attempt was) or fall
    # short of its load (invalid, naming why): either is left out, never failed
    assert len(out["runs"]) >= 9 and out["rounds"] >= 3
    told = "\n".join(f"{r['run_id']} {r['status']}: {r['reason']}" for r in out["runs"])
    assert {r["status"] for r in out["runs"]} <= {"done", "disturbed", "invalid"}, told
    assert all(r["reason"] for r in out["runs"] if r["status"] != "done"), told
    assert sum(r["status"] == "done" for r in out["runs"]) >= 6, told
    by_kpi = {b["kpi"]: b for b in out["ballast"]}
    for kpi, injected in (("cpu_cgroup", 20.0), ("cpu_workload_core", 20.0), ("mem_cgroup", 96.0)):
        b = by_kpi[kpi]
        assert b["judged"] and b["injected"] == injected and b["problems"] == []
        rec = b["recovered"]
        assert injected - b["margin"] <= rec["ci_low"] <= rec["ci_high"] <= injected + b["margin"]
        # CPU adjusted by each run's probe before the agent (the default); memory has no probe
        method = "welch" if kpi == "mem_cgroup" else "welch + covariate"
        assert rec["method"] == method and rec["n_baseline_runs"] >= 2
    assert {a["kpi"] for a in out["aa"]} == {"cpu_cgroup", "cpu_workload_core", "mem_cgroup"}
    assert all(a["noise_floor_mde"] > 0 and a["problems"] == [] for a in out["aa"])
    assert "calibration points written to Graphite" in res.err
    the_lab_health_dashboard_shows_it(graphite_stack)


def the_lab_health_dashboard_shows_it(stack: Stack) -> None:
    """The noise floor on the lab-health dashboard's calibration panels (tests/dashcheck.py; the
    other panels are proven on a real night in test_harness)."""
    now = int(time.time())
    values = {"prefix": "tare", "kpi": "*"}

    def check() -> tuple[int, list[str]]:
        return problems(stack.render_url, values, now - 7200, now + 3600, calibration)

    def shown() -> bool | None:
        checked, failed = check()
        return True if checked >= 3 and not failed else None

    try:
        wait_for(shown, timeout_s=30, what="the calibration on the lab-health panels")
    except AssertionError:
        raise AssertionError(check()) from None
