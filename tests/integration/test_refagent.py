"""The reference agent for real: nftables in a network namespace this test creates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.poll import wait_for
from tests.sandbox import is_root

pytestmark = pytest.mark.skipif(not is_root(), reason="network namespaces and nftables need root")

# Inside the namespace: listen on 8080, then connect from each source address given.
PROBE = r"""
import json, socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 8080)); srv.listen(64)
out = {}
for src in sys.argv[1:]:
    c = socket.socket(); c.bind((src, 0)); c.settimeout(3)
    try:
        c.connect(("127.0.0.1", 8080)); out[src] = "connected"
    except ConnectionRefusedError:
        out[src] = "refused"
    except OSError as e:
        out[src] = f"error {e}"
    c.close()
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Ns:
    name: str
    state: Path

    def run(self, *argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def agent(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "refagent", "--state-dir", str(self.state), *args)

    def ruleset(self) -> str:
        return self.run("nft", "list", "ruleset", check=True).stdout

    def probe(self, *sources: str) -> dict[str, str]:
        res = self.run(sys.executable, "-c", PROBE, *sources, check=True)
        data = json.loads(res.stdout)
        assert isinstance(data, dict)
        return data

    def status(self) -> dict[str, object]:
        res = self.agent("status", "--json")
        data = json.loads(res.stdout)
        assert isinstance(data, dict)
        return data


@pytest.fixture
def ns(tmp_path: Path) -> Iterator[Ns]:
    name = f"tare-ra{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    space = Ns(name, tmp_path / "agent")
    try:
        space.run("ip", "link", "set", "lo", "up", check=True)
        yield space
    finally:
        space.agent("uninstall")
        subprocess.run(["ip", "netns", "del", name], check=False)


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_enforced_with_10000_entries_then_clean_uninstall(ns: Ns) -> None:
    ok(ns.agent("install", "--policy-size", "10000", "--allow", "127.0.0.2"))
    ok(ns.agent("mode", "enforced"))
    ok(ns.agent("start"))
    status = ns.status()
    assert status["healthy"] is True, status
    assert status["ruleset"] == {
        "table": True,
        "rules": 6,
        "set_elements": {"allow4": 10000, "allow6": 0},
        "rejected": 0,
    }
    listed = ns.ruleset()
    assert listed.count(" . 8080") == 10000
    assert "127.0.0.2 . 8080" in listed and "100.64.39.15 . 8080" in listed
    assert ns.probe("127.0.0.2", "127.0.0.3") == {"127.0.0.2": "connected", "127.0.0.3": "refused"}
    assert ns.status()["ruleset"]["rejected"] == 1  # type: ignore[index]
    pid = status["pid"]
    assert isinstance(pid, int)
    out = ok(ns.agent("uninstall"))
    assert "rules removed" in out
    assert ns.ruleset().strip() == ""
    assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    assert not ns.state.exists()
    assert ns.probe("127.0.0.3") == {"127.0.0.3": "connected"}


def test_policy_updates_applied_by_the_daemon_at_their_rate(ns: Ns) -> None:
    ok(
        ns.agent(
            "install",
            *("--policy-size", "1000", "--allow", "127.0.0.2"),
            *("--updates-per-min", "240", "--churn", "0.2"),
        )
    )
    ok(ns.agent("mode", "enforced"))
    ok(ns.agent("start"))
    first = ns.ruleset()

    def updated() -> dict[str, object] | None:
        applied = ns.status().get("applied")
        ok_ = isinstance(applied, dict) and int(applied.get("updates") or 0) >= 2
        return applied if ok_ and isinstance(applied, dict) else None

    applied = wait_for(updated, timeout_s=15, what="two policy updates")
    assert isinstance(applied["last_update_ms"], float) and applied["last_update_ms"] > 0
    later = ns.ruleset()
    assert later.count(" . 8080") == 1000  # the set keeps its size
    old = {line for line in first.split(",") if "100.64." in line}
    new = {line for line in later.split(",") if "100.64." in line}
    assert len(old - new) >= 200  # at least one update's 20 % of the fillers changed
    assert ns.status()["healthy"] is True
    assert ns.probe("127.0.0.2", "127.0.0.3") == {"127.0.0.2": "connected", "127.0.0.3": "refused"}


def test_enforced_syncs_and_updates_never_replace_the_allow_set(ns: Ns) -> None:
    """Replacing the table let a few allowed connections meet the reject rule (kernel 6.1: the
    new set's elements go live a moment after the rule that looks them up; 10 refused of 400,000
    at 5K/s with a sync every 0.5 s). Once enforced, syncs keep the table and its set (same
    handles) and a policy update changes only its elements."""
    ok(
        ns.agent(
            "install",
            *("--policy-size", "100", "--allow", "127.0.0.2", "--sync-interval", "0.5"),
            *("--updates-per-min", "120", "--churn", "0.5"),
        )
    )
    ok(ns.agent("mode", "enforced"))
    ok(ns.agent("start"))

    def handles() -> str:
        listed = ns.run("nft", "-a", "list", "table", "inet", "tare_refagent", check=True).stdout
        return "\n".join(
            line for line in listed.splitlines() if "# handle" in line and "elements" not in line
        )

    def state() -> tuple[int, int]:
        applied = ns.status()["applied"]
        assert isinstance(applied, dict)
        return int(applied["generation"]), int(applied["updates"] or 0)

    before, fillers = handles(), {line for line in ns.ruleset().split(",") if "100.64." in line}
    gen, updates = state()
    wait_for(
        lambda: state()[0] >= gen + 3 and state()[1] >= updates + 1,
        timeout_s=15,
        what="three syncs and a policy update",
    )
    assert handles() == before  # the same table, chain, rules and sets: never re-created
    after = {line for line in ns.ruleset().split(",") if "100.64." in line}
    assert after != fillers and len(after) == len(fillers)  # the update reached the set
    assert ns.probe("127.0.0.2", "127.0.0.3") == {"127.0.0.2": "connected", "127.0.0.3": "refused"}
    ok(ns.agent("mode", "visibility"))  # a mode change still replaces the table at once
    assert "counter reject" not in ns.ruleset()


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as fh:
        text = fh.read()
    return text[text.rindex(")") + 2] == "Z"


def test_idle_and_visibility_modes(ns: Ns) -> None:
    ok(ns.agent("install", "--policy-size", "100", "--allow", "127.0.0.2", "--sync-interval", "1"))
    ok(ns.agent("start"))
    idle = {"table": False, "rules": 0, "set_elements": {}, "rejected": 0}
    assert ns.status()["ruleset"] == idle
    assert ns.status()["healthy"] is True
    ok(ns.agent("mode", "visibility"))
    # visibility accepts everything and counts new flows per peer
    assert ns.probe("127.0.0.2", "127.0.0.3", "127.0.0.3") == {
        "127.0.0.2": "connected",
        "127.0.0.3": "connected",
    }

    def reported() -> dict[str, object] | None:
        vis = ns.status().get("visibility")
        return vis if isinstance(vis, dict) and vis.get("new_flows", 0) >= 3 else None

    vis = wait_for(reported, timeout_s=15, what="a visibility report")
    assert vis["peers"] == 2
    assert dict(map(tuple, vis["top"])) == {"127.0.0.2": 1, "127.0.0.3": 2}  # type: ignore[arg-type]


def test_linear_style_one_rule_per_entry(ns: Ns) -> None:
    ok(ns.agent("install", "--policy-size", "1000", "--allow", "127.0.0.2", "--style", "linear"))
    ok(ns.agent("mode", "enforced"))
    ok(ns.agent("start"))
    assert ns.status()["ruleset"] == {
        "table": True,
        "rules": 1004,
        "set_elements": {},
        "rejected": 0,
    }
    assert ns.probe("127.0.0.2", "127.0.0.3") == {"127.0.0.2": "connected", "127.0.0.3": "refused"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        (
            '{"workload_ports": [8080], "allow": [{"peer": "10.0.0.999"}]}',
            "allow[0].peer: '10.0.0.999' is not an address or CIDR",
        ),
        ("", "empty file"),
    ],
)
def test_bad_policy_is_refused_and_the_previous_stays(
    ns: Ns, tmp_path: Path, content: str, message: str
) -> None:
    ok(ns.agent("install", "--policy-size", "10", "--allow", "127.0.0.2"))
    ok(ns.agent("mode", "enforced"))
    ok(ns.agent("start"))
    before = ns.ruleset()
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    res = ns.agent("policy", str(bad))
    assert res.returncode == 3
    assert message in res.stderr and "the policy in force stays" in res.stderr
    assert "Traceback" not in res.stderr
    assert ns.ruleset() == before
    assert ns.probe("127.0.0.2", "127.0.0.3") == {"127.0.0.2": "connected", "127.0.0.3": "refused"}


def test_sync_loop_reapplies_and_survives_a_corrupted_policy_file(ns: Ns) -> None:
    ok(ns.agent("install", "--policy-size", "10", "--allow", "127.0.0.2", "--sync-interval", "0.5"))
    ok(ns.agent("mode", "enforced"))
    ok(ns.agent("start"))

    def generation() -> int:
        applied = ns.status()["applied"]
        assert isinstance(applied, dict)
        return int(applied["generation"])

    first = generation()
    wait_for(lambda: generation() >= first + 2, timeout_s=10, what="re-applications")
    (ns.state / "policy.json").write_text("garbage")  # someone broke the file on disk
    log = ns.state / "refagent.log"
    wait_for(
        lambda: "policy not applied, the rules in force stay" in log.read_text(),
        timeout_s=10,
        what="the daemon refusing the broken file",
    )
    assert ns.status()["healthy"] is True
    assert ns.probe("127.0.0.2", "127.0.0.3") == {"127.0.0.2": "connected", "127.0.0.3": "refused"}


def test_a_dead_daemon_fails_the_health_check(ns: Ns) -> None:
    ok(ns.agent("install", "--policy-size", "10", "--allow", "127.0.0.2"))
    ok(ns.agent("start"))
    pid = ns.status()["pid"]
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: ns.agent("status").returncode == 1, timeout_s=10, what="unhealthy status")
    res = ns.agent("status")
    assert "daemon not running" in res.stdout


def test_not_installed_and_usage(ns: Ns) -> None:
    res = ns.agent("start")
    assert res.returncode == 3
    assert "not installed" in res.stderr
    res = ns.agent("install")
    assert res.returncode == 2
    res = ns.agent("mode", "paranoid")
    assert res.returncode == 2
