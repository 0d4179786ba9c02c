"""The workload namespace's own counters of the load: TCP (``/proc/<pid>/net/snmp``) and the
workload interface (``/proc/<pid>/net/dev``), read through a process in the namespace, and the
cross-check of each load profile against them (parsing and arithmetic pure). A workload host
reached over SSH is read through its transport (``read_on``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contracts.load import Profile
from harness.lab import Host, LabError
from harness.load import ServerCheck

TCP_FIELDS = ("ActiveOpens", "PassiveOpens", "InSegs", "OutSegs", "RetransSegs")


@dataclass(frozen=True, slots=True)
class Counters:
    tcp: dict[str, int]  # the TCP_FIELDS present
    rx_bytes: int | None  # of the workload interface (None: not asked, or not found)
    tx_bytes: int | None
    rx_packets: int | None
    tx_packets: int | None


def parse_tcp(snmp: str) -> dict[str, int]:
    """The Tcp counters of ``/proc/net/snmp`` (header line, then values)."""
    rows = [line.split() for line in snmp.splitlines() if line.startswith("Tcp:")]
    if len(rows) < 2:
        return {}
    return {k: int(v) for k, v in zip(rows[0][1:], rows[1][1:], strict=False) if k in TCP_FIELDS}


def parse_dev(text: str, interface: str) -> tuple[int, int, int, int] | None:
    """(rx bytes, tx bytes, rx packets, tx packets) of one interface in ``/proc/net/dev``."""
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if not sep or name.strip() != interface:
            continue
        f = rest.split()
        if len(f) < 16:
            return None
        return int(f[0]), int(f[8]), int(f[1]), int(f[9])
    return None


def read(pid: int, interface: str | None, proc: Path = Path("/proc")) -> Counters | None:
    """The counters of the namespace ``pid`` runs in; None when the process is gone."""
    try:
        tcp = parse_tcp((proc / str(pid) / "net" / "snmp").read_text())
        dev = (proc / str(pid) / "net" / "dev").read_text() if interface else ""
    except OSError:
        return None
    found = parse_dev(dev, interface) if interface else None
    rx, tx, rxp, txp = found if found is not None else (None, None, None, None)
    return Counters(tcp, rx, tx, rxp, txp)


def read_on(host: Host, interface: str | None) -> Counters | None:
    """The counters of a host reached over its transport (its own /proc); None if unreadable."""
    try:
        got = host.run(["sh", "-c", "cat /proc/net/snmp; echo '@@'; cat /proc/net/dev"], 30,
                       in_cgroup=False)  # fmt: skip
    except LabError:
        return None
    snmp, sep, dev = got.stdout.partition("@@")
    if got.returncode != 0 or not sep:
        return None
    found = parse_dev(dev, interface) if interface else None
    rx, tx, rxp, txp = found if found is not None else (None, None, None, None)
    return Counters(parse_tcp(snmp), rx, tx, rxp, txp)


def delta(before: Counters, after: Counters, field: str) -> int | None:
    a, b = before.tcp.get(field), after.tcp.get(field)
    return None if a is None or b is None else b - a


def server_check(
    profile: Profile,
    before: Counters | None,
    after: Counters | None,
    seconds: float,
    interface: str | None,
) -> ServerCheck | None:
    """What the namespace counted of the load, in the profile's unit (None when unreadable)."""
    if before is None or after is None or seconds <= 0:
        return None
    if profile is Profile.CONNECTIONS:
        n = delta(before, after, "PassiveOpens")
        return None if n is None else ServerCheck(n / seconds, "accepted")
    if profile is Profile.REQUESTS:
        n = delta(before, after, "InSegs")
        return None if n is None else ServerCheck(n / seconds, "received segments at")
    if before.tx_bytes is None or after.tx_bytes is None:
        return None
    mbit = (after.tx_bytes - before.tx_bytes) * 8 / 1e6 / seconds
    return ServerCheck(mbit, f"sent (interface {interface})")


def retransmits(before: Counters | None, after: Counters | None) -> int | None:
    """TCP segments the namespace retransmitted during the load."""
    if before is None or after is None:
        return None
    return delta(before, after, "RetransSegs")


def offered(
    profile: Profile, before: Counters | None, after: Counters | None, seconds: float
) -> float | None:
    """New connections/s the load host's stack opened (Tcp ActiveOpens: one per connect(),
    whatever became of it): the rate the generator offered, the server's answer apart. None
    for the kept-alive profiles, or when unreadable."""
    if profile is not Profile.CONNECTIONS or before is None or after is None or seconds <= 0:
        return None
    n = delta(before, after, "ActiveOpens")
    return None if n is None else n / seconds
