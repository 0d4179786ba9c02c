"""Typed ledger contents for tests: host facts, planned rows and run manifests."""

from __future__ import annotations

from dataclasses import replace

from contracts.addresses import CarbonAddress, RenderUrl
from contracts.manifest import (
    CampaignInfo,
    GraphiteTarget,
    HostFacts,
    LabFacts,
    Levels,
    RunManifest,
)
from harness.ledger import PlannedRow

FACTS = HostFacts("h", "6.1", None, 2, "3.11", "0.1.0")


def planned(run_id: str, seq: int, levels: Levels, repeat: int = 1) -> PlannedRow:
    d = dict(levels)
    return PlannedRow(run_id, seq, str(d["mode"]), int(d["rate"]), repeat, levels)


def manifest(
    run_id: str,
    levels: Levels,
    *,
    cid: str = "c1",
    render_url: str = "http://127.0.0.1:8080",
    carbon: str = "127.0.0.1:2003",
    agent_version: str | None = None,
    workload_cpus: str = "1",
    host: str = "h",
) -> RunManifest:
    info = CampaignInfo(
        cid,
        "c",
        "2026-11-27",
        "linux",
        replace(FACTS, host=host),
        GraphiteTarget(RenderUrl.parse(render_url), CarbonAddress.parse(carbon), "tare"),
        "var/campaigns",
    )
    lab = LabFacts("lab1", "namespaces", workload_cpus=workload_cpus, workload_interface="tare0")
    return RunManifest(info, run_id, 1, levels, 1, lab=lab, agent_version=agent_version)
