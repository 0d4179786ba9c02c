"""The sampler on a fake /proc with exact numbers: busy = wall - idle, rates, cgroups, processes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from collectors.sampler import CLK_TCK, PAGE_SIZE, ProcMatch, Sampler, Targets
from tests.unit.fakeproc import FakeHost


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def as_dict(values: list[tuple[str, str, float]]) -> dict[str, float]:
    return {f"{g}.{m}": v for g, m, v in values}


def make(host: FakeHost, clock: Clock, **kw: object) -> Sampler:
    targets = Targets(proc_root=host.proc, cgroup_root=host.cg, netns_dir=host.netns_dir, **kw)  # type: ignore[arg-type]
    return Sampler(targets, clock=clock)


def test_cpu_busy_is_wall_minus_idle(tmp_path: Path) -> None:
    host, clock = FakeHost(tmp_path), Clock()
    s = make(host, clock)
    first = as_dict(s.sample())
    assert "cpu_0.busy_pct" not in first  # no rate from one sample
    assert first["memory.available_bytes"] == 6 << 30
    assert first["memory.used_bytes"] == 2 << 30
    # core 0: idle 0.8 s of a 2 s interval -> busy 60 %; core 1: idle the whole time -> 0 %.
    clock.t += 2.0
    host.advance_cpu(
        0, busy=int(0.3 * CLK_TCK), idle=int(0.8 * CLK_TCK), softirq=int(0.1 * CLK_TCK)
    )
    host.advance_cpu(1, busy=0, idle=int(2 * CLK_TCK))
    got = as_dict(s.sample())
    assert got["cpu_0.busy_pct"] == pytest.approx(60.0)
    assert got["cpu_1.busy_pct"] == pytest.approx(0.0)
    assert got["cpu_all.busy_pct"] == pytest.approx(60.0)
    # tick-sampled fields are reported as they are, even when they disagree with wall - idle
    assert got["cpu_0.system_pct"] == pytest.approx(15.0)
    assert got["cpu_0.softirq_pct"] == pytest.approx(5.0)


def test_busy_is_clamped_to_0_100(tmp_path: Path) -> None:
    host, clock = FakeHost(tmp_path), Clock()
    s = make(host, clock)
    s.sample()
    clock.t += 1.0
    host.advance_cpu(0, busy=0, idle=int(1.5 * CLK_TCK))  # idle over-reported
    assert as_dict(s.sample())["cpu_0.busy_pct"] == 0.0


def test_tcp_rates_and_socket_counts(tmp_path: Path) -> None:
    host, clock = FakeHost(tmp_path), Clock()
    net = host.proc / "self" / "net"
    host.write_net(net, active=0, passive=1000, estab=3, tw=10, rx=0)
    s = make(host, clock)
    s.sample()
    clock.t += 2.0
    host.write_net(net, active=10, passive=11000, estab=5, tw=9000, rx=4000)
    got = as_dict(s.sample())
    assert got["tcp.passive_opens_per_s"] == pytest.approx(5000.0)
    assert got["tcp.active_opens_per_s"] == pytest.approx(5.0)
    assert got["tcp.established"] == 5
    assert got["tcp.time_wait"] == 9000
    assert got["net_veth0.rx_bytes_per_s"] == pytest.approx(2000.0)
    assert "net_lo.rx_bytes_per_s" not in got  # lo is left out unless asked for
    assert "conntrack.entries" not in got  # conntrack not loaded: none tracked, none dropped
    assert got["conntrack.fill_pct"] == 0 and got["conntrack.drops_per_s"] == 0


def test_counter_reset_gives_no_rate(tmp_path: Path) -> None:
    host, clock = FakeHost(tmp_path), Clock()
    net = host.proc / "self" / "net"
    host.write_net(net, active=0, passive=1000, estab=0, tw=0)
    s = make(host, clock)
    s.sample()
    clock.t += 1.0
    host.write_net(net, active=0, passive=10, estab=0, tw=0)  # namespace recreated
    assert "tcp.passive_opens_per_s" not in as_dict(s.sample())


def test_named_namespace_through_a_member_pid(tmp_path: Path) -> None:
    host, clock = FakeHost(tmp_path), Clock()
    (host.netns_dir / "work").write_text("")
    member = host.add_process(77, "nginx", utime=0, stime=0, rss_pages=1)
    # /proc/77/ns/net is a link to the namespace file, so the inodes match
    (member / "ns").mkdir()
    os.symlink(host.netns_dir / "work", member / "ns" / "net")
    host.write_net(member / "net", active=0, passive=0, estab=1, tw=2, conntrack=5, drops=0)
    limit = host.proc / "sys" / "net" / "netfilter" / "nf_conntrack_max"
    limit.parent.mkdir(parents=True)
    limit.write_text("36\n")
    s = make(host, clock, netns="work")
    s.sample()
    clock.t += 1.0
    host.write_net(
        member / "net", active=0, passive=50, estab=1, tw=2, conntrack=9, drops=3, inserts=20
    )
    got = as_dict(s.sample())
    assert got["tcp.passive_opens_per_s"] == pytest.approx(50.0)
    assert got["conntrack.entries"] == 9
    assert got["conntrack.drops_per_s"] == pytest.approx(6.0)  # two CPU rows of 3 each
    assert got["conntrack.max"] == 36 and got["conntrack.fill_pct"] == pytest.approx(25.0)
    assert got["conntrack.inserts_per_s"] == pytest.approx(40.0)


def test_missing_namespace_is_logged_once_and_other_series_flow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host, clock = FakeHost(tmp_path), Clock()
    s = make(host, clock, netns="absent")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            clock.t += 1.0
            got = as_dict(s.sample())
            assert "memory.available_bytes" in got
            assert not any(k.startswith("tcp.") for k in got)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("network namespace 'absent' does not exist" in m for m in messages) == 1


def test_cgroup_v1_and_v2(tmp_path: Path) -> None:
    host, clock = FakeHost(tmp_path), Clock()
    v1 = host.cg / "cpuacct" / "tare" / "workload"
    mem = host.cg / "memory" / "tare" / "workload"
    v1.mkdir(parents=True)
    mem.mkdir(parents=True)
    (v1 / "cpuacct.usage").write_text("1000000000\n")
    (mem / "memory.usage_in_bytes").write_text("52428800\n")
    s = make(host, clock, cgroup="tare/workload")
    s.sample()
    clock.t += 2.0
    (v1 / "cpuacct.usage").write_text("1100000000\n")  # 0.1 s of CPU in 2 s = 5 % of a core
    got = as_dict(s.sample())
    assert got["cgroup.cpu_pct"] == pytest.approx(5.0)
    assert got["cgroup.memory_bytes"] == 52428800

    host2, clock2 = FakeHost(tmp_path / "v2"), Clock()
    v2 = host2.cg / "tare" / "workload"
    v2.mkdir(parents=True)
    (v2 / "cpu.stat").write_text("usage_usec 2000000\nuser_usec 1\n")
    (v2 / "memory.current").write_text("1048576\n")
    s2 = make(host2, clock2, cgroup="tare/workload")
    s2.sample()
    clock2.t += 1.0
    (v2 / "cpu.stat").write_text("usage_usec 2250000\nuser_usec 1\n")
    got2 = as_dict(s2.sample())
    assert got2["cgroup.cpu_pct"] == pytest.approx(25.0)
    assert got2["cgroup.memory_bytes"] == 1048576


def test_processes_by_name_summed_and_re_resolved_after_restart(tmp_path: Path) -> None:
    host, clock = FakeHost(tmp_path), Clock()
    host.add_process(10, "nginx", utime=100, stime=0, rss_pages=100)
    host.add_process(11, "nginx", utime=50, stime=50, rss_pages=50)
    host.add_process(
        12,
        "python3",
        utime=0,
        stime=0,
        rss_pages=7,
        argv=("/usr/bin/python3", "/usr/bin/tare-refagent", "start"),
    )
    s = make(
        host,
        clock,
        processes=(ProcMatch("server", name="nginx"), ProcMatch("agent", name="tare-refagent")),
    )
    first = as_dict(s.sample())
    assert first["proc_server.nprocs"] == 2
    assert first["proc_server.rss_bytes"] == 150 * PAGE_SIZE
    assert first["proc_agent.nprocs"] == 1  # found through its interpreter's argv[1]
    clock.t += 1.0
    host.add_process(10, "nginx", utime=100 + CLK_TCK // 10, stime=0, rss_pages=100)
    host.add_process(11, "nginx", utime=50, stime=50 + CLK_TCK // 20, rss_pages=50)
    got = as_dict(s.sample())
    assert got["proc_server.cpu_pct"] == pytest.approx(15.0)
    # the agent restarts: same pid number reused with another start time
    host.add_process(
        12,
        "python3",
        utime=5,
        stime=0,
        rss_pages=9,
        start=5000,
        argv=("/usr/bin/python3", "/usr/bin/tare-refagent", "start"),
    )
    clock.t += 1.0
    got = as_dict(s.sample())
    assert "proc_agent.cpu_pct" not in got or got["proc_agent.cpu_pct"] >= 0
    clock.t += 1.0
    got = as_dict(s.sample())
    assert got["proc_agent.rss_bytes"] == 9 * PAGE_SIZE


def test_pid_file_and_unknown_process(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    host, clock = FakeHost(tmp_path), Clock()
    host.add_process(20, "agentd", utime=0, stime=0, rss_pages=3)
    pid_file = tmp_path / "agent.pid"
    pid_file.write_text("20\n")
    s = make(
        host,
        clock,
        processes=(ProcMatch("agent", pid_file=pid_file), ProcMatch("ghost", name="no-such-proc")),
    )
    with caplog.at_level(logging.WARNING):
        got = as_dict(s.sample())
    assert got["proc_agent.rss_bytes"] == 3 * PAGE_SIZE
    assert not any(k.startswith("proc_ghost") for k in got)
    assert "no running process matches name 'no-such-proc'" in caplog.text


def test_proc_match_needs_exactly_one_way() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ProcMatch("x")
    with pytest.raises(ValueError, match="exactly one"):
        ProcMatch("x", name="a", pid_file=Path("/p"))
