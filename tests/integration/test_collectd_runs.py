"""A campaign collected by collectd whose daemon is killed mid-run: restarted, the gap counted
and the run invalid beyond the allowed missing seconds; killed once more than the restarts
allowed, the run fails with collectd's last words; the campaign goes on either way."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from collectors import collectd as collectd_bin
from collectors.collectd_conf import GraphiteTarget, RunConfig, render_run_config
from collectors.collectd_run import READY
from collectors.series import render_types_db
from tests.conftest import ROOT, Stack, run_tare
from tests.lab import campaign, runs
from tests.poll import wait_for
from tests.sandbox import is_root

pytestmark = [
    pytest.mark.skipif(not is_root(), reason="the namespaces lab needs root"),
    pytest.mark.skipif(collectd_bin.binary() is None, reason="collectd not installed"),
]


def daemon(state: Path, seq: int, lives: int) -> psutil.Process:
    """The run's collectd once it has started reading ``lives`` times in that run."""

    def find() -> psutil.Process | None:
        logs = list((state / "collectd").glob(f"run-*-{seq:03d}-*/collectd.log"))
        if not logs or logs[0].read_text(errors="replace").count(READY) < lives:
            return None
        conf = str(logs[0].parent / "collectd.conf")
        for p in psutil.process_iter(["name", "cmdline"]):
            if p.info["name"] == "collectd" and conf in (p.info["cmdline"] or []):
                return p
        return None

    return wait_for(find, timeout_s=60, what=f"run {seq}'s collectd ({lives})")


def test_a_killed_collectd_is_restarted_counted_and_judged(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    conf = campaign(
        tmp_path,
        graphite_stack,
        name="cdkill",
        collect='collector = "collectd"\nmax_missing_s = 0\nmax_restarts = 1',
    )
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tare", "run", str(conf), "--state-dir", str(state), "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = daemon(state, 1, 1)
        time.sleep(3)  # into the load's steady window
        first.send_signal(signal.SIGKILL)
        second = daemon(state, 2, 1)
        time.sleep(3)
        second.send_signal(signal.SIGKILL)
        daemon(state, 2, 2).send_signal(signal.SIGKILL)  # the one restart allowed, killed too
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 5, err  # runs not valid
    assert json.loads(out)["ran"] == 2
    baseline, enforced = runs(state)
    assert baseline["status"] == "invalid", baseline
    reason = str(baseline["reason"])
    assert reason.startswith("collector gap: collectd missed "), reason
    assert "of the steady window (at most 0 allowed): collectd was killed by SIGKILL" in reason
    report = baseline["manifest"]["collection"][0]  # type: ignore[index]
    assert 1 <= report["missing_s"] <= 5 and "restarted" in report["notes"][0]
    assert enforced["status"] == "failed", enforced
    assert str(enforced["reason"]).startswith("collector: collectd was killed by SIGKILL: ")
    assert str(enforced["reason"]).endswith("(after 1 restart(s) in this run)")
    left = [
        p.pid
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "collectd" and str(state) in " ".join(p.info["cmdline"] or [])
    ]
    assert not left


def test_no_collectd_refuses_the_campaign_before_any_run(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    conf = campaign(tmp_path, graphite_stack, name="nocd", collect='collector = "collectd"')
    state = tmp_path / "state"
    env = {collectd_bin.ENV: str(tmp_path / "nowhere" / "collectd")}
    res = run_tare("run", str(conf), "--state-dir", str(state), env=env, timeout=60)
    assert res.code == 4, res.err
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and "collectd is not installed" in lines[0], lines
    assert "apt-get install collectd-core" in lines[0] and "Traceback" not in res.err
    assert not (state / "ledger.db").exists() or not runs(state)


def test_a_plugin_that_cannot_be_imported_is_caught_by_the_config_check(tmp_path: Path) -> None:
    """What ``tare run`` checks before the first run: collectd -T with tare's plugin."""
    exe = collectd_bin.require_binary()
    (tmp_path / "types.db").write_text(render_types_db())
    cfg = RunConfig(
        hostname="h",
        interval_s=1,
        base_dir=tmp_path,
        log_file=tmp_path / "collectd.log",
        target=GraphiteTarget("127.0.0.1", 9, "x."),
        module_path=tmp_path / "empty",  # no collectors package here
        types_db=tmp_path / "types.db",
    )
    conf = tmp_path / "collectd.conf"
    conf.write_text(render_run_config(cfg))
    with pytest.raises(collectd_bin.CollectdUnavailable) as info:
        collectd_bin.preflight(exe, conf, cfg.log_file)
    assert "No module named 'collectors'" in str(info.value)
    assert str(conf) in str(info.value)
