"""nftables rule sets for each mode (pure: policy in, ``nft -f`` script out).

``render`` replaces the agent's table in one transaction: ``table`` (so that it exists),
``delete table``, then the new table. nft applies a file atomically, but a set created in the
same transaction as the rule that looks it up is not atomic for lookups: on kernel 6.1 the new
rule can be live a moment before the new set's elements are (the interval set of concatenations
publishes them in its own commit step), so a few connections from allowed peers met the reject
rule. Once enforced, the daemon therefore never replaces the set while traffic flows:
``render_update`` adds and deletes only the elements that changed, in one transaction, and an
unchanged policy touches nothing.
"""

from __future__ import annotations

from typing import Literal

from refagent.policy import IPNetwork, Policy

TABLE = "tare_refagent"
MODES = ("idle", "visibility", "enforced")
Mode = Literal["idle", "visibility", "enforced"]
Style = Literal["sets", "linear"]


def _ports(ports: tuple[int, ...]) -> str:
    return "{ " + ", ".join(str(p) for p in ports) + " }"


def allowed_pairs(policy: Policy, family: int) -> list[tuple[IPNetwork, int]]:
    """(network, port) pairs of one IP family; a network inside another of the same port is
    left out (an interval set refuses overlapping elements). Adjacent networks are kept apart,
    so a policy of N peers is a set of N elements, as an agent would program it."""
    by_port: dict[int, list[IPNetwork]] = {}
    for entry in policy.allow:
        if entry.peer.version != family:
            continue
        for port in entry.ports or policy.workload_ports:
            by_port.setdefault(port, []).append(entry.peer)
    pairs: list[tuple[IPNetwork, int]] = []
    for port in sorted(by_port):
        kept: list[IPNetwork] = []
        for net in sorted(set(by_port[port]), key=lambda n: (int(n.network_address), n.prefixlen)):
            if kept and net.subnet_of(kept[-1]):  # type: ignore[arg-type]
                continue
            kept.append(net)
        pairs.extend((net, port) for net in kept)
    return pairs


def _addr(net: IPNetwork) -> str:
    """A host as an address, a network as a CIDR."""
    return str(net.network_address if net.prefixlen == net.max_prefixlen else net)


def _elements(pairs: list[tuple[IPNetwork, int]]) -> str:
    if not pairs:
        return ""
    body = ",\n      ".join(f"{_addr(net)} . {port}" for net, port in pairs)
    return f"\n    elements = {{\n      {body}\n    }}"


def _prologue() -> str:
    return f"table inet {TABLE}\ndelete table inet {TABLE}\n"


def render(mode: Mode, policy: Policy, style: Style = "sets") -> str:
    if mode == "idle":
        return _prologue()  # heartbeats only: no rules at all
    ports = _ports(policy.workload_ports)
    if mode == "visibility":
        return (
            _prologue()
            + f"""table inet {TABLE} {{
  set peers4 {{ type ipv4_addr; size 65536; flags dynamic; counter; }}
  set peers6 {{ type ipv6_addr; size 65536; flags dynamic; counter; }}
  chain input {{
    type filter hook input priority filter; policy accept;
    ct state new tcp dport {ports} add @peers4 {{ ip saddr }}
    ct state new tcp dport {ports} add @peers6 {{ ip6 saddr }}
  }}
}}
"""
        )
    head = f"""    type filter hook input priority filter; policy accept;
    ct state established,related accept
    meta l4proto != tcp accept
    tcp dport != {ports} accept
"""
    if style == "linear":
        rules = []
        for entry in policy.allow:
            proto = "ip" if entry.peer.version == 4 else "ip6"
            dports = _ports(entry.ports or policy.workload_ports)
            rules.append(f"    {proto} saddr {_addr(entry.peer)} tcp dport {dports} accept")
        body = "\n".join(rules)
        return (
            _prologue()
            + f"""table inet {TABLE} {{
  chain input {{
{head}{body}
    counter reject with tcp reset
  }}
}}
"""
        )
    v4 = _elements(allowed_pairs(policy, 4))
    v6 = _elements(allowed_pairs(policy, 6))
    return (
        _prologue()
        + f"""table inet {TABLE} {{
  set allow4 {{
    type ipv4_addr . inet_service; flags interval;{v4}
  }}
  set allow6 {{
    type ipv6_addr . inet_service; flags interval;{v6}
  }}
  chain input {{
{head}    ip saddr . tcp dport @allow4 accept
    ip6 saddr . tcp dport @allow6 accept
    counter reject with tcp reset
  }}
}}
"""
    )


def render_update(old: Policy, new: Policy) -> str:
    """The enforced ``sets`` table from ``old`` to ``new`` in place: the changed elements
    deleted and added in one transaction ("" when nothing changed). Elements both policies
    hold are never touched, so a peer allowed before and after is allowed throughout."""
    lines = []
    for family, name in ((4, "allow4"), (6, "allow6")):
        before, after = allowed_pairs(old, family), allowed_pairs(new, family)
        kept_before, kept_after = set(before), set(after)
        gone = [p for p in before if p not in kept_after]
        came = [p for p in after if p not in kept_before]
        for verb, pairs in (("delete", gone), ("add", came)):
            if pairs:
                body = ", ".join(f"{_addr(net)} . {port}" for net, port in pairs)
                lines.append(f"{verb} element inet {TABLE} {name} {{ {body} }}")
    return "".join(line + "\n" for line in lines)


def in_place(
    old: tuple[Mode, Style, Policy] | None, mode: Mode, style: Style, policy: Policy
) -> bool:
    """Whether the table in force can be brought to (mode, style, policy) by
    ``render_update``: enforced sets both times, the same workload ports."""
    if old is None:
        return False
    old_mode, old_style, old_policy = old
    return (old_mode, old_style, mode, style) == (
        "enforced",
        "sets",
        "enforced",
        "sets",
    ) and old_policy.workload_ports == policy.workload_ports
