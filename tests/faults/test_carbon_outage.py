"""No point lost across a 20-second carbon outage: carbon is stopped mid-stream and restarted,
while tare's sampler and a collectd with tare's plugin (which writes through tare's relay, since
collectd's write_graphite keeps nothing) both collect."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from collectors import collectd as collectd_bin
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


def spooled(spool: Path) -> list[Path]:
    return list(spool.glob("*.spool"))


def collect(
    settings: StackSettings, run_id: str, collector: str, state: Path, duration: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tare",
            "collect",
            "--run-id",
            run_id,
            "--collector",
            collector,
            "--host",
            "h",
            "--duration",
            str(duration),
            "--carbon",
            str(settings.carbon),
            "--state-dir",
            str(state),
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_no_point_lost_across_a_20_second_carbon_outage(
    own_stack: tuple[StackSettings, tuple[str, ...]], tmp_path: Path
) -> None:
    settings, _ = own_stack
    duration = OUTAGE_S + 30
    start = int(time.time())
    kinds = ["standalone"] + (["collectd"] if collectd_bin.binary() else [])
    collectors = {k: collect(settings, f"outage-{k}", k, tmp_path / k, duration) for k in kinds}
    client = GraphiteClient(settings.render_url)

    def writing(kind: str) -> bool:
        """The collector's points read back: carbon went away mid-stream, not before it."""
        target = f"tare.runs.outage-{kind}.h.tare.memory.available_bytes"
        series = client.render([target], start - 5, int(time.time()) + 5)
        return bool(series) and len([v for _, v in series[0].values() if v is not None]) >= 3

    for k in kinds:
        wait_for(partial(writing, k), timeout_s=30, what=f"{k} writing")
    assert procs.stop(settings.pid_dir, "carbon-cache")  # carbon goes away mid-stream
    down_at = time.time()
    for k in kinds:
        spool = tmp_path / k / "spool" / "collect"
        wait_for(partial(spooled, spool), timeout_s=20, what=f"{k} spooling")
    time.sleep(max(0.0, OUTAGE_S - (time.time() - down_at)))
    procs.start(graphite.carbon_specs(settings)[0], settings.pid_dir)
    up_at = time.time()
    results = {k: c.communicate(timeout=duration + 60) for k, c in collectors.items()}
    end = int(time.time())
    for kind, (out, err) in results.items():
        assert collectors[kind].returncode == 0, (kind, err)
        report = json.loads(out)
        assert report["spooled_bytes"] == 0, kind
        assert "spooling until it answers" in err, kind
        for metric in ("memory.available_bytes", "cpu_all.busy_pct"):
            target = f"tare.runs.outage-{kind}.h.tare.{metric}"

            def complete(target: str = target) -> list[int] | None:
                """Every second from the collector's first to its last (each collector starts
                and stops at its own time), a span that holds the whole outage."""
                series = client.render([target], start - 5, end + 5)
                seconds = {t for t, _ in series[0].values()} if series else set()
                if not seconds or not min(seconds) < down_at < up_at < max(seconds):
                    return None
                gaps = [t for t in range(min(seconds) + 2, max(seconds)) if t not in seconds]
                return None if gaps else sorted(seconds)

            seconds = wait_for(complete, timeout_s=30, what=f"every second of {kind} {metric}")
            assert len(seconds) >= duration - 8, (kind, metric, len(seconds))
