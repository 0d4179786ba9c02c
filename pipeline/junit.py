"""A night as a JUnit XML report, which Jenkins and GitLab show without a plugin: one test case
per cell x judged KPI (failed for a regression or a threshold breach, skipped where there is no
inference or an adaptive night stayed too noisy, the overhead and its CI in the message), and
one per stage that could not run."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from xml.etree import ElementTree as ET

from contracts.paths import NightlyKey
from pipeline.analysis import Levels, Overhead


class Result(StrEnum):
    """A test case's result, named as JUnit's elements are."""

    PASSED = "passed"
    FAILURE = "failure"  # a regression or a threshold breach
    SKIPPED = "skipped"  # no inference
    ERROR = "error"  # a stage that did not run, a run not valid


@dataclass(frozen=True, slots=True)
class Case:
    classname: str
    name: str
    outcome: Result
    message: str = ""


def _figure(o: Overhead) -> str:
    if o.absolute is not None:
        a = o.absolute
        ci = f" [{a.ci_low:+.2f}, {a.ci_high:+.2f}]" if math.isfinite(a.ci_low) else ""
        return f"{a.delta:+.2f} {o.unit}{ci} ({o.method})"
    if o.relative_pct is not None:
        ci = f" [{o.relative_ci[0]:+.2f}, {o.relative_ci[1]:+.2f}]" if o.relative_ci else ""
        return f"{o.relative_pct:+.2f} %{ci} ({o.method})"
    return f"no figure ({o.method})"


def cell_of(platform: str, campaign: str, o: Overhead) -> str:
    """The cell as alerts name it (``mode.rate_R[.factor_level...]``)."""
    return NightlyKey.of(platform, campaign, dict(o.cell), o.kpi).cell


def cases(
    platform: str,
    campaign: str,
    overheads: Iterable[Overhead],
    failing: Mapping[tuple[str, str], str],
    noisy: Collection[tuple[Levels, str]] = (),
) -> list[Case]:
    """``failing``: (cell, kpi) -> why (an alert's words); ``noisy``: (cell levels, kpi) of an
    adaptive night's overheads that stayed too noisy (skipped, saying so)."""
    out = []
    for o in overheads:
        if not o.judged:
            continue
        cell = cell_of(platform, campaign, o)
        classname = f"{platform}.{campaign}.{cell}"
        why = failing.get((cell, o.kpi))
        if why is not None:
            out.append(Case(classname, o.kpi, Result.FAILURE, f"{why}; tonight {_figure(o)}"))
        elif (o.cell, o.kpi) in noisy:
            out.append(Case(classname, o.kpi, Result.SKIPPED, f"too noisy tonight: {_figure(o)}"))
        elif not o.inferred:
            out.append(Case(classname, o.kpi, Result.SKIPPED, _figure(o)))
        else:
            out.append(Case(classname, o.kpi, Result.PASSED, _figure(o)))
    return out


def render(suite: str, items: Sequence[Case], timestamp: str) -> str:
    root = ET.Element("testsuites", name="tare")
    s = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(items)),
        failures=str(sum(c.outcome is Result.FAILURE for c in items)),
        errors=str(sum(c.outcome is Result.ERROR for c in items)),
        skipped=str(sum(c.outcome is Result.SKIPPED for c in items)),
        timestamp=timestamp,
    )
    for c in items:
        case = ET.SubElement(s, "testcase", classname=c.classname, name=c.name, time="0")
        if c.outcome is Result.PASSED:
            ET.SubElement(case, "system-out").text = c.message
        else:  # the element is named as the result
            ET.SubElement(case, c.outcome.value, message=c.message)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
