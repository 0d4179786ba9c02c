"""A small real campaign for the lab tests (namespaces, nginx, h2load, the reference agent)
and what they read back: the ledger through ``tare runs list``, the namespaces left."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Stack, run_tare

# The shared tier's lab campaigns whose verdict needs every run's load valid take one of two
# lanes (an xdist group each: a lane's tests run one after another on one worker), so at most
# two such campaigns load the machine's two cores at once, beside the tier's other tests. Four
# at once left a 500/s generator 8 % short (458 conn/s, an invalid run) on 2026-12-07. The
# lanes are balanced by the tests' durations (docs/testing.md).
LANE_A = pytest.mark.xdist_group("lab-lane-a")
LANE_B = pytest.mark.xdist_group("lab-lane-b")
# the share of its target a test campaign's run must reach (``campaign``'s min_ratio)
MIN_RATIO = 0.9


def campaign(
    tmp_path: Path,
    stack: Stack,
    *,
    name: str = "itest",
    modes: str = '["enforced"]',
    # 500/s: the lab campaigns of the shared tier run beside three other tests, and their subject
    # is the lab's mechanics, not a rate. At 1K/s generators fell 4-6 % short there (942-979
    # conn/s, an invalid run) while a neighbour was busy; the solo tier's night runs at 1K/s
    rates: str = "[500]",
    duration: int = 12,  # the smallest run a campaign allows: 10 s of steady window
    repeats: int = 1,
    workload: str | None = None,
    ready_timeout: float = 15,
    collect: str = "",  # the [collect] table's lines
    extra: str = "",  # more tables at the end
    design: str = "",  # more lines of the [design] table
    # CPU outside the lab a run may see before it is `disturbed`: off (measured, recorded,
    # never a reason to leave a run out). These tests are about the lab, not about the machine,
    # and they run beside other tests (tests/conftest.py) whose labs, servers and reaped
    # children all count as outside this one (100-460 points of a core measured so); a CI VM's
    # neighbours steal 5-10 besides. The disturbance check has its own test (test_harness),
    # with its own limit
    max_disturbance: float | str = "off",
    # the product's default: a baseline run failing more of its requests (in %) is invalid; a
    # contender's failed requests are the agent's measured cost (docs/harness.md)
    max_error_pct: float = 0.5,
    load: str = "",  # more lines of the [load] table
    factors: str = "",  # more lines of the [factors] table
    install: str = "",  # more arguments of agent.install (TOML strings, comma-separated)
    kind: str = "full",  # design.kind
    refagent: str = "tare-refagent",  # the reference agent's command (a path on another host)
    # the product checks every rate before the night and probes every run before its agent;
    # off here (each costs seconds a run or a campaign, and these tests are about the lab),
    # on in the tests of their own (test_harness)
    check_rates: bool = False,
    covariate: bool = False,
    probe_s: int = 2,
    # the load's client addresses: one in the shared tier's lab campaigns (their subject is the
    # lab's mechanics; 254 addresses' source NAT on the generators' shared core was the main
    # suspect when their 500/s generators lagged beside their neighbours, 2026-12-07); the
    # product's 254 in the shared night and the overflow test
    clients: int = 1,
    workload_cpus: int | None = None,  # [workload] cpus; unset: the product's default
    # the share of the target a run must reach: 0.9 here, the product's 0.98 where a test judges
    # the load itself. These campaigns' subject is the lab's mechanics, and beside the shared
    # tier's other tests a 500/s generator still fell 5 % short now and then (474 conn/s in one
    # run of 14, 2026-12-07, two lab lanes); what min_achieved_ratio does is tested by the
    # solo tier's unreachable rate and the unit tests of `harness.load.judge`
    min_ratio: float = MIN_RATIO,
) -> Path:
    workload = workload or (
        '["nginx", "-p", "{lab_dir}/nginx", "-c", "{lab_dir}/nginx/nginx.conf", '
        '"-g", "daemon off;"]'
    )
    agent = f'"{refagent}", "{{verb}}", "--state-dir", "{{lab_dir}}/refagent"'
    text = f"""
[campaign]
name = "{name}"
[graphite]
render_url = "{stack.render_url}"
carbon = "{stack.carbon_host}:{stack.carbon_port}"
[workload]
command = {workload}
port = 8080
ready_timeout_s = {ready_timeout}
{f"cpus = {workload_cpus}" if workload_cpus is not None else ""}
[agent]
name = "refagent"
process = "tare-refagent"
modes = {modes}
install = [{agent.replace("{verb}", "install")}, "--policy-size", "{{policy_size}}",
           "--allow", "{{load_net}}", "--port", "{{port}}"{", " + install if install else ""}]
uninstall = [{agent.replace("{verb}", "uninstall")}]
set_mode = ["{refagent}", "mode", "{{mode}}", "--state-dir", "{{lab_dir}}/refagent"]
start = [{agent.replace("{verb}", "start")}]
stop = [{agent.replace("{verb}", "stop")}]
health = [{agent.replace("{verb}", "status")}]
version = ["{refagent}", "--version"]
[load]
rates = {rates}
duration_s = {duration}
warmup_s = 1
cooldown_s = 1
run_timeout_s = 120
max_disturbance_pct = {json.dumps(max_disturbance)}
max_error_pct = {max_error_pct:g}
min_achieved_ratio = {min_ratio:g}
check_rates = {str(check_rates).lower()}
{load}
[design]
kind = "{kind}"
repeats = {repeats}
covariate = {str(covariate).lower()}
probe_s = {probe_s}
{design}
[factors]
policy_size = [1000]
{factors}
[collect]
{collect}
[lab]
clients = {clients}
{extra}
"""
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    calm()
    return path


def calm(max_busy_pct: float = 120.0, timeout_s: float = 20.0) -> None:
    """Wait (up to ``timeout_s``) for a second in which the machine's cores were busy less than
    ``max_busy_pct`` points in all (of 100 per core): a lab campaign started beside other tests
    then does not open in the burst of their servers starting, where a 1K/s generator was seen
    to fall short of its rate (979 conn/s). Whatever the machine does after, the campaign's
    runs say so themselves."""

    def busy_idle() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, idle

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        b0, i0 = busy_idle()
        time.sleep(1.0)
        b1, i1 = busy_idle()
        total = (b1 - b0) + (i1 - i0)
        cores = os.cpu_count() or 1
        if total and 100.0 * cores * (b1 - b0) / total < max_busy_pct:
            return


def netns_list() -> str:
    return subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=False
    ).stdout


def runs(state: Path) -> list[dict[str, object]]:
    res = run_tare("runs", "list", "--json", "--state-dir", str(state))
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert isinstance(data["runs"], list)
    return data["runs"]


def run_status(state: Path, seq: int) -> str | None:
    """One run's status read straight from the ledger (cheap enough to poll during a run, unlike
    a `tare runs list` process, which the disturbance check would see)."""
    path = state / "ledger.db"
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute(
                "SELECT status FROM runs WHERE seq=? ORDER BY rowid DESC LIMIT 1", (seq,)
            ).fetchone()
    except sqlite3.OperationalError:
        return None
    return str(row[0]) if row else None


def in_steady_window(state: Path, seq: int, warmup_s: float = 1.0) -> bool:
    """Run ``seq`` is past its load's warm-up: h2load has logged its first request (its log is
    the run's ``load.log``) at least ``warmup_s`` ago. Polled, where a test must act mid-load."""
    for log in (state / "lab" / "runs").glob(f"*-{seq:03d}-*/load.log"):
        try:
            with log.open() as f:
                first = f.readline().split("\t", 1)[0]
        except OSError:
            continue
        if first.isdigit():
            return time.time() >= int(first) / 1e6 + warmup_s + 0.5
    return False
