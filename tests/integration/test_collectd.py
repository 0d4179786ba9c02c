"""The stack's collectd writes host metrics that read back from Graphite."""

from __future__ import annotations

import time

import pytest

from pipeline.graphite import GraphiteClient
from tare.stack import collectd
from tests.conftest import Stack
from tests.poll import wait_for

pytestmark = pytest.mark.skipif(collectd.binary() is None, reason="collectd not installed")


def test_collectd_runs_with_the_stack(graphite_stack: Stack) -> None:
    info = graphite_stack.info["collectd"]
    assert isinstance(info, dict)
    assert info["running"] is True


def test_collectd_host_metrics_read_back(graphite_stack: Stack) -> None:
    client = GraphiteClient(graphite_stack.render_url)
    hosts = wait_for(lambda: client.find("tare.hosts.*"), what="collectd host node")
    host = hosts[0].path

    def plugin_names() -> set[str] | None:
        names = {node.path.rsplit(".", 1)[1] for node in client.find(f"{host}.*")}
        return names if {"cpu", "memory", "load"} <= names else None

    plugins = wait_for(plugin_names, what="cpu, memory and load plugins")
    assert "interface" in plugins
    now = int(time.time())

    def used() -> list[tuple[int, float]] | None:
        series = client.render([f"{host}.memory.memory.used"], now - 60, now + 5)
        values = series[0].values() if series else []
        return values if len(values) >= 2 else None

    values = wait_for(used, timeout_s=30, what="memory.used points")
    assert all(v > 0 for _, v in values)
    cores = client.find(f"{host}.cpu.*")
    assert len(cores) >= 1
