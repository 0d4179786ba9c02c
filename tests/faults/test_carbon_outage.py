"""No point lost across a 20-second carbon outage: carbon is stopped mid-stream and restarted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.graphite import GraphiteClient
from tare.stack import graphite, procs
from tare.stack.settings import StackSettings, resolve
from tests.conftest import ROOT, run_tare, stack_args
from tests.poll import wait_for

OUTAGE_S = 20  # longer than the sender's 15 s re-send window, so the spool carries it


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[tuple[StackSettings, tuple[str, ...]]]:
    """A stack of this test's own, since the test stops its carbon."""
    args = (*stack_args(tmp_path / "state"), "--collectd", "off")
    res = run_tare("stack", "up", *args)
    assert res.code == 0, res.err
    ports = dict(zip(args[2::2], args[3::2], strict=False))
    settings = resolve(
        state_dir=tmp_path / "state",
        carbon_port=int(ports["--carbon-port"]),
        pickle_port=int(ports["--pickle-port"]),
        cache_query_port=int(ports["--cache-query-port"]),
        web_port=int(ports["--web-port"]),
    )
    try:
        yield settings, args
    finally:
        run_tare("stack", "down", *args)


def test_no_point_lost_across_a_20_second_carbon_outage(
    own_stack: tuple[StackSettings, tuple[str, ...]], tmp_path: Path
) -> None:
    settings, _ = own_stack
    duration = OUTAGE_S + 30
    start = int(time.time())
    collector = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tare",
            "collect",
            "--run-id",
            "outage",
            "--host",
            "h",
            "--duration",
            str(duration),
            "--carbon",
            str(settings.carbon),
            "--state-dir",
            str(tmp_path / "collector"),
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(8)
    assert procs.stop(settings.pid_dir, "carbon-cache")  # carbon goes away mid-stream
    down_at = time.time()
    spool = tmp_path / "collector" / "spool" / "collect"
    wait_for(lambda: list(spool.glob("*.spool")), timeout_s=20, what="points spooled")
    time.sleep(max(0.0, OUTAGE_S - (time.time() - down_at)))
    procs.start(graphite.carbon_spec(settings), settings.pid_dir)
    out, err = collector.communicate(timeout=duration + 60)
    end = int(time.time())
    assert collector.returncode == 0, err
    report = json.loads(out)
    assert report["spooled_bytes"] == 0
    assert "spooling until it answers" in err
    client = GraphiteClient(settings.render_url)
    first, last = start + 1, start + report["samples"]
    for metric in ("memory.available_bytes", "cpu_all.busy_pct"):
        target = f"tare.runs.outage.h.tare.{metric}"

        def complete(target: str = target) -> list[int] | None:
            series = client.render([target], first - 5, end + 5)
            seconds = {t for t, _ in series[0].values()} if series else set()
            gaps = [t for t in range(first + 2, last) if t not in seconds]
            return None if gaps else sorted(seconds)

        seconds = wait_for(complete, timeout_s=30, what=f"every second of {metric}")
        assert len(seconds) >= report["samples"] - 2
