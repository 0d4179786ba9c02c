"""What tare tells Grafana besides the series: alert and agent-version events (their tags are what
the dashboards' annotation queries ask for), and the lab-health points."""

from __future__ import annotations

import json

from alerting import marks
from alerting.evaluate import Alert
from contracts.events import AgentVersionEvent, SteadyEnd
from contracts.manifest import CampaignRecord, RunRecord, levels_of
from contracts.paths import CalibrationStat, HealthMetric
from contracts.states import AlertKind, CampaignState, RunState
from dashboards import build
from dashboards.common import Shape
from pipeline import health

NIGHT_TS = 1796083200  # 2026-12-01


def _alert(cell: str = "enforced.rate_1000.policy_size_1000") -> Alert:
    return Alert(AlertKind.REGRESSION, "linux", "quickstart", cell, "2026-12-01", ())


def test_a_new_alert_is_an_event_at_the_night_its_change_began() -> None:
    (e,) = marks.new_alerts([("a1b2c3", _alert())])
    assert e.when == NIGHT_TS and e.state == "new"
    assert e.tags() == ["tare", "alert", "regression", "quickstart", "enforced", "rate-1000", "new"]
    assert e.what == "tare alert a1b2c3 regression enforced.rate_1000.policy_size_1000: new"
    assert json.loads(e.data())["summary"].startswith("regression: ")
    later = marks.state_changed("a1b2c3", _alert(), "acknowledged", "on it", 1796090000)
    assert later.tags()[-1] == "acknowledged" and later.when == 1796090000
    assert "(on it)" in later.summary


def test_an_environment_alert_has_no_mode_or_rate_tag() -> None:
    (e,) = marks.new_alerts([("x", _alert("*"))])
    assert e.tags() == ["tare", "alert", "regression", "quickstart", "new"]


def test_agent_versions_are_an_event_only_when_they_change() -> None:
    versions = {
        ("quickstart", "2026-11-29", "enforced"): ("1.0",),
        ("quickstart", "2026-11-30", "enforced"): ("1.0",),
        ("quickstart", "2026-12-01", "enforced"): ("1.1",),
        ("quickstart", "2026-12-01", "idle"): ("1.1",),
    }
    events = marks.version_changes(versions)
    assert [(e.mode, e.before, e.after, e.when) for e in events] == [
        ("enforced", (), ("1.0",), NIGHT_TS - 2 * 86400),
        ("enforced", ("1.0",), ("1.1",), NIGHT_TS),
        ("idle", (), ("1.1",), NIGHT_TS),
    ]
    assert events[1].what == "tare agent quickstart enforced: 1.0 -> 1.1"
    assert events[1].tags() == ["tare", "agent-version", "quickstart", "enforced"]


def test_every_annotation_the_dashboards_ask_for_is_one_tare_posts() -> None:
    posted = [
        ["tare", "run", "quickstart", "enforced", "rate-1000", "done", "r1"],
        SteadyEnd("r1", 5).tags(),
        marks.new_alerts([("a", _alert())])[0].tags(),
        AgentVersionEvent("quickstart", "enforced", (), ("1",), 5).tags(),
    ]
    values = {"$campaign": "quickstart", "$run_id": "r1"}
    for name, doc in build.documents(Shape()).items():
        for tags in build.annotation_tags(doc):
            wanted = {values.get(t, t) for t in tags}
            assert any(wanted <= set(p) for p in posted), (name, tags)


def _run(seq: int, status: RunState, rate: int, achieved: float | None) -> RunRecord:
    levels = levels_of({"mode": "enforced", "rate": rate})
    return RunRecord(
        f"r{seq}",
        "c1",
        seq,
        "enforced",
        rate,
        1,
        levels,
        status,
        None,
        None,
        None,
        None,
        None,
        achieved,
        None,
    )


def test_the_lab_health_of_a_night() -> None:
    campaign = CampaignRecord(
        "c1",
        "quickstart",
        "2026-12-01",
        "linux",
        "q.toml",
        "h",
        1.0,
        None,
        CampaignState.FINISHED,
        None,
    )
    rows = [
        _run(1, RunState.DONE, 1000, 995.0),
        _run(2, RunState.INVALID, 1000, 700.0),
        _run(3, RunState.DISTURBED, 5000, None),
        _run(4, RunState.SKIPPED, 5000, None),
    ]
    points = {p: v for p, v, ts in health.campaign_points("tare", campaign, rows) if ts == NIGHT_TS}
    root = "tare.lab.health.linux.quickstart."
    assert points[root + HealthMetric.RUNS] == 4
    assert points[root + HealthMetric.SKIPPED] == 1
    assert points[root + HealthMetric.DONE] == 1 and points[root + HealthMetric.INVALID] == 1
    assert points[root + HealthMetric.DISTURBED] == 1 and points[root + HealthMetric.FAILED] == 0
    assert points[root + HealthMetric.ACHIEVED_MIN] == 0.7
    assert points[root + HealthMetric.ACHIEVED_MEAN] == (0.995 + 0.7) / 2
    (p,) = health.calibration_points(
        "tare", "web-1", 5000, 9, [("cpu_cgroup", CalibrationStat.AA_MDE, 1.5)]
    )
    assert p == ("tare.lab.calibration.web-1.rate_5000.cpu_cgroup.aa_mde", 1.5, 9)
