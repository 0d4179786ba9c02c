"""The collectd plugin's logic without the daemon; its types; its rendered config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from collectors.collectd_conf import GraphiteTarget, RunConfig, render_run_config
from collectors.collectd_plugin import Plugin, PluginConfigError, targets_from_config
from collectors.sampler import Sampler, Targets
from collectors.series import GROUPS, all_metric_names, group_template, render_types_db
from tests.unit.fakeproc import FakeHost


@dataclass
class Node:
    key: str
    values: tuple[Any, ...] = ()
    children: list[Node] = field(default_factory=list)


def test_config_block_to_targets() -> None:
    node = Node(
        "Module",
        ("tare",),
        [
            Node("Netns", ("work",)),
            Node("Interface", ("veth0", "veth1")),
            Node("Cgroup", ("tare/workload",)),
            Node("Process", ("server", "nginx")),
            Node("ProcessPidFile", ("agent", "/run/agent.pid")),
        ],
    )
    t = targets_from_config(node)
    assert t.netns == "work"
    assert t.interfaces == ("veth0", "veth1")
    assert t.cgroup == "tare/workload"
    assert [(p.label, p.name, p.pid_file) for p in t.processes] == [
        ("server", "nginx", None),
        ("agent", None, Path("/run/agent.pid")),
    ]
    assert targets_from_config(Node("M", (), [Node("NetnsPid", (42.0,))])).netns_pid == 42


def test_unknown_option_is_named() -> None:
    with pytest.raises(PluginConfigError, match="Colour"):
        targets_from_config(Node("Module", (), [Node("Colour", ("blue",))]))


def test_read_dispatches_every_value(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    sent: list[tuple[str, str, float]] = []
    slept: list[float] = []
    plugin = Plugin(
        dispatch=lambda g, m, v, t: sent.append((g, m, v)) if t == 1000 else None,
        clock=lambda: 999.25,
        sleep=slept.append,
    )
    plugin.sampler = Sampler(Targets(proc_root=host.proc, cgroup_root=host.cg))
    assert plugin.read() == len(sent) > 0
    assert ("memory", "available_bytes", float(6 << 30)) in sent
    assert slept == [0.75]  # sampled at the whole second, as tare's sampler does
    plugin.shutdown()
    assert plugin.sampler is None


def test_types_db_has_one_gauge_per_metric_and_no_clash_with_collectd() -> None:
    lines = render_types_db().splitlines()
    assert len(lines) == len(all_metric_names())
    assert all(line.endswith("\tvalue:GAUGE:U:U") for line in lines)
    system = Path("/usr/share/collectd/types.db")
    if system.exists():
        theirs = {
            line.split()[0]
            for line in system.read_text().splitlines()
            if line and not line.startswith("#")
        }
        assert not set(all_metric_names()) & theirs


def test_group_templates() -> None:
    assert group_template("cpu_3") == "cpu_<n>"
    assert group_template("cpu_all") == "cpu_all"
    assert group_template("net_veth0") == "net_<interface>"
    assert group_template("proc_agent") == "proc_<label>"
    assert set(GROUPS) >= {"memory", "tcp", "cgroup", "conntrack"}


def test_run_config(tmp_path: Path) -> None:
    text = render_run_config(
        RunConfig(
            hostname="lab host",
            interval_s=1,
            base_dir=tmp_path,
            log_file=tmp_path / "l",
            target=GraphiteTarget("127.0.0.1", 2003, "tare.runs.r1."),
            module_path=Path("/src"),
            types_db=tmp_path / "t.db",
            netns="work",
            cgroup="tare/workload",
            processes=(("server", "nginx"),),
            pid_files=(("agent", Path("/run/a.pid")),),
            processes_plugin=True,
        )
    )
    assert 'Prefix "tare.runs.r1."' in text
    assert "StoreRates true" in text
    assert 'Import "collectors.collectd_plugin"' in text
    assert 'Netns "work"' in text
    assert 'ProcessPidFile "agent" "/run/a.pid"' in text
    assert 'ProcessMatch "server" "(^|/)nginx( |$)"' in text
    assert "LoadPlugin interface" not in text  # it would read collectd's own namespace
    assert f'TypesDB "/usr/share/collectd/types.db" "{tmp_path / "t.db"}"' in text


def test_docs_metrics_lists_exactly_the_registry() -> None:
    from collectors.series import markdown_table
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "metrics.md").read_text()
    between = doc.split("<!-- series:begin -->\n", 1)[1].split("<!-- series:end -->", 1)[0]
    assert between == markdown_table()
