"""Points written to the real carbon read back through the real graphite-web."""

from __future__ import annotations

import pickle
import socket
import struct
import time
import uuid

import graphyte

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
