"""The reference agent's policy parsing and rule sets, as plain values."""

from __future__ import annotations

import ipaddress
import json

import pytest
from refagent.policy import PolicyError, churn, generate_policy, parse_policy
from refagent.ruleset import allowed_pairs, render

GOOD = json.dumps(
    {
        "version": 1,
        "workload_ports": [8080, 8443],
        "allow": [
            {"peer": "10.0.0.0/24"},
            {"peer": "10.0.0.7", "ports": [8080]},
            {"peer": "2001:db8::1", "ports": [8443]},
        ],
    }
)


def test_parse_good_policy() -> None:
    p = parse_policy(GOOD)
    assert p.workload_ports == (8080, 8443)
    assert [str(e.peer) for e in p.allow] == ["10.0.0.0/24", "10.0.0.7/32", "2001:db8::1/128"]
    assert parse_policy(p.to_json()) == p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "p.json: empty file"),
        ("   \n", "p.json: empty file"),
        ("{not json", "p.json: not JSON"),
        ("[1, 2]", "p.json: must be a JSON object"),
        ('{"workload_ports": [8080], "allow": [], "colour": 1}', "unknown key(s) colour"),
        ('{"workload_ports": [], "allow": []}', "workload_ports must be a non-empty list"),
        ('{"workload_ports": [70000], "allow": []}', "70000 is not a port number"),
        ('{"workload_ports": [8080], "allow": {}}', "allow must be a list"),
        (
            '{"workload_ports": [8080], "allow": [{"peer": "10.0.0.300"}]}',
            "p.json: allow[0].peer: '10.0.0.300' is not an address or CIDR",
        ),
        ('{"workload_ports": [8080], "allow": [{"peer": "a", "x": 1}]}', "allow[0]: must be"),
        (
            '{"workload_ports": [8080], "allow": [{"peer": "10.0.0.1", "ports": [9]}]}',
            "allow[0].ports: [9] not among workload_ports [8080]",
        ),
        ('{"version": 2, "workload_ports": [8080], "allow": []}', "version 2 is not supported"),
    ],
)
def test_bad_policies_are_refused_naming_where(text: str, message: str) -> None:
    with pytest.raises(
        PolicyError,
        match=message.replace("[", r"\[")
        .replace("]", r"\]")
        .replace("(", r"\(")
        .replace(")", r"\)"),
    ):
        parse_policy(text, "p.json")


def test_generated_policy_puts_the_real_peers_last() -> None:
    p = generate_policy(10_000, ("10.200.0.2",), (8080,))
    assert len(p.allow) == 10_000
    assert str(p.allow[-1].peer) == "10.200.0.2/32"
    assert all(e.peer.subnet_of(ipaddress.ip_network("100.64.0.0/10")) for e in p.allow[:-1])
    with pytest.raises(PolicyError, match="smaller than"):
        generate_policy(0, ("10.200.0.2",), (8080,))


def test_set_elements_one_per_peer_and_nested_networks_dropped() -> None:
    p = parse_policy(GOOD)
    v4 = allowed_pairs(p, 4)
    # 10.0.0.7 lies inside 10.0.0.0/24 for port 8080: dropped; the /24 covers both ports
    assert [(str(n), port) for n, port in v4] == [("10.0.0.0/24", 8080), ("10.0.0.0/24", 8443)]
    assert [(str(n), port) for n, port in allowed_pairs(p, 6)] == [("2001:db8::1/128", 8443)]
    big = generate_policy(10_000, ("10.200.0.2",), (8080,))
    assert len(allowed_pairs(big, 4)) == 10_000  # adjacent peers are not merged


def test_rule_sets_per_mode() -> None:
    p = generate_policy(3, ("10.200.0.2",), (8080,))
    idle = render("idle", p)
    assert idle == "table inet tare_refagent\ndelete table inet tare_refagent\n"
    vis = render("visibility", p)
    assert "add @peers4 { ip saddr }" in vis and "policy accept" in vis and "reject" not in vis
    sets = render("enforced", p)
    assert "ip saddr . tcp dport @allow4 accept" in sets
    assert "10.200.0.2 . 8080" in sets
    assert sets.rstrip().endswith("}")
    assert "reject with tcp reset" in sets
    linear = render("enforced", p, "linear")
    assert linear.count(" accept\n") - 3 == 3  # one rule per entry after the three head rules
    assert linear.index("100.64.0.1") < linear.index("10.200.0.2")


def test_a_policy_update_replaces_its_share_of_fillers_never_the_load_peers() -> None:
    p = generate_policy(1000, ("10.200.0.2",), (8080,))
    new, changed = churn(p, 0.1, 1)
    assert changed == 100 and len(new.allow) == 1000
    before, after = {e.peer for e in p.allow}, {e.peer for e in new.allow}
    assert len(before - after) == 100 and len(after - before) == 100
    assert new.allow[-1] == p.allow[-1]  # the peer the load comes from stays
    assert len(after) == 1000  # no peer twice
    assert churn(p, 0.1, 1) == (new, 100)  # deterministic per generation
    again, _ = churn(new, 0.1, 2)
    assert {e.peer for e in again.allow} != after
    assert parse_policy(again.to_json()) == again  # what the daemon writes reads back
    with pytest.raises(PolicyError, match="fraction"):
        churn(p, 0.0, 1)
    assert churn(generate_policy(1, ("10.200.0.2",), (8080,)), 0.5, 1)[1] == 0
    assert churn(parse_policy(GOOD), 0.5, 1)[1] == 0  # IPv6 and other peers are never fillers
