"""``tare nightly`` without a lab: the exit code of a night, its JUnit file, a night whose
Graphite is down (every stage reported, exit 4)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from contracts.manifest import levels_of
from pipeline import junit
from pipeline.analysis import Overhead
from pipeline.stats import Comparison
from tare.nightly import Night, Stage
from tests.conftest import ROOT, free_ports, run_tare


def overhead(kpi: str, delta: float, inferred: bool = True, judged: bool = True) -> Overhead:
    nan = float("nan")
    method = "welch" if inferred else "no inference (1 vs 1 runs)"
    p = 0.2 if inferred else nan
    lo, hi = (delta - 1, delta + 1) if inferred else (nan, nan)
    return Overhead(
        cell=levels_of({"mode": "enforced", "rate": 1000, "policy_size": 1000}),
        baseline_cell=levels_of({"mode": "baseline", "rate": 1000}),
        kpi=kpi,
        unit="pp of a core",
        baseline_mean=10.0,
        contender_mean=10.0 + delta,
        absolute=Comparison(delta, lo, hi, p, 0.5, 3, 3, method),
        relative_pct=delta * 10,
        relative_ci=None,
        pvalue=p,
        significant=False,
        mde=0.5 if inferred else nan,
        method=method,
        judged=judged,
    )


@pytest.mark.parametrize(
    ("codes", "invalid", "regressions", "gate", "expected"),
    [
        ([0, 0, 0, 0, 0], False, False, False, 0),
        ([0, 0, 0, 0, 0], False, True, False, 0),  # a regression fails the night only when asked
        ([0, 0, 0, 0, 0], False, True, True, 1),
        ([0, 5, 0, 0, 0], True, True, True, 5),  # an invalid run outranks a regression
        ([0, 5, 0, 4, 0], True, True, True, 4),  # a service down outranks both
        ([0, 0, 3, 0, 0], False, False, True, 3),  # a bad state file
    ],
)
def test_the_worst_outcome_is_the_exit_code(
    codes: list[int], invalid: bool, regressions: bool, gate: bool, expected: int
) -> None:
    night = Night("c")
    night.stages = [Stage(n, c, "") for n, c in zip(("a", "b", "c", "d", "e"), codes, strict=True)]
    night.not_valid = ["r1"] if invalid else []
    night.regressions = ["A1"] if regressions else []
    assert night.exit_code(gate) == expected


def test_junit_has_one_case_per_cell_and_judged_kpi() -> None:
    items = [
        overhead("cpu_cgroup", 2.5),
        overhead("cpu_all", 0.1),
        overhead("mem_cgroup", 0.0, inferred=False),
        overhead("mem_available", 3.0, judged=False),
    ]
    cell = "enforced.rate_1000.policy_size_1000"
    cases = junit.cases("linux", "q", items, {(cell, "cpu_cgroup"): "A1 threshold: over 2"})
    assert [(c.name, c.outcome) for c in cases] == [
        ("cpu_cgroup", junit.Result.FAILURE),
        ("cpu_all", junit.Result.PASSED),
        ("mem_cgroup", junit.Result.SKIPPED),
    ]
    assert (
        cases[0].message
        == "A1 threshold: over 2; tonight +2.50 pp of a core [+1.50, +3.50] (welch)"
    )
    xml = junit.render(
        "tare nightly q",
        [*cases, junit.Case("linux.q.stages", "run", junit.Result.ERROR, "x")],
        "t",
    )
    suite = ET.fromstring(xml.split("\n", 1)[1]).find("testsuite")
    assert suite is not None
    assert (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("errors"),
        suite.get("skipped"),
    ) == (
        "4",
        "1",
        "1",
        "1",
    )
    first = suite.find("testcase")
    assert first is not None and first.get("classname") == f"linux.q.{cell}"
    assert not math.isnan(float(first.get("time") or "nan"))


def test_junit_skips_what_an_adaptive_night_left_too_noisy() -> None:
    wide = overhead("cpu_workload_core", 2.5)
    cases = junit.cases("linux", "q", [wide], {}, {(wide.cell, "cpu_workload_core")})
    assert cases[0].outcome is junit.Result.SKIPPED
    assert cases[0].message.startswith("too noisy tonight: +2.50 pp of a core [+1.50, +3.50]")


def test_a_night_with_graphite_down_reports_every_stage_and_exits_4(tmp_path: Path) -> None:
    (dead,) = free_ports(1)
    text = (ROOT / "examples" / "quickstart.toml").read_text()
    text = text.replace('carbon = "127.0.0.1:2003"', f'carbon = "127.0.0.1:{dead}"')
    text = text.replace('output_dir = "../var/campaigns"', f'output_dir = "{tmp_path / "out"}"')
    conf = tmp_path / "q.toml"
    conf.write_text(text)
    xml = tmp_path / "junit.xml"
    state = ("--state-dir", str(tmp_path / "s"))
    res = run_tare("nightly", str(conf), *state, "--json", "--junit", str(xml))
    assert res.code == 4, res.err
    night = json.loads(res.out)
    assert [s["name"] for s in night["stages"]] == ["stack", "run", "analyze", "alert", "report"]
    assert all(s["code"] == 4 for s in night["stages"])
    assert f"carbon at 127.0.0.1:{dead} unreachable" in night["stages"][0]["message"]
    assert night["exit"] == 4 and night["report"] is None
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "5"
    res = run_tare("nightly", str(conf), *state)
    assert res.code == 4 and "Traceback" not in res.err
    assert res.out.strip().splitlines()[-1] == (
        "nightly quickstart: 0 cells, 0 invalid runs, alerts not checked, report not written; "
        "exit 4"
    )
