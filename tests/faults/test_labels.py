"""Labels are injective: levels that sanitize alike (`a b`, `a.b`) keep apart in Graphite, and
a campaign whose cells would still share a nightly path is refused naming the levels."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collectors.carbon import send_plaintext
from contracts.addresses import CarbonAddress
from contracts.paths import NightlyKey, NightlySeries, NightlyStat
from pipeline.graphite import GraphiteClient
from tare.config import parse_campaign
from tare.configfile import ConfigError
from tare.run import make_plan
from tests.conftest import ROOT, Stack
from tests.poll import wait_for

QUICKSTART = (ROOT / "examples" / "quickstart.toml").read_text()


def with_levels(levels: str) -> str:
    return QUICKSTART.replace("policy_size = [1000]", f"policy_size = [1000]\nflavour = {levels}")


def test_levels_that_sanitize_alike_get_distinct_nightly_paths() -> None:
    campaign = parse_campaign(with_levels('["a b", "a.b", "a_b"]'), "c.toml", Path("c.toml"))
    cells = {r.cell for r in make_plan(campaign).runs}
    paths = {NightlyKey.of("linux", "quickstart", dict(c.levels), "cpu").name for c in cells}
    assert len(paths) == len(cells) > 3


@pytest.mark.parametrize("levels", ['[1, "1"]', '["1.5", 1.5]'])
def test_levels_that_are_one_text_are_refused_naming_both(levels: str) -> None:
    with pytest.raises(ConfigError, match=r"c.toml: factors.flavour: levels .* are one level"):
        parse_campaign(with_levels(levels), "c.toml", Path("c.toml"))


def test_graphite_keeps_both_series(graphite_stack: Stack) -> None:
    """The finding: render returned only the second value; now each level has its own."""
    night = int(time.time()) // 3600 * 3600 - 3600  # nightly series keep 1 h points
    stamp = str(time.time_ns())
    lines = []
    for value, level in ((1.0, "a b"), (2.0, "a.b")):
        key = NightlyKey.of(
            "linux", f"labels{stamp}", {"mode": "idle", "rate": 1, "f": level}, "cpu"
        )
        lines.append((NightlySeries("tare", key, NightlyStat.OVERHEAD).format(), value, night))
    assert lines[0][0] != lines[1][0]
    send_plaintext(CarbonAddress(graphite_stack.carbon_host, graphite_stack.carbon_port), lines)
    client = GraphiteClient(graphite_stack.render_url)

    def both() -> set[float] | None:
        found = client.render([p for p, _, _ in lines], night - 7200, night + 7200)
        got = {v for s in found for _, v in s.values() if v is not None}
        return got if got == {1.0, 2.0} else None

    assert wait_for(both, timeout_s=30, what="both nightly series") == {1.0, 2.0}
