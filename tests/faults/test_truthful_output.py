"""Verbs say what happened to their points: with carbon unreachable, `tare analyze` says how
many points wait in which spool (exit 4, its tables still written), and the next verb that
reaches carbon sends them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from collectors.sender import CarbonSender, deliver
from contracts.addresses import CarbonAddress
from pipeline.graphite import GraphiteClient
from tests.conftest import Stack, free_ports, run_tare
from tests.night import Night
from tests.poll import wait_for


def _spooled_lines(spool: Path) -> int:
    return sum(p.read_text().count("\n") for p in spool.glob("*.spool"))


@pytest.mark.xdist_group("night")  # one worker builds the shared night
@pytest.mark.solo  # the shared night is built in the solo tier
def test_analyze_with_carbon_down_says_spooled_and_the_next_analyze_sends(
    shared_night: Night, tmp_path: Path
) -> None:
    """On a copy of the shared night's state (tests/night.py): its spool is this test's."""
    state = shared_night.copy_state(tmp_path / "s")
    (closed,) = free_ports(1)
    out = tmp_path / "tables"
    args = ("analyze", "--latest", "--out", str(out), "--state-dir", str(state))
    down = run_tare(*args, "--carbon", f"127.0.0.1:{closed}")
    assert down.code == 4, down.err
    spool = state / "spool" / "analyze"
    waiting = _spooled_lines(spool)
    assert waiting > 0, (down.out, down.err)
    assert f"{waiting} nightly points spooled (carbon at 127.0.0.1:{closed} unreachable)" in (
        down.out
    )
    assert "written to Graphite" not in down.out
    assert f"{spool}: {waiting} points wait there" in down.err
    assert list(out.glob("*/overhead.csv"))  # the tables were still written

    up = run_tare(*args, "--json")
    assert up.code == 0, up.err
    data = json.loads(up.out)
    assert data["written_points"] == waiting and data["spooled_points"] == 0
    assert _spooled_lines(spool) == 0
    text = run_tare(*args)
    assert f"{waiting} nightly points written to Graphite" in text.out, text.err


def test_points_one_verb_spooled_are_sent_by_the_next_that_reaches_carbon(
    graphite_stack: Stack, tmp_path: Path
) -> None:
    (closed,) = free_ports(1)
    root = tmp_path / "spool"
    stamp = time.time_ns()
    now = int(time.time())
    points = [(f"tare.faults.spool{stamp}.v", float(i), now - 60 + i) for i in range(5)]
    first = CarbonSender(CarbonAddress("127.0.0.1", closed), root / "capacity")
    first.add(points)
    assert not first.close()
    carbon = CarbonAddress(graphite_stack.carbon_host, graphite_stack.carbon_port)
    delivery = deliver(carbon, root, "analyze", [])
    assert delivery.sent and delivery.earlier_sent == 5
    assert not list((root / "capacity").glob("*.spool"))
    client = GraphiteClient(graphite_stack.render_url)

    def readable() -> list[float] | None:
        found = client.render([points[0][0]], now - 120, now + 5)
        values = [v for s in found for _, v in s.values() if v is not None]
        return values if len(values) == 5 else None

    assert wait_for(readable, timeout_s=30, what="the spooled points") == [0.0, 1, 2, 3, 4]
