"""Policies: which peers may open connections to which workload ports (pure, no I/O).

A policy file is JSON::

    {"version": 1,
     "workload_ports": [8080],
     "allow": [{"peer": "10.200.0.2"}, {"peer": "192.0.2.0/24", "ports": [8080]}]}

An entry without ``ports`` allows every workload port. Errors name the entry and the field.
"""

from __future__ import annotations

import ipaddress
import json
import random
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ENTRIES = 1_000_000


class PolicyError(ValueError):
    """A policy that must not replace the one in force; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Entry:
    peer: IPNetwork
    ports: tuple[int, ...]  # empty: every workload port


@dataclass(frozen=True, slots=True)
class Policy:
    workload_ports: tuple[int, ...]
    allow: tuple[Entry, ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "workload_ports": list(self.workload_ports),
                "allow": [
                    {"peer": str(e.peer), **({"ports": list(e.ports)} if e.ports else {})}
                    for e in self.allow
                ],
            },
            indent=1,
        )


def _port(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise PolicyError(f"{where}: {value!r} is not a port number (1-65535)")
    return value


def parse_policy(text: str, label: str = "policy") -> Policy:
    if not text.strip():
        raise PolicyError(f"{label}: empty file")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{label}: not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"{label}: must be a JSON object")
    unknown = set(raw) - {"version", "workload_ports", "allow"}
    if unknown:
        raise PolicyError(f"{label}: unknown key(s) {', '.join(sorted(unknown))}")
    if raw.get("version", 1) != 1:
        raise PolicyError(f"{label}: version {raw.get('version')!r} is not supported (1)")
    ports_raw = raw.get("workload_ports")
    if not isinstance(ports_raw, list) or not ports_raw:
        raise PolicyError(f"{label}: workload_ports must be a non-empty list of ports")
    ports = tuple(sorted({_port(p, f"{label}: workload_ports") for p in ports_raw}))
    allow_raw = raw.get("allow")
    if not isinstance(allow_raw, list):
        raise PolicyError(f"{label}: allow must be a list of entries")
    if len(allow_raw) > MAX_ENTRIES:
        raise PolicyError(f"{label}: {len(allow_raw)} entries; at most {MAX_ENTRIES}")
    entries = []
    for i, item in enumerate(allow_raw):
        where = f"{label}: allow[{i}]"
        if not isinstance(item, dict) or "peer" not in item or set(item) - {"peer", "ports"}:
            raise PolicyError(f"{where}: must be an object with 'peer' and optional 'ports'")
        try:
            peer = ipaddress.ip_network(str(item["peer"]), strict=False)
        except ValueError:
            raise PolicyError(f"{where}.peer: {item['peer']!r} is not an address or CIDR") from None
        entry_ports = item.get("ports", [])
        if not isinstance(entry_ports, list):
            raise PolicyError(f"{where}.ports: must be a list of ports")
        checked = tuple(sorted({_port(p, f"{where}.ports") for p in entry_ports}))
        stray = set(checked) - set(ports)
        if stray:
            raise PolicyError(
                f"{where}.ports: {sorted(stray)} not among workload_ports {list(ports)}"
            )
        entries.append(Entry(peer, checked))
    return Policy(ports, tuple(entries))


def generate_policy(size: int, allow: tuple[str, ...], ports: tuple[int, ...]) -> Policy:
    """A synthetic policy of ``size`` entries: filler peers from 100.64.0.0/10 (shared address
    space, never a lab address), then the ``allow`` peers last, so that a linear rule set makes
    every allowed packet walk all the rules, as a naive agent would."""
    if size < len(allow):
        raise PolicyError(f"policy size {size} is smaller than the {len(allow)} --allow peer(s)")
    base = int(ipaddress.IPv4Address("100.64.0.0"))
    fillers = [
        Entry(ipaddress.ip_network(ipaddress.IPv4Address(base + 1 + i)), ())
        for i in range(size - len(allow))
    ]
    real = [Entry(ipaddress.ip_network(a, strict=False), ()) for a in allow]
    return Policy(tuple(sorted(set(ports))), tuple(fillers + real))


FILLER_NET = ipaddress.IPv4Network("100.64.0.0/10")


def churn(policy: Policy, fraction: float, generation: int) -> tuple[Policy, int]:
    """A policy update as a policy engine would push it: ``fraction`` of the filler entries
    (peers in 100.64.0.0/10, never a peer the load comes from) replaced by peers not in the
    policy yet, chosen deterministically from ``generation``. Returns the new policy and how
    many entries changed."""
    if not 0 < fraction <= 1:
        raise PolicyError(f"churn fraction {fraction} must be in (0, 1]")
    fillers = [
        i
        for i, e in enumerate(policy.allow)
        if isinstance(e.peer, ipaddress.IPv4Network) and e.peer.subnet_of(FILLER_NET)
    ]
    count = round(fraction * len(fillers))
    if count == 0:
        return policy, 0
    rng = random.Random(generation)
    replaced = set(rng.sample(fillers, count))
    taken = {e.peer for e in policy.allow}
    span = FILLER_NET.num_addresses - 2
    base = int(FILLER_NET.network_address) + 1
    cursor = (len(fillers) + generation * count) % span
    allow = list(policy.allow)
    for i in sorted(replaced):
        while True:
            peer = ipaddress.ip_network(ipaddress.IPv4Address(base + cursor))
            cursor = (cursor + 1) % span
            if peer not in taken:
                break
        taken.add(peer)
        allow[i] = Entry(peer, allow[i].ports)
    return Policy(policy.workload_ports, tuple(allow)), count
