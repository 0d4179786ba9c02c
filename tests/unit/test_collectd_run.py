"""The per-run collectd's bookkeeping (gaps, CPU, last words), which collector a campaign
gets, and how the harness judges a run by its collection: without a daemon."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from collectors import collectd as collectd_bin
from collectors.collect import Background, Together, resolve_collector
from collectors.collectd import CollectdUnavailable, last_words
from collectors.collectd_run import cpu_pct
from collectors.relay import Relay, parse_line
from collectors.sampler import Targets
from collectors.sender import CarbonSender
from contracts.addresses import CarbonAddress
from contracts.errors import ExitCode, exit_code_for
from contracts.manifest import CollectorReport
from contracts.states import RunState
from harness.lab import Host, Lab
from harness.remote import Ssh
from harness.runner import RunOutcome, Session, judge_collection, workload_ended
from tests.unit.fakeproc import FakeHost

CARBON = CarbonAddress.parse("127.0.0.1:2003")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_relay_passes_everything_on_spooling_when_carbon_is_down(tmp_path: Path) -> None:
    """collectd's write_graphite drops what carbon cannot take; through the relay it is spooled
    and the seconds of the watched series are counted."""
    closed = CarbonAddress("127.0.0.1", free_port())
    sender = CarbonSender(closed, tmp_path / "spool")
    relay = Relay(sender, "tare.runs.r.h.tare.cpu_all.busy_pct")
    with socket.create_connection(("127.0.0.1", relay.port)) as conn:
        for t in (100, 101, 103):
            conn.sendall(f"tare.runs.r.h.tare.cpu_all.busy_pct {t / 10} {t}\r\n".encode())
            conn.sendall(f"tare.runs.r.h.memory.memory.used 5e8 {t}.0\r\n".encode())
        conn.sendall(b"not a line\r\nx nan 1\r\ntare.bad path 1 2 3\r\ntare.runs.r.h.tail 7 104")
    relay.close()
    assert relay.seconds == {100, 101, 103}
    assert relay.bad_lines == 3
    spooled = "".join(p.read_text() for p in sorted((tmp_path / "spool").glob("*.spool")))
    points = {parse_line(line.encode()) for line in spooled.splitlines()}
    assert len(spooled.splitlines()) == 7  # 6 lines and the unterminated last one
    assert ("tare.runs.r.h.memory.memory.used", 5e8, 103) in points
    assert ("tare.runs.r.h.tail", 7.0, 104) in points
    assert parse_line(b"a.b 1.5 1700000000.4") == ("a.b", 1.5, 1700000000)
    assert parse_line(b"a.b inf 1") is None


def test_cpu_pct_is_over_the_window_only() -> None:
    # 0.5 s of CPU at start-up, then 0.003 s per second
    samples = [(100.0, 0.5), *((100.0 + i, 0.5 + 0.003 * i) for i in range(1, 21))]
    assert cpu_pct(samples, 105.0, 115.0) == pytest.approx(0.3)
    assert cpu_pct(samples, 130.0, 140.0) is None
    assert cpu_pct(samples[:1], 90.0, 140.0) is None


def test_last_words_prefer_the_last_error_and_drop_timestamps() -> None:
    log = (
        '[2026-12-01 16:23:08] plugin_load: plugin "logfile" successfully loaded.\n'
        "[2026-12-01 16:23:08] Unhandled python exception in importing module: "
        "ModuleNotFoundError: No module named 'collectors'\n"
        '[2026-12-01 16:23:08] plugin_load: plugin "write_graphite" successfully loaded.\n'
        "Error: Parsing the config file failed!\n"
    )
    assert last_words(log) == (
        "Unhandled python exception in importing module: "
        "ModuleNotFoundError: No module named 'collectors'"
    )
    assert last_words("[x] all fine\n") == "all fine"
    assert last_words("") == "no output"


def test_a_missing_collectd_names_the_package_and_is_a_service_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(collectd_bin.ENV, str(tmp_path / "no-collectd"))
    assert collectd_bin.binary() is None
    with pytest.raises(CollectdUnavailable) as info:
        resolve_collector("collectd", tmp_path, CARBON, "tare")
    assert "apt-get install collectd-core" in str(info.value)
    assert str(tmp_path / "no-collectd") in str(info.value)
    assert exit_code_for(info.value) == ExitCode.SERVICE_UNAVAILABLE
    chosen, why = resolve_collector("auto", tmp_path, CARBON, "tare")
    assert chosen == "sampler" and why is not None and "not installed" in why
    assert resolve_collector("sampler", tmp_path, CARBON, "tare") == ("sampler", None)


@dataclass
class FakeCollector:
    name: str
    missing: int = 0
    failed: str | None = None
    stopped: bool = False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True

    def failure(self) -> str | None:
        return self.failed

    def report(self, steady: tuple[float, float]) -> CollectorReport:
        return CollectorReport(self.name, "p", 0.1, None, self.missing, ("restarted once",))


def outcome() -> RunOutcome:
    return RunOutcome(RunState.DONE, None, steady=(100.0, 110.0))


def test_a_gap_beyond_the_allowance_makes_the_run_invalid() -> None:
    o = outcome()
    judge_collection(o, Together(FakeCollector("collectd", missing=2)), max_missing_s=2)
    assert o.status is RunState.DONE and o.facts.collection[0].missing_s == 2
    o = outcome()
    judge_collection(o, Together(FakeCollector("collectd", missing=3)), max_missing_s=2)
    assert o.status is RunState.INVALID
    assert o.reason == (
        "collector gap: collectd missed 3 s of the steady window (at most 2 allowed): "
        "restarted once"
    )


def test_only_the_primary_collector_fails_or_invalidates_the_run() -> None:
    o = outcome()
    primary = FakeCollector("collectd", failed="collectd exited with 1: boom")
    judge_collection(o, Together(primary, (FakeCollector("sampler"),)), max_missing_s=2)
    assert o.status is RunState.FAILED and o.reason == "collector: collectd exited with 1: boom"
    o = outcome()
    other = FakeCollector("sampler", missing=9, failed="the sampler died: OSError: x")
    together = Together(FakeCollector("collectd"), (other,))
    judge_collection(o, together, max_missing_s=2)
    assert o.status is RunState.DONE
    assert [r.name for r in o.facts.collection] == ["collectd", "sampler"]
    assert "the sampler died: OSError: x" in o.facts.collection[1].notes
    together.stop()
    assert other.stopped


def test_the_sampler_reports_the_seconds_it_wrote_and_its_cost(tmp_path: Path) -> None:
    """The in-process sampler's report: the steady seconds without a point (none here) and
    its thread's CPU over the window."""
    host = FakeHost(tmp_path / "host")
    sender = CarbonSender(CarbonAddress("127.0.0.1", free_port()), tmp_path / "spool")
    bg = Background(
        Targets(proc_root=host.proc, cgroup_root=host.cg), sender, "t.runs.r.h.tare", "t"
    )
    start = time.time()
    time.sleep(3.2)
    bg.stop()
    report = bg.report((start + 1, start + 3))
    assert report.name == "sampler" and report.prefix == "t" and report.rss_mb is None
    assert report.missing_s == 0, sorted(bg.counted.seconds)
    assert report.cpu_pct is not None and 0 <= report.cpu_pct < 50
    assert bg.report((start + 1, start + 30)).missing_s >= 26  # seconds after it stopped


def test_a_workload_that_ended_mid_run_is_named_with_its_exit_and_last_words(
    tmp_path: Path,
) -> None:
    (tmp_path / "workload.log").write_text("starting\nConnection to 10.0.0.2 closed.\n")
    host = Host("workload", "10.0.0.2")
    lab = Lab("l", tmp_path, host, host, "loopback")
    running = subprocess.Popen(["sleep", "30"])
    try:
        assert workload_ended(Session(lab, tmp_path, running, None)) is None
    finally:
        running.kill()
        running.wait()
    ended = subprocess.Popen(["sh", "-c", "exit 255"])
    ended.wait()
    assert workload_ended(Session(lab, tmp_path, ended, None)) == (
        "workload: it ended mid-run (exit 255: Connection to 10.0.0.2 closed.)"
    )
    over_ssh = Host("workload", "10.0.0.2", transport=Ssh("root@10.0.0.2"))
    lab = Lab("l", tmp_path, over_ssh, host, "hosts")
    said = workload_ended(Session(lab, tmp_path, ended, None))
    assert said == "workload: it ended mid-run (ssh exit 255: Connection to 10.0.0.2 closed.)"
