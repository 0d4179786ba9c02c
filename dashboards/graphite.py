"""What grafana-foundation-sdk lacks for Graphite: a query (a target expression) and an
annotation query on Graphite events by tag, both on the provisioned datasource (by uid)."""

from __future__ import annotations

from typing import Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

# grafana/provisioning/datasources/graphite.yaml provisions it with this uid
DATASOURCE_UID = "tare-graphite"
DATASOURCE = dashboard.DataSourceRef(type_val="graphite", uid=DATASOURCE_UID)


class GraphiteQuery(cogvariants.Dataquery):
    """One Graphite target, as Grafana's Graphite query editor stores it in text mode."""

    def __init__(self, target: str, ref_id: str, hide: bool = False) -> None:
        self.target = target
        self.ref_id = ref_id
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "datasource": DATASOURCE.to_json(),
            "refId": self.ref_id,
            "target": self.target,
            "textEditor": True,
        }
        if self.hide:
            out["hide"] = True
        return out


class Query(cogbuilder.Builder[GraphiteQuery]):
    def __init__(self, target: str, ref_id: str) -> None:
        self._internal = GraphiteQuery(target, ref_id)

    def hide(self) -> Self:
        self._internal.hide = True
        return self

    def build(self) -> GraphiteQuery:
        return self._internal


class EventsTarget(dashboard.AnnotationTarget):
    """Graphite events whose tags include all of ``tags`` (template variables allowed)."""

    def __init__(self, tags: list[str]) -> None:
        super().__init__(tags=tags)

    def to_json(self) -> dict[str, object]:
        return {"fromAnnotations": True, "tags": list(self.tags), "textEditor": True}


class Events(cogbuilder.Builder[dashboard.AnnotationTarget]):
    def __init__(self, tags: list[str]) -> None:
        self._internal = EventsTarget(tags)

    def build(self) -> dashboard.AnnotationTarget:
        return self._internal
