"""Read from graphite-web's render and find APIs, converting to typed data at the boundary.

This is the only module of the pipeline that talks to Graphite over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from contracts.errors import ErrorKind
from pipeline.errors import PipelineError


class GraphiteUnavailable(PipelineError):
    """graphite-web did not answer, or answered with an error."""

    kind = ErrorKind.SERVICE_UNAVAILABLE


class GraphiteBadResponse(PipelineError):
    """graphite-web answered with something that is not the documented JSON."""

    kind = ErrorKind.SERVICE_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class Series:
    target: str
    tags: dict[str, str]
    points: tuple[tuple[int, float | None], ...]

    def values(self) -> list[tuple[int, float]]:
        """The points that hold a value (missing seconds left out, never filled)."""
        return [(t, v) for t, v in self.points if v is not None]


@dataclass(frozen=True, slots=True)
class Node:
    path: str
    leaf: bool


@dataclass(frozen=True, slots=True)
class GraphiteClient:
    render_url: str
    timeout_s: float = 10.0

    def _request(
        self, endpoint: str, params: dict[str, str | list[str]], post: bool = False
    ) -> Any:
        url = f"{self.render_url.rstrip('/')}/{endpoint}"
        try:
            if post:  # a form body has no URL length limit (gunicorn refuses lines over 4 KB)
                resp = requests.post(url, data=params, timeout=self.timeout_s)
            else:
                resp = requests.get(url, params=params, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise GraphiteUnavailable(f"graphite-web at {self.render_url}: {exc}") from exc
        if resp.status_code != 200:
            raise GraphiteUnavailable(
                f"graphite-web at {self.render_url}: HTTP {resp.status_code} for /{endpoint}"
            )
        try:
            return resp.json()
        except ValueError as exc:
            raise GraphiteBadResponse(f"/{endpoint} did not return JSON") from exc

    def render(self, targets: list[str], start: str | int, end: str | int = "now") -> list[Series]:
        """Fetch series; ``start``/``end`` are epoch seconds or Graphite time expressions."""
        data = self._request(
            "render",
            {"target": targets, "from": str(start), "until": str(end), "format": "json"},
            post=True,
        )
        if not isinstance(data, list):
            raise GraphiteBadResponse("/render did not return a list")
        out: list[Series] = []
        for item in data:
            try:
                points = tuple(
                    (int(ts), None if val is None else float(val)) for val, ts in item["datapoints"]
                )
                tags = {str(k): str(v) for k, v in (item.get("tags") or {}).items()}
                out.append(Series(target=str(item["target"]), tags=tags, points=points))
            except (KeyError, TypeError, ValueError) as exc:
                raise GraphiteBadResponse(f"/render returned a malformed series: {exc}") from exc
        return out

    def find(self, query: str) -> list[Node]:
        data = self._request("metrics/find", {"query": query})
        if not isinstance(data, list):
            raise GraphiteBadResponse("/metrics/find did not return a list")
        return [Node(path=str(n["id"]), leaf=bool(n["leaf"])) for n in data]

    def index(self) -> list[str]:
        """Every metric path graphite-web knows (``/metrics/index.json``)."""
        data = self._request("metrics/index.json", {})
        if not isinstance(data, list):
            raise GraphiteBadResponse("/metrics/index.json did not return a list")
        return [str(p) for p in data]

    def post_event(self, what: str, tags: list[str], when: int, data: str) -> None:
        """An annotation (graphite-web's events API), e.g. one per run for Grafana."""
        url = f"{self.render_url.rstrip('/')}/events/"
        body = {"what": what, "tags": tags, "when": int(when), "data": data}
        try:
            resp = requests.post(url, json=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise GraphiteUnavailable(f"graphite-web at {self.render_url}: {exc}") from exc
        if resp.status_code not in (200, 201):
            raise GraphiteUnavailable(
                f"graphite-web at {self.render_url}: HTTP {resp.status_code} for /events/"
            )

    def events(self, tags: list[str], start: int, end: int) -> list[dict[str, Any]]:
        data = self._request(
            "events/get_data", {"tags": " ".join(tags), "from": str(start), "until": str(end)}
        )
        if not isinstance(data, list):
            raise GraphiteBadResponse("/events/get_data did not return a list")
        return [e for e in data if isinstance(e, dict)]

    def ping(self) -> bool:
        try:
            self._request("metrics/find", {"query": "*"})
        except (GraphiteUnavailable, GraphiteBadResponse):
            return False
        return True
