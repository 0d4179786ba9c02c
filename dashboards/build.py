"""Every dashboard as the JSON Grafana provisions (``grafana/dashboards/*.json``), and what a
test needs to prove them: each panel's Graphite targets and each annotation's event tags."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import drilldown, health, one_night, trends
from dashboards.common import Shape

# grafana-foundation-sdk 1769699379!11.6.0 writes schemaVersion 41: Grafana 11.6
GRAFANA_VERSION = "11.6"


def documents(shape: Shape) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON (as Grafana's file provider reads it)."""
    boards = {
        "overhead-trends.json": trends.build(shape),
        "one-night.json": one_night.build(shape),
        "run-drilldown.json": drilldown.build(),
        "lab-health.json": health.build(),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, board in boards.items():
        doc = json.loads(json.dumps(board.build(), cls=JSONEncoder))
        for i, panel in enumerate(panels(doc), start=1):
            panel["id"] = i  # stable ids (Grafana would number them on load, differently)
        out[name] = doc
    return out


def render(shape: Shape) -> dict[str, str]:
    return {
        name: json.dumps(doc, indent=2, sort_keys=True) + "\n"
        for name, doc in documents(shape).items()
    }


def write(out_dir: Path, shape: Shape) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(shape).items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written


def stale(out_dir: Path, shape: Shape) -> list[str]:
    """The files under ``out_dir`` that differ from what the code builds (or are missing)."""
    out = []
    for name, text in render(shape).items():
        path = out_dir / name
        if not path.is_file() or path.read_text() != text:
            out.append(str(path))
    return out


def panels(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in doc.get("panels") or []:
        yield p
        yield from p.get("panels") or []  # a collapsed row holds its panels


def targets(doc: dict[str, Any]) -> list[str]:
    return [t["target"] for p in panels(doc) for t in p.get("targets") or [] if "target" in t]


def annotation_tags(doc: dict[str, Any]) -> list[list[str]]:
    items = (doc.get("annotations") or {}).get("list") or []
    return [list(a["target"]["tags"]) for a in items if (a.get("target") or {}).get("tags")]


def variables(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list((doc.get("templating") or {}).get("list") or [])
