"""A campaign collected by collectd whose daemon stalls mid-run (the seconds that never reached
tare counted, the run invalid beyond the allowed missing seconds) or is killed (restarted;
killed once more than the restarts allowed, the run fails with collectd's last words); the
campaign goes on either way. A hung collectd is killed and started again."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from collectors import collectd as collectd_bin
from collectors.collect import CollectOptions, render_collectd
from collectors.collectd_conf import GraphiteTarget, RunConfig, render_run_config
from collectors.collectd_run import READY, CollectdRun
from collectors.relay import Relay
from collectors.sampler import Targets
from collectors.sender import CarbonSender
from collectors.series import render_types_db
from contracts.addresses import CarbonAddress
from tests.conftest import ROOT, Stack, run_tare, stop
from tests.lab import LANE_A, campaign, in_steady_window, runs
from tests.poll import wait_for
from tests.sandbox import is_root

pytestmark = [
    pytest.mark.skipif(not is_root(), reason="the namespaces lab needs root"),
    pytest.mark.skipif(collectd_bin.binary() is None, reason="collectd not installed"),
    LANE_A,
]


STALL_S = 3  # how long collectd is stopped mid-run: 2-5 seconds missed, judged below


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
        wait_for(lambda: in_steady_window(state, 1), timeout_s=60, what="run 1's load")
        first.send_signal(signal.SIGSTOP)  # stalled, not dead: nothing written for STALL_S
        time.sleep(STALL_S)
        first.send_signal(signal.SIGCONT)
        second = daemon(state, 2, 1)
        wait_for(lambda: in_steady_window(state, 2), timeout_s=60, what="run 2's load")
        second.send_signal(signal.SIGKILL)
        daemon(state, 2, 2).send_signal(signal.SIGKILL)  # the one restart allowed, killed too
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:  # a failed step above: torn down as a user would stop it
            stop(proc, state)
    assert proc.returncode == 5, err  # runs not valid
    assert json.loads(out)["ran"] == 2
    baseline, enforced = runs(state)
    assert baseline["status"] == "invalid", baseline
    reason = str(baseline["reason"])
    assert reason.startswith("collector gap: collectd missed "), reason
    assert reason.endswith(" s of the steady window (at most 0 allowed)"), reason
    report = baseline["manifest"]["collection"][0]  # type: ignore[index]
    assert 2 <= report["missing_s"] <= 5, report
    assert enforced["status"] == "failed", enforced
    assert enforced["reason"] == (
        "collector: collectd was killed by SIGKILL: no error in its log "
        "(after 1 restart(s) in this run)"
    )
    notes = enforced["manifest"]["collection"][0]["notes"]  # type: ignore[index]
    assert notes == ["collectd was killed by SIGKILL: no error in its log; restarted"]
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


def test_a_hung_collectd_is_killed_and_started_again(tmp_path: Path) -> None:
    exe = collectd_bin.require_binary()
    nowhere = CarbonAddress("127.0.0.1", 9)  # nothing listens: the relay spools
    relay = Relay(
        CarbonSender(nowhere, tmp_path / "spool"), "tare.runs.hang.h.tare.cpu_all.busy_pct"
    )
    opts = CollectOptions(
        "hang", None, CarbonAddress("127.0.0.1", relay.port), "tare", "h", Targets(), tmp_path
    )
    conf = render_collectd(opts)
    run = CollectdRun(exe, conf, conf.parent / "collectd.log", "tare", relay, hang_s=3)
    run.start()
    try:
        assert run.failure() is None
        first = run.lives[0].proc
        wait_for(lambda: relay.seconds, timeout_s=10, what="collectd writing")
        first.send_signal(signal.SIGSTOP)
        wait_for(lambda: len(run.lives) == 2 and run.lives[1].ready, timeout_s=20, what="restart")
        assert first.returncode == -signal.SIGKILL
        assert re.fullmatch(r"collectd wrote nothing for [3-9] s \(hung\); killed", run.notes[0])
        before = len(relay.seconds)
        wait_for(lambda: len(relay.seconds) > before, timeout_s=10, what="the new one writing")
    finally:
        run.stop()
    assert run.failure() is None
