"""A Graphite cluster on this machine: carbon-c-relay in front of two carbon-caches, read back
through one graphite-web. The relay and graphite-web must name the same cache for every series,
and a cache that goes away for 30 s loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.carbon import send_plaintext
from pipeline.graphite import GraphiteClient
from tare.stack import cluster, graphite, procs
from tare.stack.settings import StackSettings, resolve
from tests.conftest import ROOT, run_tare, stack_args
from tests.poll import wait_for

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/carbon-c-relay"), reason="carbon-c-relay is not installed"
)

SERIES = 20_000
OUTAGE_S = 30


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    state = tmp_path_factory.mktemp("cluster") / "state"
    args = (*stack_args(state, caches=2), "--caches", "2", "--collectd", "off")
    res = run_tare("stack", "up", *args)
    assert res.code == 0, res.err
    ports = dict(zip(args[2:10:2], args[3:10:2], strict=True))
    settings = resolve(
        state_dir=state,
        caches=2,
        carbon_port=int(ports["--carbon-port"]),
        pickle_port=int(ports["--pickle-port"]),
        cache_query_port=int(ports["--cache-query-port"]),
        web_port=int(ports["--web-port"]),
    )
    try:
        yield settings
    finally:
        run_tare("stack", "down", *args)


def graphite_web_picks(s: StackSettings, names: list[str]) -> list[str]:
    """The cache graphite-web's CarbonLink asks for each name, from graphite-web itself."""
    proc = subprocess.run(
        [str(s.graphite_venv / "bin" / "python"), str(ROOT / "tests" / "carbonlink_probe.py")],
        input="\n".join(names) + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, **graphite.env(s)},
        check=True,
        timeout=120,
    )
    return proc.stdout.split()


def files_by_cache(s: StackSettings, under: str) -> dict[str, set[str]]:
    """Series names (dotted) found under ``under`` in each cache's whisper directory."""
    out: dict[str, set[str]] = {}
    for c in cluster.caches(s):
        root = c.whisper_dir / under.replace(".", "/")
        out[c.instance] = {
            under + "." + str(p.relative_to(root).with_suffix("")).replace("/", ".")
            for p in root.rglob("*.wsp")
        }
    return out


def both_writing(s: StackSettings, prefix: str) -> None:
    """Poll until both caches hold series of the run: the stream reaches each of them, so what
    happens to one next happens mid-stream."""

    def written() -> bool:
        held = files_by_cache(s, prefix)
        return bool(held["a"]) and bool(held["b"])

    wait_for(written, timeout_s=30, what=f"series of {prefix} on both caches")


def test_status_names_the_relay_and_every_cache(cluster_stack: StackSettings) -> None:
    res = run_tare("stack", "status", "--state-dir", str(cluster_stack.state_dir), "--json")
    topo = json.loads(res.out)["topology"]
    assert topo["caches"] == 2
    assert topo["relay"]["hash"] == "carbon_ch" and topo["relay"]["pid"]
    assert topo["writers_send_to"] == str(cluster_stack.carbon)
    assert [m["instance"] for m in topo["members"]] == ["a", "b"]
    assert all(m["pid"] for m in topo["members"])


def test_20000_series_through_the_relay_read_back_through_one_render_url(
    cluster_stack: StackSettings,
) -> None:
    s = cluster_stack
    uid = f"cl{int(time.time())}"
    ts = int(time.time()) - 5
    names = [f"tare.runs.{uid}.h{i // 100:03d}.s{i % 100:02d}" for i in range(SERIES)]
    sent = send_plaintext(s.carbon, [(n, float(i), ts) for i, n in enumerate(names)], 30.0)
    assert sent == SERIES
    client = GraphiteClient(s.render_url, timeout_s=60.0)

    def all_read_back() -> dict[str, float] | None:
        found = {
            series.target: v
            for series in client.render([f"tare.runs.{uid}.*.*"], ts - 5, ts + 5)
            for t, v in series.values()
            if t == ts
        }
        return found if len(found) == SERIES else None

    found = wait_for(all_read_back, timeout_s=180, what=f"{SERIES} series through /render")
    assert all(found[n] == float(i) for i, n in enumerate(names))

    held = files_by_cache(s, f"tare.runs.{uid}")
    assert set().union(*held.values()) == set(names)
    assert not held["a"] & held["b"]  # each series lives in one cache
    for instance, series in held.items():  # consistent hashing spreads them, roughly evenly
        assert 0.35 * SERIES < len(series) < 0.65 * SERIES, (instance, len(series))

    # graphite-web asks, for every series, the very cache the relay sent it to (it reads a
    # series' unflushed points from that cache only)
    ordered = sorted(names)
    picks = graphite_web_picks(s, ordered)
    wrong = [n for n, p in zip(ordered, picks, strict=True) if n not in held[p]]
    assert not wrong, f"{len(wrong)} series asked of the wrong cache, e.g. {wrong[:3]}"


def test_tagged_series_read_back_through_the_cluster(cluster_stack: StackSettings) -> None:
    """carbon-c-relay hashes a tagged series by its name alone (so one name's series share a
    cache); they are all read back, tags and all, through the one graphite-web."""
    s = cluster_stack
    uid = f"tg{int(time.time())}"
    ts = int(time.time()) - 5
    names = [f"tare.tagged.{uid}.m{i % 20};run=r{i};kpi=cpu" for i in range(200)]
    send_plaintext(s.carbon, [(n, float(i), ts) for i, n in enumerate(names)])
    client = GraphiteClient(s.render_url, timeout_s=30.0)

    def tagged() -> dict[str, float] | None:
        got = client.render([f"seriesByTag('name=~tare\\.tagged\\.{uid}\\..*')"], ts - 5, ts + 5)
        values = {x.tags["run"]: v for x in got for t, v in x.values() if t == ts}
        return values if len(values) == len(names) else None

    values = wait_for(tagged, timeout_s=60, what="200 tagged series")
    assert values == {f"r{i}": float(i) for i in range(200)}
    files = {
        c.instance: len(list((c.whisper_dir / "_tagged").rglob("*.wsp"))) for c in cluster.caches(s)
    }
    assert sum(files.values()) == 200


def collect_through_the_relay(
    s: StackSettings, run_id: str, state: Path, duration: int
) -> subprocess.Popen[str]:
    tare = ROOT / ".venv" / "bin" / "tare"
    return subprocess.Popen(
        [
            str(tare) if tare.exists() else "tare",
            "collect", "--run-id", run_id, "--collector", "standalone", "--host", "h",
            "--duration", str(duration), "--carbon", str(s.carbon),
            "--state-dir", str(state), "--json",
        ],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def seconds_of(client: GraphiteClient, name: str, start: int, end: int) -> set[int]:
    series = client.render([name], start - 5, end + 5)
    return {t for t, _ in series[0].values()} if series else set()


def test_a_cache_stopped_for_30_seconds_loses_nothing(
    cluster_stack: StackSettings, tmp_path: Path
) -> None:
    """tare's collector writes through the relay while cache b is stopped (SIGSTOP: it takes
    nothing) for 30 s, then continued: the relay queues b's series and hands them over; every
    second of every series is there."""
    s = cluster_stack
    run_id = f"cachestop{int(time.time())}"
    duration = OUTAGE_S + 25
    start = int(time.time())
    collector = collect_through_the_relay(s, run_id, tmp_path / "collect", duration)
    both_writing(s, f"tare.runs.{run_id}")
    b = cluster.caches(s)[1]
    pid = procs.running_pid(s.pid_dir, b.process)
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    down_at = time.time()
    try:
        time.sleep(OUTAGE_S)
    finally:
        os.kill(pid, signal.SIGCONT)
    up_at = time.time()
    out, err = collector.communicate(timeout=duration + 60)
    assert collector.returncode == 0, err
    assert json.loads(out)["spooled_bytes"] == 0
    end = int(time.time())

    prefix = f"tare.runs.{run_id}"
    held = wait_for(lambda: files_by_cache(s, prefix), what="the run's files")
    assert held["b"], "no series of the run hashed to cache b: the outage tested nothing"
    client = GraphiteClient(s.render_url, timeout_s=30.0)
    for name in sorted(held["b"])[:10] + sorted(held["a"])[:3]:

        def complete(name: str = name) -> list[int] | None:
            seconds = seconds_of(client, name, start, end)
            if not seconds or not min(seconds) < down_at < up_at < max(seconds):
                return None
            gaps = [t for t in range(min(seconds) + 2, max(seconds)) if t not in seconds]
            return None if gaps else sorted(seconds)

        seconds = wait_for(complete, timeout_s=60, what=f"every second of {name}")
        assert len(seconds) >= duration - 8, (name, len(seconds))


def test_a_cache_that_dies_loses_at_most_the_second_it_held(
    cluster_stack: StackSettings, tmp_path: Path
) -> None:
    """A cache killed mid-stream and started again 10 s later: the relay queues its series
    meanwhile and hands them over, so nothing after the kill is lost; what the cache had taken
    but not written (carbon-cache keeps it in memory, the last second or so) dies with it,
    as with a single carbon-cache (docs/stack.md)."""
    s = cluster_stack
    run_id = f"cachedies{int(time.time())}"
    duration = 30
    start = int(time.time())
    collector = collect_through_the_relay(s, run_id, tmp_path / "collect", duration)
    both_writing(s, f"tare.runs.{run_id}")
    b = cluster.caches(s)[1]
    assert procs.stop(s.pid_dir, b.process)
    died_at = time.time()
    time.sleep(10)
    procs.start(graphite.carbon_specs(s)[1], s.pid_dir)
    _, err = collector.communicate(timeout=duration + 60)
    assert collector.returncode == 0, err
    end = int(time.time())
    held = wait_for(lambda: files_by_cache(s, f"tare.runs.{run_id}"), what="the run's files")
    assert held["b"]
    client = GraphiteClient(s.render_url, timeout_s=30.0)
    for name in sorted(held["b"])[:10]:

        def settled(name: str = name) -> set[int] | None:
            seconds = seconds_of(client, name, start, end)
            return seconds if seconds and max(seconds) >= end - 3 else None

        seconds = wait_for(settled, timeout_s=60, what=f"{name} after the restart")
        gaps = [t for t in range(min(seconds) + 2, max(seconds)) if t not in seconds]
        assert all(abs(t - died_at) <= 2 for t in gaps), (name, gaps, died_at)
        assert len(gaps) <= 2, (name, gaps)
