"""Points written to the real carbon read back through the real graphite-web."""

from __future__ import annotations

import math
import pickle
import socket
import struct
import time
import uuid

import graphyte

from contracts.kpis import BY_NAME
from pipeline.fetch import RunRef, fetch_run, series_paths
from pipeline.graphite import GraphiteClient, Series
from tests.conftest import Stack
from tests.poll import wait_for


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _render_value(client: GraphiteClient, target: str, ts: int) -> list[Series] | None:
    found = client.render([target], ts - 10, ts + 10)
    return found if any(s.values() for s in found) else None


def test_graphyte_point_reads_back_through_render_and_find(graphite_stack: Stack) -> None:
    uid = _uid()
    ts = int(time.time())
    sender = graphyte.Sender(graphite_stack.carbon_host, port=graphite_stack.carbon_port)
    sender.send(f"tare.test.{uid}.value", 42.5, timestamp=ts)
    client = GraphiteClient(graphite_stack.render_url)
    series = wait_for(lambda: _render_value(client, f"tare.test.{uid}.value", ts), what="render")
    assert series[0].values() == [(ts, 42.5)]
    nodes = wait_for(lambda: client.find(f"tare.test.{uid}.*"), what="find")
    assert [(n.path, n.leaf) for n in nodes] == [(f"tare.test.{uid}.value", True)]


def test_tagged_series_reads_back_with_series_by_tag(graphite_stack: Stack) -> None:
    uid = _uid()
    ts = int(time.time())
    sender = graphyte.Sender(graphite_stack.carbon_host, port=graphite_stack.carbon_port)
    sender.send("tare.test.tagged", 7.0, timestamp=ts, tags={"run": uid, "kpi": "cpu"})
    sender.send("tare.test.tagged", 9.0, timestamp=ts, tags={"run": uid, "kpi": "mem"})
    client = GraphiteClient(graphite_stack.render_url)

    def both() -> list[Series] | None:
        found = client.render([f"seriesByTag('run={uid}')"], ts - 10, ts + 10)
        return found if len([s for s in found if s.values()]) == 2 else None

    series = sorted(wait_for(both, what="seriesByTag"), key=lambda s: s.tags["kpi"])
    assert [s.tags["kpi"] for s in series] == ["cpu", "mem"]
    assert [s.values() for s in series] == [[(ts, 7.0)], [(ts, 9.0)]]
    assert all(s.tags["run"] == uid for s in series)


def test_pickle_receiver_accepts_batches(graphite_stack: Stack) -> None:
    uid = _uid()
    ts = int(time.time())
    batch = [(f"tare.test.{uid}.p{i}", (ts, float(i))) for i in range(3)]
    payload = pickle.dumps(batch, protocol=2)
    with socket.create_connection((graphite_stack.carbon_host, graphite_stack.pickle_port)) as s:
        s.sendall(struct.pack("!L", len(payload)) + payload)
    client = GraphiteClient(graphite_stack.render_url)

    def three() -> list[Series] | None:
        found = client.render([f"tare.test.{uid}.*"], ts - 10, ts + 10)
        return found if len([x for x in found if x.values()]) == 3 else None

    series = wait_for(three, what="pickled points")
    assert sorted(v for s in series for _, v in s.values()) == [0.0, 1.0, 2.0]


def test_one_value_per_second_survives(graphite_stack: Stack) -> None:
    """Carbon keeps one value per second: a later point for the same second replaces it."""
    uid = _uid()
    ts = int(time.time())
    sender = graphyte.Sender(graphite_stack.carbon_host, port=graphite_stack.carbon_port)
    for second in range(5):
        sender.send(f"tare.test.{uid}.seq", float(second), timestamp=ts - 4 + second)
    client = GraphiteClient(graphite_stack.render_url)

    def five() -> list[tuple[int, float]] | None:
        found = client.render([f"tare.test.{uid}.seq"], ts - 10, ts + 10)
        values = found[0].values() if found else []
        return values if len(values) == 5 else None

    assert wait_for(five, what="five points") == [(ts - 4 + i, float(i)) for i in range(5)]


def test_a_workload_of_two_cores_reads_as_the_sum_of_their_series(graphite_stack: Stack) -> None:
    """``cpu_workload_core`` of a workload pinned to cores 2-3 is their two series added up,
    second by second; a second one core lacks is missing, never half a figure."""
    run_id = f"cores{_uid()}"
    ts = int(time.time()) - 5
    kpi = BY_NAME["cpu_workload_core"]
    ref = RunRef(run_id, "h", "tare", ts, ts + 3, ("2", "3"), None)
    paths = series_paths(ref, kpi)
    assert paths == tuple(f"tare.runs.{run_id}.h.tare.cpu_{c}.busy_pct" for c in ("2", "3"))
    sender = graphyte.Sender(graphite_stack.carbon_host, port=graphite_stack.carbon_port)
    for t, (two, three) in enumerate([(10.0, 30.0), (20.0, 5.0), (40.0, None)]):
        sender.send(paths[0], two, timestamp=ts + t)
        if three is not None:
            sender.send(paths[1], three, timestamp=ts + t)
    client = GraphiteClient(graphite_stack.render_url)

    def all_in() -> dict[str, list[float]] | None:
        got = fetch_run(client, ref, [kpi], required=False)
        done = len(got) == 3 and got["value"].notna().sum() == 2
        return {"time": got["time"].tolist(), "value": got["value"].tolist()} if done else None

    frame = wait_for(all_in, what="the two cores' series")
    assert frame["time"] == [ts, ts + 1, ts + 2]  # the window's first second included
    assert frame["value"][:2] == [40.0, 25.0]
    assert math.isnan(frame["value"][2])
