"""The workload owns its port: a port already held is refused before the workload starts, and a
port that answers for another process than the workload fails the run naming the holder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.ports import descendants, parse_ss
from tests.conftest import Stack, free_ports, run_tare
from tests.lab import campaign, netns_list, runs
from tests.poll import wait_for
from tests.sandbox import is_root

pytestmark = pytest.mark.skipif(not is_root(), reason="the namespaces lab needs root")


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_parse_ss_names_every_owner() -> None:
    text = 'LISTEN 0 511 0.0.0.0:8080 0.0.0.0:* users:(("nginx",pid=12,fd=6),("nginx",pid=11,fd=6))'
    assert [(h.process, h.pid) for h in parse_ss(text)] == [("nginx", 12), ("nginx", 11)]


def test_descendants_of_this_process_include_its_children() -> None:
    child = subprocess.Popen(["sleep", "5"])
    try:
        assert {os.getpid(), child.pid} <= descendants(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_a_busy_port_is_refused_naming_its_holder(graphite_stack: Stack, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: listening(port), timeout_s=15, what=f"the other server on port {port}")
        conf = campaign(tmp_path, graphite_stack, name="busyport", modes='["idle"]')
        conf.write_text(conf.read_text().replace("port = 8080", f"port = {port}"))
        res = run_tare(
            "run", str(conf), "--lab", "loopback", "--state-dir", str(tmp_path / "s"), timeout=120
        )
    finally:
        other.kill()
        other.wait()
    assert res.code == 5, res.err
    assert f"port {port} in the workload's namespace is already held by" in res.err
    assert f"(pid {other.pid})" in res.err and "Traceback" not in res.err


def test_a_port_answered_by_another_process_fails_the_run(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    # the "workload" starts a detached listener (not its descendant) and sleeps
    detached = (
        '["sh", "-c", "setsid -f python3 -m http.server {port} --bind {workload_addr} '
        '>/dev/null 2>&1; exec sleep 60"]'
    )
    conf = campaign(tmp_path, graphite_stack, name="notours", modes='["idle"]', workload=detached)
    state = tmp_path / "s"
    res = run_tare("run", str(conf), "--state-dir", str(state), timeout=120)
    assert res.code == 5, res.err
    assert "port 8080 answered, but it is held by python3 (pid" in res.err
    assert "not by the workload (pid" in res.err
    # its labs torn down (other tests' labs may be up beside it)
    assert not list((state / "lab" / "records").glob("*.json"))
    ids = {
        str(r["manifest"]["lab"]["id"])  # type: ignore[index]
        for r in runs(state)
        if isinstance(r["manifest"], dict) and isinstance(r["manifest"].get("lab"), dict)
    }
    assert not [n for n in netns_list().splitlines() if any(i in n for i in ids)]
    stray = subprocess.run(
        ["pgrep", "-f", "http.server 8080"], capture_output=True, text=True, check=False
    )
    assert stray.stdout.strip() == ""
