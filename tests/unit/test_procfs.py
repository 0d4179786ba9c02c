"""The /proc parsers on real-shaped text."""

from __future__ import annotations

import pytest

from collectors import procfs


def test_proc_stat() -> None:
    cpus = procfs.parse_proc_stat(
        "cpu  23213 0 5545 112461 1012 0 140 15 0 0\n"
        "cpu0 5222 1 1848 63909 180 2 21 5 0 0\nintr 1 2\n"
    )
    assert cpus["cpu0"] == procfs.CpuTimes(5222, 1, 1848, 63909, 180, 2, 21, 5)
    assert cpus["cpu0"].idle_all == 63909 + 180
    with pytest.raises(ValueError, match="no cpu lines"):
        procfs.parse_proc_stat("intr 0\n")


def test_meminfo_in_bytes() -> None:
    info = procfs.parse_meminfo(
        "MemTotal:       24000 kB\nMemAvailable:   1000 kB\nHugePages_Total: 3\n"
    )
    assert info == {"MemTotal": 24000 * 1024, "MemAvailable": 1000 * 1024, "HugePages_Total": 3}


def test_snmp_pairs() -> None:
    text = "Ip: Forwarding TTL\nIp: 1 64\nTcp: ActiveOpens PassiveOpens\nTcp: 5 7\n"
    assert procfs.parse_snmp(text) == {
        "Ip": {"Forwarding": 1, "TTL": 64},
        "Tcp": {"ActiveOpens": 5, "PassiveOpens": 7},
    }


def test_sockstat() -> None:
    assert procfs.parse_sockstat(
        "sockets: used 21\nTCP: inuse 9 orphan 0 tw 17 alloc 9 mem 221\n"
    ) == {"inuse": 9, "orphan": 0, "tw": 17, "alloc": 9, "mem": 221}


def test_net_dev() -> None:
    text = (
        "Inter-|   Receive |  Transmit\n face |bytes packets ...\n"
        "  eth0: 100 2 0 3 0 0 0 0 200 4 0 5 0 0 0 0\n"
    )
    assert procfs.parse_net_dev(text)["eth0"] == procfs.IfCounters(100, 2, 3, 200, 4, 5)


def test_conntrack_stat_is_hex_entries_once_counters_summed() -> None:
    text = (
        "entries  clashres drop early_drop\n"
        "0000000a  00000000 00000001 00000002\n0000000a  00000000 00000003 00000000\n"
    )
    stat = procfs.parse_conntrack_stat(text)
    assert stat["entries"] == 10
    assert stat["drop"] == 4
    assert stat["early_drop"] == 2


def test_pid_stat_with_awkward_name() -> None:
    text = (
        "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 125 0 0 20 0 1 0 999 8192 77 0\n"
    )
    assert procfs.parse_pid_stat(text) == procfs.PidStat(
        utime=250, stime=125, start=999, rss_pages=77
    )


def test_cgroup_v2() -> None:
    assert procfs.parse_cgroup_v2_cpu("usage_usec 1500\nuser_usec 1000\n") == 1_500_000
    with pytest.raises(ValueError, match="usage_usec"):
        procfs.parse_cgroup_v2_cpu("user_usec 1\n")


def test_snmp_one_protocol_and_meminfo_keys() -> None:
    text = "Ip: A B\nIp: 1 2\nTcp: ActiveOpens\nTcp: 5\nUdp: X\nUdp: 9\n"
    assert procfs.parse_snmp(text, "Tcp") == {"Tcp": {"ActiveOpens": 5}}
    assert procfs.parse_snmp(text, "TcpExt") == {}
    info = procfs.parse_meminfo(
        "MemTotal: 2 kB\nMemFree: 1 kB\nMemAvailable: 1 kB\nX: 5\n",
        frozenset({"MemTotal", "MemAvailable"}),
    )
    assert info == {"MemTotal": 2048, "MemAvailable": 1024}
