"""The three load profiles and policy churn in one real campaign (namespaces lab, nginx, h2load,
the reference agent, Graphite): every run's achieved load checked in its own unit, and the
analysis reporting the network KPIs and the per-packet CPU cost with between-run intervals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Stack, run_tare
from tests.lab import MIN_RATIO, campaign, runs
from tests.sandbox import is_root

pytestmark = [
    pytest.mark.skipif(not is_root(), reason="the namespaces lab needs root"),
    # alone: its 14 runs each judged, it was the one test whose 500/s generator fell short
    # (474, 460, 437 conn/s) in three suites in a row beside the other lane (docs/testing.md)
    pytest.mark.solo,
]

# 14 runs, each one's achieved load judged, beside other tests (the shared tier): at 1K/s a
# generator once fell short there (979 conn/s), so the rates leave the generator room. What this
# checks is each profile's own mechanics, not the machine's capacity.
MBIT = 100
RATE = 500


def test_profiles_and_policy_churn_run_and_are_analysed(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    conf = campaign(
        tmp_path,
        graphite_stack,
        name="profiles",
        rates=f"[{RATE}]",
        repeats=2,
        load=(
            'profile = ["connections", "requests", "throughput"]\n'
            "[load.requests]\nconnections = 20\n"
            f"[load.throughput]\nmbit_per_s = {MBIT}\nbody_kib = 512\nconnections = 2"
        ),
        kind="one-factor-at-a-time",
        design='reference = { profile = "connections", policy_updates_per_min = 0 }',
        factors="policy_updates_per_min = [0, 120]",
        install='"--updates-per-min", "{policy_updates_per_min}", "--churn", "0.2"',
    )
    state = tmp_path / "state"
    plan = run_tare("plan", str(conf), "--json", "--state-dir", str(state))
    assert plan.code == 0, plan.err
    loads = {r["load"] for r in json.loads(plan.out)["runs"]}
    assert loads == {f"{RATE} conn/s", f"requests {RATE} req/s", f"throughput {MBIT} Mbit/s"}
    res = run_tare("run", str(conf), "--state-dir", str(state), timeout=600)
    assert res.code == 0, res.err
    rows = runs(state)
    assert len(rows) == 14 and all(r["status"] == "done" for r in rows), rows
    for row in rows:
        manifest = row["manifest"]
        assert isinstance(manifest, dict)
        levels, load = dict(manifest["levels"]), manifest["load"]
        profile = levels["profile"]
        assert load["profile"] == profile
        target = MBIT if profile == "throughput" else RATE
        assert load["target_rate"] == target
        # achieved by h2load, and by the workload namespace's own counters (at the test
        # campaigns' ratio: a 500/s generator fell to 460 beside the shared tier's tests)
        assert load["achieved_rate"] >= MIN_RATIO * target, row
        assert load["server_rate"] >= MIN_RATIO * target, row
        assert load["retransmits"] is not None and load["error_pct"] <= 0.5
        if profile != "connections":
            assert load["server_accept_rate"] is None
    res = run_tare("analyze", "--latest", "--json", "--no-write-back", "--state-dir", str(state))
    assert res.code == 0, res.err
    found = json.loads(res.out)
    assert found["absent_series"] == {}, found["absent_series"]
    by: dict[tuple[str, int, str], dict[str, Any]] = {
        (o["profile"], int(o["policy_updates_per_min"]), o["kpi"]): o for o in found["overheads"]
    }
    # every profile: the network KPIs with a between-run interval (2 runs a side)
    for profile in ("connections", "requests", "throughput"):
        mb = by[(profile, 0, "net_mb_per_s")]
        assert mb["method"] == "welch" and mb["ci_low"] <= mb["ci_high"], mb
        assert mb["baseline_mean"] > 0
        assert (profile, 0, "tcp_ksegs") in by
    # each profile's own rate KPI, and no other's
    assert (("connections", 0, "conn_rate") in by) and (("requests", 0, "req_rate") in by)
    assert ("throughput", 0, "bulk_rate") in by and ("throughput", 0, "conn_rate") not in by
    assert ("connections", 0, "req_rate") not in by
    # the throughput profile moves what it says: ~MBIT Mbit/s of bodies, and its per-packet cost
    bulk = by[("throughput", 0, "net_mb_per_s")]
    assert bulk["baseline_mean"] * 8 * 2**20 / 1e6 >= MIN_RATIO * MBIT
    per_packet = by[("throughput", 0, "cpu_per_100kpps")]
    assert per_packet["method"] == "welch" and per_packet["baseline_mean"] > 0, per_packet
    assert ("requests", 0, "cpu_per_100kpps") not in by
    # policy churn: the agent's own CPU against an absent agent (0), with an interval
    churn = by[("connections", 120, "cpu_agent")]
    assert churn["baseline_mean"] == 0 and churn["contender_mean"] > 0
    assert churn["method"] == "welch"
    assert ("connections", 120, "error_pct") in by
    text = run_tare("analyze", "--latest", "--no-write-back", "--state-dir", str(state)).out
    assert "load rate (%)" in text and "cpu_per_100kpps" in text and "profile=throughput" in text
