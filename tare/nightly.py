"""``tare nightly``: the whole night in one command for cron, systemd and Jenkins: the stack
checked, the campaign run (tonight's interrupted one resumed), analyzed, alerted on, reported.

Each stage's outcome is kept and told; a stage that needs a service that is down is reported
as not run, and the others still run. The exit code is the worst outcome: 4 a service down, then
5 a run not valid, then 1 a regression (only when gating), else 0. An interrupt stops the night
(130, the campaign left resumable); a crash is a crash (70), never 1.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from collectors.carbon import unreachable
from contracts.errors import ExitCode, TareError, exit_code_for
from contracts.paths import canary_path
from contracts.states import CampaignState
from harness.ledger import Ledger
from pipeline.graphite import GraphiteClient, GraphiteUnavailable
from tare import run as tr
from tare.cli_alert import check_alerts
from tare.cli_campaign import analyze_campaign, build_report
from tare.config import Campaign
from tare.stack.settings import StackSettings

T = TypeVar("T")
RESUME_WITHIN_S = 18 * 3600  # an interrupted campaign younger than this is tonight's
# the worst first: a service down, a bad state file or input, a usage error, a run not valid,
# a regression (only when gating)
ORDER = (
    ExitCode.SERVICE_UNAVAILABLE,
    ExitCode.BAD_INPUT,
    ExitCode.USAGE,
    ExitCode.RUN_INVALID,
    ExitCode.REGRESSION,
)


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    code: int  # 0 done; else the exit code of what went wrong
    message: str


@dataclass
class Night:
    campaign: str
    stages: list[Stage] = field(default_factory=list)
    campaign_id: str | None = None
    resumed: bool = False
    cells: int = 0
    runs: int = 0
    not_valid: list[str] = field(default_factory=list)
    why_not_valid: dict[str, str] = field(default_factory=dict)  # run id -> "status: reason"
    analysis: Any = None
    alerts: Any = None  # the alert cycle's outcome
    regressions: list[str] = field(default_factory=list)
    report: Path | None = None
    started: float = field(default_factory=time.time)

    def stage(self, name: str, work: Callable[[], T]) -> T | None:
        """Run one stage; a TareError becomes its outcome (other exceptions are crashes)."""
        try:
            value = work()
        except TareError as exc:
            self.stages.append(Stage(name, int(exit_code_for(exc)), str(exc)))
            return None
        self.stages.append(Stage(name, 0, "done"))
        return value

    def skip(self, name: str, why: str, code: int = int(ExitCode.SERVICE_UNAVAILABLE)) -> None:
        self.stages.append(Stage(name, code, f"not run: {why}"))

    def exit_code(self, gate: bool) -> int:
        codes = {s.code for s in self.stages if s.code}
        if self.not_valid:
            codes.add(int(ExitCode.RUN_INVALID))
        if gate and self.regressions:
            codes.add(int(ExitCode.REGRESSION))
        return next((int(c) for c in ORDER if int(c) in codes), max(codes, default=0))


def stack_problem(campaign: Campaign) -> str | None:
    """Why the campaign's Graphite cannot take a night now (carbon or graphite-web down)."""
    g = campaign.graphite
    why = unreachable(g.carbon)
    if why is not None:
        return f"carbon at {g.carbon} unreachable ({why})"
    try:
        GraphiteClient(str(g.render_url), timeout_s=10).find(canary_path(g.prefix))
    except GraphiteUnavailable as exc:
        return f"graphite-web at {g.render_url}: {exc}"
    return None


def readable(client: GraphiteClient, point: tuple[str, float, int], timeout_s: float = 30) -> bool:
    """Wait until graphite-web returns a point just written to carbon (carbon takes a moment to
    receive and cache it); False after ``timeout_s`` (the alert stage then says what it saw)."""
    path, _, ts = point
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = client.render([path], ts - 3600, ts + 3600)
            if found and found[0].values():
                return True
        except GraphiteUnavailable:
            pass
        time.sleep(0.5)
    return False


def tonight_to_resume(state_dir: Path, campaign: Campaign, now: float) -> bool:
    """Resume when this campaign's latest unfinished run was interrupted tonight (started less
    than 18 h ago) with the same config; anything older or changed starts a new campaign."""
    path = state_dir / "ledger.db"
    if not path.exists():
        return False
    ledger = Ledger(path)
    try:
        found = ledger.latest_unfinished(campaign.name)
        if found is None or found[1] != tr.config_hash(campaign):
            return False
        record = ledger.campaign(found[0])
    finally:
        ledger.close()
    return (
        record is not None
        and record.status is CampaignState.RUNNING
        and now - record.started < RESUME_WITHIN_S
    )


def run_night(
    campaign: Campaign,
    settings: StackSettings,
    notify: str = "auto",
    slack_secrets: Path | None = None,
) -> Night:
    night = Night(campaign.name)
    down = stack_problem(campaign)
    if down is not None:
        night.skip("stack", down)
        for name in ("run", "analyze", "alert", "report"):
            night.skip(name, "Graphite is down")
        return night
    night.stages.append(Stage("stack", 0, "carbon and graphite-web answer"))
    night.resumed = tonight_to_resume(settings.state_dir, campaign, time.time())
    summary = night.stage(
        "run", lambda: tr.run(campaign, settings.state_dir, night.resumed, stream=sys.stderr)
    )
    if summary is None:
        for name in ("analyze", "report"):
            night.skip(name, "the campaign did not run", code=0)
    else:
        night.campaign_id = summary.campaign_id
        night.runs = summary.ran + summary.skipped
        night.not_valid = sorted(summary.bad)
        night.why_not_valid = {k: f"{v.status}: {v.reason}" for k, v in summary.bad.items()}
        bad = [f"run {k}: {v.status}: {v.reason}" for k, v in sorted(summary.bad.items())]
        if summary.aborted or bad:
            why = f"aborted: {summary.aborted}" if summary.aborted else f"{len(bad)} not valid"
            night.stages[-1] = Stage("run", int(ExitCode.RUN_INVALID), "; ".join([why, *bad]))
        analyzed = night.stage("analyze", lambda: analyze_campaign(settings, summary.campaign_id))
        if analyzed is not None:
            night.analysis, delivery, carbon, points = analyzed
            night.cells = len({o.cell for o in night.analysis.overheads})
            if delivery is not None and not delivery.sent:
                night.stages[-1] = Stage(
                    "analyze",
                    int(ExitCode.SERVICE_UNAVAILABLE),
                    delivery.describe("nightly points", carbon),
                )
            elif points:  # the alert stage reads them back: wait until carbon has them
                readable(GraphiteClient(str(campaign.graphite.render_url), 10), points[-1])
    night.alerts = night.stage(
        "alert",
        lambda: check_alerts(settings, campaign.path, notify=notify, slack_secrets=slack_secrets),
    )
    if night.alerts is not None:
        from alerting import cycle

        night.regressions = [i for i, _ in cycle.regressions(night.alerts.new)]
        delivery = night.alerts.delivery
        if delivery is not None and delivery.error:
            night.stages[-1] = Stage(
                "alert",
                int(ExitCode.SERVICE_UNAVAILABLE),
                f"{delivery.error}; {delivery.kept} message(s) kept in the outbox",
            )
    if night.campaign_id is not None:
        cid = night.campaign_id
        night.report = night.stage("report", lambda: build_report(settings, cid, None))
    return night
