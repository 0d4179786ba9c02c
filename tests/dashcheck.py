"""The dashboards against a real Graphite holding a real night: every template variable's query
finds the value a reader would pick, every panel target returns data through ``/render`` and
every annotation query returns events through ``/events``, with the variables expanded to that
night's values. A path the scheme no longer writes fails here, naming the dashboard and target."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from dashboards import build
from dashboards.common import Shape
from pipeline.graphite import GraphiteClient

VARIABLE = re.compile(r"\$(\w+)")
Which = Callable[[str], bool]


def expand(text: str, values: Mapping[str, str]) -> str:
    """Each ``$name`` replaced by its value; one without a value is left as written."""
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _found(client: GraphiteClient, query: str, regex: str | None) -> list[str]:
    names = [n.path.rsplit(".", 1)[-1] for n in client.find(query)]
    if not regex:
        return names
    pattern = re.compile(regex.strip("/"))
    return [m.group(1) for n in names if (m := pattern.match(n))]


def problems(
    render_url: str,
    values: Mapping[str, str],
    start: int,
    end: int,
    which: Which,
    excused: Which = lambda _: False,
    shape: Shape | None = None,
) -> tuple[int, list[str]]:
    """(targets and annotation queries checked, what failed); only targets ``which`` accepts.
    ``excused``: targets that may be empty tonight, for a reason the caller checked (the CI of
    a KPI whose runs did not vary: no interval is written, by design). ``shape``: the night's
    campaign's (default: the nightly example's)."""
    client = GraphiteClient(render_url, timeout_s=30)
    checked, out = 0, []
    for name, doc in build.documents(shape or Shape()).items():
        for v in build.variables(doc):
            if v.get("type") != "query" or v["name"] not in values:
                continue
            query = expand(str(v["query"]), values)
            if not which(query):
                continue
            found = _found(client, query, v.get("regex"))
            if values[v["name"]] not in found and values[v["name"]] != "*":
                out.append(f"{name}: variable {v['name']}: {query} finds {found}")
        for target in build.targets(doc):
            expr = expand(target, values)
            if not which(expr):
                continue
            checked += 1
            series = client.render([expr], start, end)
            if not any(v is not None for s in series for _, v in s.points) and not excused(expr):
                out.append(f"{name}: no data for {expr}")
        for tags in build.annotation_tags(doc):
            wanted = [expand(t, values) for t in tags]
            if not which(" ".join(wanted)):
                continue
            checked += 1
            if not client.events(wanted, start, end):
                out.append(f"{name}: no events tagged {wanted}")
    return checked, out


def calibration(text: str) -> bool:
    return ".lab.calibration." in text


def not_calibration(text: str) -> bool:
    return not calibration(text)
