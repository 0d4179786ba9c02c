"""The dashboards as code: the committed JSON is what the code builds, for the Grafana version
compose pins, on the provisioned datasource; every variable a target or annotation names is
defined; the provisioning and compose files are what Grafana and Docker would read."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import build
from dashboards.common import Shape
from dashboards.graphite import DATASOURCE_UID
from tare.cli_dashboards import shape_of
from tare.stack import graphite
from tests.conftest import ROOT, run_tare

COMMITTED = ROOT / "grafana" / "dashboards"
VARIABLE = re.compile(r"\$(\w+)")


def test_the_committed_json_is_what_the_code_builds(tmp_path: Path) -> None:
    assert build.stale(COMMITTED, Shape()) == []
    res = run_tare("dashboards", "build", "--check", "--out", str(COMMITTED))
    assert res.code == 0, res.err
    out = tmp_path / "out"
    res = run_tare("dashboards", "build", "--out", str(out))
    assert res.code == 0, res.err
    names = sorted(p.name for p in out.glob("*.json"))
    assert names == sorted(p.name for p in COMMITTED.glob("*.json"))
    for name in names:
        assert (out / name).read_text() == (COMMITTED / name).read_text()


def test_a_changed_dashboard_is_named_and_exits_3(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build.write(out, Shape())
    (out / "lab-health.json").write_text("{}\n")
    res = run_tare("dashboards", "build", "--check", "--out", str(out))
    assert res.code == 3
    assert "lab-health.json: not what `tare dashboards build` writes" in res.err
    assert "Traceback" not in res.err


def test_the_default_shape_is_the_nightly_campaigns() -> None:
    assert shape_of(ROOT / "examples" / "nightly.toml") == Shape()


def _datasources(node: Any) -> list[Any]:
    if isinstance(node, dict):
        found = [node["datasource"]] if "datasource" in node else []
        return found + [d for v in node.values() for d in _datasources(v)]
    if isinstance(node, list):
        return [d for v in node for d in _datasources(v)]
    return []


@pytest.mark.parametrize("name", sorted(build.documents(Shape())))
def test_each_dashboard_targets_grafana_11_6_on_the_provisioned_graphite(name: str) -> None:
    doc = build.documents(Shape())[name]
    assert doc["schemaVersion"] == 41 and build.GRAFANA_VERSION == "11.6"
    assert doc["uid"].startswith("tare-") and doc["title"].startswith("tare: ")
    sources = _datasources(doc)
    assert sources and all(d == {"type": "graphite", "uid": DATASOURCE_UID} for d in sources)
    ids = [p["id"] for p in build.panels(doc)]
    assert len(ids) == len(set(ids))
    defined = {v["name"] for v in build.variables(doc)}
    used = {m for t in build.targets(doc) for m in VARIABLE.findall(t)}
    used |= {m for tags in build.annotation_tags(doc) for t in tags for m in VARIABLE.findall(t)}
    used |= {m for v in build.variables(doc) for m in VARIABLE.findall(str(v.get("query", "")))}
    assert used and used <= defined, used - defined
    for p in build.panels(doc):
        if p.get("repeat"):
            assert p["repeat"] in defined


def test_the_trend_panels_band_every_rate_and_draw_the_thresholds() -> None:
    doc = build.documents(Shape())["overhead-trends.json"]
    titled = {str(p.get("title")): p for p in build.panels(doc)}
    cpu = titled["CPU of the workload cgroup (server + agent): $mode"]
    assert [t["target"].rsplit(".", 1)[1] for t in cpu["targets"]] == [
        "overhead, 5, -1)",
        "ci_low, 5, -1)",
        "ci_high, 5, -1)",
    ]
    fills = {
        o["matcher"]["options"]: o["properties"][0]["value"]
        for o in cpu["fieldConfig"]["overrides"]
        if o["matcher"]["id"] == "byName"
    }
    assert fills == {f"rate_{r}.ci_high": f"rate_{r}.ci_low" for r in Shape().rates}
    steps = cpu["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 3.0]  # examples/nightly.toml's [alerts]
    assert "alert above 3 (enforced, 10000/s)" in cpu["description"]


def test_the_provisioning_names_the_uid_the_dashboards_use() -> None:
    ds = yaml.safe_load((ROOT / "grafana/provisioning/datasources/graphite.yaml").read_text())
    (source,) = ds["datasources"]
    assert ds["apiVersion"] == 1 and source["uid"] == DATASOURCE_UID
    assert source["type"] == "graphite" and source["jsonData"]["graphiteVersion"] == "1.1"
    assert source["url"] == "http://graphite:8080"  # compose's service and graphite-web port
    prov = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/tare.yaml").read_text())
    (provider,) = prov["providers"]
    assert (
        provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards"
    )


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_brings_up_graphite_grafana_and_the_scheduler() -> None:
    services = _compose()["services"]
    assert set(services) == {"graphite", "grafana", "tare"}
    assert services["grafana"]["image"] == "grafana/grafana:11.6.0"
    env = services["grafana"]["environment"]
    assert (
        env["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    )
    mounts = services["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts
    mounts = services["graphite"]["volumes"]
    assert "./docker/graphite/carbon.conf:/opt/graphite/conf/carbon.conf:ro" in mounts
    conf = (ROOT / "docker" / "graphite" / "carbon.conf").read_text()
    assert conf == graphite.docker_carbon_conf()
    assert "MAX_CREATES_PER_MINUTE = inf" in conf and "ENABLE_TAGS = True" in conf
    assert services["tare"]["stop_signal"] == "SIGTERM"


def test_docker_compose_parses_the_file() -> None:
    assert shutil.which("docker-compose"), "scripts/bootstrap.sh installs Debian's docker-compose"
    res = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
