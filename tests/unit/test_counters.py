"""The workload namespace's counters and each profile's cross-check against them."""

from __future__ import annotations

import pytest

from contracts.load import Profile
from harness.counters import (
    Counters,
    offered,
    parse_dev,
    parse_tcp,
    retransmits,
    server_check,
)

TCP_HEAD = (
    "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets "
    "CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors"
)
SNMP = (
    "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
    + TCP_HEAD
    + "\nTcp: 1 200 120000 -1 0 {opens} 0 0 1 {ins} {outs} {retrans} 0 0 0\n"
)
DEV = (
    "Inter-|   Receive |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    " tare0: {rx} {rxp} 0 0 0 0 0 0 {tx} {txp} 0 0 0 0 0 0\n"
)


def counters(opens: int, ins: int, retrans: int, tx: int) -> Counters:
    tcp = parse_tcp(SNMP.format(opens=opens, ins=ins, outs=ins, retrans=retrans))
    dev = parse_dev(DEV.format(rx=1000, rxp=10, tx=tx, txp=20), "tare0")
    assert dev is not None
    return Counters(tcp, *dev)


def test_parsers_read_the_tcp_counters_and_one_interface() -> None:
    tcp = parse_tcp(SNMP.format(opens=7, ins=8, outs=9, retrans=1))
    assert tcp == {"ActiveOpens": 0, "PassiveOpens": 7, "InSegs": 8, "OutSegs": 9, "RetransSegs": 1}
    assert parse_dev(DEV.format(rx=5, rxp=1, tx=6, txp=2), "tare0") == (5, 6, 1, 2)
    assert parse_dev(DEV, "eth9") is None
    assert parse_tcp("Ip: a\nIp: 1\n") == {}


def test_each_profile_is_checked_in_its_own_unit() -> None:
    a, b = counters(100, 1_000, 3, 0), counters(10_100, 21_000, 5, 500_000_000)
    conn = server_check(Profile.CONNECTIONS, a, b, 10.0, "tare0")
    assert conn is not None and conn.rate == pytest.approx(1000.0) and conn.what == "accepted"
    req = server_check(Profile.REQUESTS, a, b, 10.0, "tare0")
    assert req is not None and req.rate == pytest.approx(2000.0)  # segments in: a lower bound
    bulk = server_check(Profile.THROUGHPUT, a, b, 10.0, "tare0")
    assert bulk is not None and bulk.rate == pytest.approx(400.0) and "tare0" in bulk.what
    assert retransmits(a, b) == 2
    assert server_check(Profile.REQUESTS, None, b, 10.0, "tare0") is None
    assert retransmits(a, None) is None


def test_the_load_hosts_connections_opened_are_the_rate_it_offered() -> None:
    """Tcp ActiveOpens counts every connect(), answered or not: the generator's side alone."""

    def opened(active: int) -> Counters:
        snmp = SNMP.replace("-1 0 {opens}", f"-1 {active} {{opens}}")
        return Counters(parse_tcp(snmp.format(opens=0, ins=0, outs=0, retrans=0)), *[None] * 4)

    before, after = opened(1000), opened(41000)
    assert offered(Profile.CONNECTIONS, before, after, 4.0) == 10_000
    assert offered(Profile.REQUESTS, before, after, 4.0) is None  # kept alive: not a count of it
    assert offered(Profile.CONNECTIONS, None, after, 4.0) is None
