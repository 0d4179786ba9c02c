"""The calibration ballast: the agent lifecycle, and the CPU share and memory it holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.poll import wait_for

BALLAST = [sys.executable, "-m", "harness.ballast"]


def ballast(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BALLAST, *args], capture_output=True, text=True, timeout=60, check=False
    )


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def anon_mb(pid: int) -> float:
    """What a cgroup is charged for the process: anonymous memory and page tables."""
    kb = {
        line.split(":")[0]: int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith(("RssAnon:", "VmPTE:"))
    }
    return (kb["RssAnon"] + kb["VmPTE"]) / 1024


def test_lifecycle_and_what_it_holds(tmp_path: Path) -> None:
    state = tmp_path / "ballast"
    assert ballast("status", "--state-dir", str(state)).returncode == 1
    assert (
        ballast(
            "install", "--state-dir", str(state), "--cpu-percent", "10", "--memory-mb", "48"
        ).returncode
        == 0
    )
    assert ballast("mode", "ballast", "--state-dir", str(state)).returncode == 0
    assert ballast("start", "--state-dir", str(state)).returncode == 0, "not ready"
    try:
        pid = int((state / "ballast.pid").read_text())
        assert ballast("start", "--state-dir", str(state)).returncode == 0  # idempotent
        assert int((state / "ballast.pid").read_text()) == pid
        assert anon_mb(pid) == pytest.approx(48.0, abs=0.3)
        hz = os.sysconf("SC_CLK_TCK")
        t0, c0 = time.monotonic(), cpu_ticks(pid)
        time.sleep(4.0)  # a measuring window, not a wait for readiness
        share = (cpu_ticks(pid) - c0) / hz / (time.monotonic() - t0) * 100
        assert share == pytest.approx(10.0, abs=2.0)
        info = json.loads(ballast("status", "--state-dir", str(state), "--json").stdout)
        assert info["running"] and info["anon_mb"] == pytest.approx(48.0, abs=1.0)
        wait_for(
            lambda: json.loads(ballast("status", "--state-dir", str(state), "--json").stdout)[
                "cpu_share_pct"
            ],
            what="a CPU report",
        )
    finally:
        assert ballast("stop", "--state-dir", str(state)).returncode == 0
    assert ballast("status", "--state-dir", str(state)).returncode == 1
    assert ballast("uninstall", "--state-dir", str(state)).returncode == 0
    assert not (state / "config.json").exists()


def test_bad_sizes_and_missing_install_are_refused(tmp_path: Path) -> None:
    res = ballast(
        "install", "--state-dir", str(tmp_path), "--cpu-percent", "150", "--memory-mb", "1"
    )
    assert res.returncode == 2 and "--cpu-percent must be within 0..100" in res.stderr
    res = ballast("start", "--state-dir", str(tmp_path / "none"))
    assert res.returncode == 1 and "not installed" in res.stderr
