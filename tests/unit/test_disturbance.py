"""What outsiders took from the lab: processes outside its cgroups and steal, on a fake /proc."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.disturbance import PF_KTHREAD, Snapshot, share, snapshot


def _proc(
    root: Path, pid: int, comm: str, ticks: int, cgroup: str, flags: int = 0, reaped: int = 0
) -> None:
    d = root / str(pid)
    d.mkdir(parents=True, exist_ok=True)
    # fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
    # cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime
    own = f"{ticks // 2} {ticks - ticks // 2} {reaped} 0"
    rest = f"S 1 1 1 0 -1 {flags} 0 0 0 0 {own} 20 0 1 0 {pid * 10}"
    (d / "stat").write_text(f"{pid} ({comm}) {rest}\n")
    (d / "cgroup").write_text(f"0::{cgroup}\n")


def _stat(root: Path, steal: int) -> None:
    (root / "stat").write_text(f"cpu  1 2 3 4 5 6 7 {steal} 0 0\ncpu0 1 2 3 4 5 6 7 0 0 0\n")


def test_outsiders_are_counted_the_lab_kernel_threads_and_tare_are_not(tmp_path: Path) -> None:
    lab = ["tare/ab12", "tare/ab12-load"]
    _stat(tmp_path, 100)
    _proc(tmp_path, 10, "nginx", 1000, "/tare/ab12")
    _proc(tmp_path, 11, "h2load", 1000, "/tare/ab12-load")
    _proc(tmp_path, 12, "ksoftirqd/1", 1000, "/", flags=PF_KTHREAD)
    _proc(tmp_path, 13, "backup", 1000, "/system.slice/backup.service")
    before = snapshot(lab, at=0.0, proc=tmp_path)
    assert set(before.ticks) == {(13, 130)}
    _stat(tmp_path, 150)  # 50 ticks of steal
    _proc(tmp_path, 10, "nginx", 9000, "/tare/ab12")
    _proc(tmp_path, 12, "ksoftirqd/1", 9000, "/", flags=PF_KTHREAD)
    _proc(tmp_path, 13, "backup", 1500, "/system.slice/backup.service")  # 5 s of CPU
    _proc(tmp_path, 14, "cron", 100, "/system.slice/cron.service")  # new: 1 s
    after = snapshot(lab, at=10.0, proc=tmp_path)
    d = share(before, after, hz=100)
    assert d.outside_pct == pytest.approx(60.0)  # (5 + 1) s over 10 s
    assert d.steal_pct == pytest.approx(5.0)
    assert d.total_pct == pytest.approx(65.0)
    assert d.top[0] == ("backup", pytest.approx(50.0))
    assert "65.0 points of a core outside the lab" in d.describe()


def test_a_quiet_machine_is_not_disturbed() -> None:
    s = Snapshot(0.0, {(1, 1): ("idle", 10)}, 0)
    d = share(s, Snapshot(30.0, {(1, 1): ("idle", 10)}, 0), hz=100)
    assert d.total_pct == 0.0 and d.top == ()


def test_a_job_that_came_and_went_between_two_scans_shows_in_its_parent(tmp_path: Path) -> None:
    _stat(tmp_path, 0)
    _proc(tmp_path, 20, "bash", 100, "/user.slice")
    before = snapshot([], at=0.0, proc=tmp_path)
    _proc(tmp_path, 20, "bash", 100, "/user.slice", reaped=400)  # a 4 s pytest, reaped
    d = share(before, snapshot([], at=10.0, proc=tmp_path), hz=100)
    assert d.outside_pct == pytest.approx(40.0) and d.top[0][0] == "bash"
