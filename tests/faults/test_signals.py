"""SIGTERM and SIGHUP stop a campaign as SIGINT does: the lab torn down, the run interrupted,
exit 130, resumable; a second campaign on the machine is refused while one runs."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Stack, run_tare, stop
from tests.lab import LANE_A, campaign, in_steady_window, netns_list, run_status, runs
from tests.poll import wait_for
from tests.sandbox import is_root

pytestmark = [pytest.mark.skipif(not is_root(), reason="the namespaces lab needs root"), LANE_A]


def _start(conf: Path, state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tare", "run", str(conf), "--state-dir", str(state)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _running(state: Path, seq: int) -> bool:
    return run_status(state, seq) == "running"


def _labs_up(state: Path) -> set[str]:
    """The labs of this campaign up now: their records (read without a process, which the
    disturbance check would see)."""
    return {p.stem for p in (state / "lab" / "records").glob("*.json")}


def _lab_ids(state: Path) -> set[str]:
    """The labs of this campaign: those up now and those its runs recorded."""
    ids = _labs_up(state)
    if (state / "ledger.db").exists():
        for row in runs(state):
            lab = row["manifest"].get("lab") if isinstance(row["manifest"], dict) else None
            if isinstance(lab, dict) and lab.get("id"):
                ids.add(str(lab["id"]))
    return ids


def _leftovers(state: Path, lab_ids: set[str]) -> list[str]:
    """Namespaces, processes and nft tables of this campaign's labs still alive (another lab
    test may run beside this one: its labs are not this test's)."""
    found = [
        line
        for line in netns_list().splitlines()
        if any(line.startswith((f"tare-w-{i}", f"tare-l-{i}")) for i in lab_ids)
    ]
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=False)
    found += [
        line.strip()
        for line in ps.stdout.splitlines()
        if str(state) in line  # every process of its labs: h2load's log is under it too
        and "ps -eo" not in line
        and "<defunct>" not in line  # an exited child of a killed tare, until init reaps it
    ]
    nft = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False)
    found += [line for line in nft.stdout.splitlines() if "tare" in line]
    return found


@pytest.mark.parametrize(
    "sig",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
    ids=lambda s: signal.Signals(s).name,
)
def test_a_stopped_campaign_leaves_no_lab_and_resumes_only_the_interrupted_run(
    graphite_stack: Stack, tmp_path: Path, sig: signal.Signals
) -> None:
    """SIGINT, SIGTERM and SIGHUP: torn down, `interrupted`, exit 130. SIGKILL cannot be
    caught: `tare lab down` removes what is left. Either way `--resume` runs the rest (checked
    for SIGTERM and SIGKILL; the resume path is the same for every stop)."""
    conf = campaign(tmp_path, graphite_stack, name=f"sig{sig.name.lower()}")
    state = tmp_path / "state"
    proc = _start(conf, state)
    try:
        # the agent is up and the load is running
        wait_for(lambda: _running(state, 2), timeout_s=120, what="the agent's run to start")
        wait_for(lambda: in_steady_window(state, 2), timeout_s=60, what="run 2's load")
        labs = _labs_up(state)  # run 2's lab
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # a failed step above: torn down as a user would stop it
            stop(proc, state)
    before = {int(str(r["seq"])): r for r in runs(state)}
    if sig is signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        assert before[2]["status"] == "running" and _leftovers(state, labs)
        down = run_tare("lab", "down", "--state-dir", str(state))
        assert down.code == 0 and "lab: removed" in down.out, down.err
    else:
        assert proc.returncode == 130, err
        assert f"interrupted ({sig.name})" in err and "Traceback" not in err
        assert before[2]["status"] == "interrupted"
    assert before[1]["status"] == "done"
    assert not list((state / "lab" / "records").glob("*.json"))
    assert _leftovers(state, labs) == []
    if sig not in (signal.SIGTERM, signal.SIGKILL):
        return
    res = run_tare("run", str(conf), "--resume", "--state-dir", str(state), timeout=300)
    assert res.code == 0, res.err
    after = {int(str(r["seq"])): r for r in runs(state)}
    assert [after[k]["status"] for k in sorted(after)] == ["done", "done"]
    assert after[1]["started"] == before[1]["started"]  # not repeated
    assert _leftovers(state, labs | _lab_ids(state)) == []


def test_a_second_campaign_on_the_machine_is_refused_naming_the_first(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    first = campaign(tmp_path, graphite_stack, name="holder")
    second = campaign(tmp_path, graphite_stack, name="second")
    state_a, state_b = tmp_path / "a", tmp_path / "b"
    proc = _start(first, state_a)
    try:
        wait_for(lambda: _running(state_a, 1), timeout_s=60, what="the first campaign to run")
        labs = wait_for(lambda: _labs_up(state_a), timeout_s=60, what="the first campaign's lab")
        res = run_tare("run", str(second), "--state-dir", str(state_b))
        assert res.code == 4, res.err
        assert f"the lab is in use by pid {proc.pid} (tare run, campaign holder" in res.err
        assert str(state_a.resolve()) in res.err
        down = run_tare("lab", "down", "--state-dir", str(state_b))
        assert down.code == 4 and "--force" in down.err, down.err
        assert not (state_b / "ledger.db").exists()  # refused before it touched anything
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert _leftovers(state_a, labs | _lab_ids(state_a)) == []
