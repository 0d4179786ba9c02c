"""A campaign: every planned run not yet finished, in order, each recorded in the ledger before
and after it runs. Interrupted (Ctrl-C) the current run is marked interrupted and the lab torn
down; ``--resume`` then re-runs exactly the runs that are not finished."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from contracts.errors import ErrorKind
from contracts.labels import label
from contracts.manifest import BASELINE, CampaignInfo, HostFacts, RunManifest, RunRecord, levels_of
from contracts.states import CampaignState, RunState
from harness.errors import HarnessError
from harness.lab import Lab
from harness.ledger import Ledger, PlannedRow
from harness.load import describe_errors
from harness.matrix import PlannedRun
from harness.progress import Progress
from harness.runner import Hooks, NotReady, RunnerConfig, RunOutcome, execute_with_reruns

log = logging.getLogger(__name__)


class ResumeRefused(HarnessError):
    kind = ErrorKind.USAGE


@dataclass
class CampaignSummary:
    campaign_id: str
    ran: int = 0
    skipped: int = 0
    reran: int = 0  # disturbed attempts left out and run again
    outcomes: dict[str, RunOutcome] = field(default_factory=dict)
    aborted: str | None = None

    @property
    def bad(self) -> dict[str, RunOutcome]:
        return {k: v for k, v in self.outcomes.items() if v.status is not RunState.DONE}


@dataclass
class FailFast:
    """A mode whose agent failed the same step in ``limit`` of its runs in a row is not tried
    again this night: its remaining runs are skipped, naming the step and the agent's words;
    the other modes go on."""

    limit: int = 2
    streaks: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # step, runs, why

    def record(self, mode: str, outcome: RunOutcome) -> None:
        step = outcome.agent_step if outcome.status is RunState.FAILED else None
        if mode == BASELINE:
            return
        if step is None:
            self.streaks.pop(mode, None)
            return
        before = self.streaks.get(mode)
        runs = before[1] + 1 if before is not None and before[0] == step else 1
        self.streaks[mode] = (step, runs, outcome.reason or "")

    def skip(self, mode: str) -> str | None:
        """Why a run of ``mode`` is not tried, or None."""
        got = self.streaks.get(mode)
        if got is None or got[1] < self.limit:
            return None
        step, runs, why = got
        return f"the agent's {step} step failed in {runs} runs of {mode} in a row: {why}"


def run_id_for(cid: str, run: PlannedRun) -> str:
    return label(f"{cid}-{run.seq:03d}-{run.cell.mode}-{run.cell.rate}-r{run.repeat}")


def start_or_resume(
    ledger: Ledger,
    name: str,
    platform: str,
    config_path: str,
    config_hash: str,
    runs: Sequence[PlannedRun],
    resume: bool,
    facts: HostFacts,
) -> str:
    """A new campaign id with every planned run in the ledger; or, with ``resume``, the latest
    unfinished campaign of this name (refused when its config changed)."""
    if resume:
        found = ledger.latest_unfinished(name)
        if found is None:
            raise ResumeRefused(f"no interrupted campaign {name!r} to resume")
        cid, old_hash = found
        if old_hash != config_hash:
            raise ResumeRefused(
                f"{config_path} changed since campaign {cid} was interrupted; "
                "run without --resume to start anew"
            )
        return cid
    now = time.gmtime()
    cid = label(f"{name}-{time.strftime('%Y%m%dT%H%M%S', now)}-{uuid.uuid4().hex[:4]}")
    ledger.create_campaign(
        cid,
        name,
        time.strftime("%Y-%m-%d", now),
        platform,
        config_path,
        config_hash,
        facts,
        planned_rows(cid, runs),
    )
    return cid


def planned_rows(cid: str, runs: Sequence[PlannedRun]) -> list[PlannedRow]:
    return [
        PlannedRow(
            run_id_for(cid, r),
            r.seq,
            r.cell.mode,
            r.cell.rate,
            r.repeat,
            levels_of(dict(r.cell.levels)),
        )
        for r in runs
    ]


def _with_outcome(manifest: RunManifest, outcome: RunOutcome, earlier: list[str]) -> RunManifest:
    f = outcome.facts
    return dataclasses.replace(
        manifest,
        lab=f.lab,
        agent_version=f.agent_version,
        teardown_problems=f.teardown_problems,
        load_elapsed_s=f.load_elapsed_s,
        load=outcome.summary(),
        disturbance_pct=round(f.disturbance.total_pct, 2) if f.disturbance else None,
        disturbed_attempts=tuple(earlier),
        collection=f.collection,
        probe=f.probe,
    )


def run_campaign(
    ledger: Ledger,
    info: CampaignInfo,
    planned: dict[int, PlannedRun],
    cfg: RunnerConfig,
    make_lab: Callable[[str], Lab],
    hooks: Hooks,
    progress: Progress,
    reruns_disturbed: int = 2,
    more: Callable[[list[RunRecord]], list[PlannedRun]] | None = None,
) -> CampaignSummary:
    """Every planned run not finished, in order; then, while ``more`` (an adaptive night's
    stopping rule, given the campaign's runs so far) plans further rounds, those too."""
    cid = info.campaign_id
    rows = ledger.runs(cid)
    summary = CampaignSummary(cid, skipped=sum(1 for r in rows if r.status.finished))
    seen_ready = any(r.status is RunState.DONE for r in rows)
    fail_fast = FailFast()
    while True:
        for row in [r for r in rows if not r.status.finished]:
            run = planned[row.seq]
            why = fail_fast.skip(run.cell.mode)
            if why is not None:
                what = f"{run.cell.mode} {cfg.profiles.describe(dict(run.cell.levels))}"
                summary.outcomes[row.run_id] = _skip_one(
                    ledger, info, row, run, progress, f"{what} r{run.repeat}", why
                )
                summary.ran += 1
                continue
            outcome, earlier = _run_one(
                ledger, info, row, run, cfg, make_lab, hooks, progress, reruns_disturbed
            )
            fail_fast.record(run.cell.mode, outcome)
            summary.ran += 1
            summary.reran += len(earlier)
            summary.outcomes[row.run_id] = outcome
            seen_ready = seen_ready or outcome.status is RunState.DONE
            if (
                not seen_ready
                and run.cell.mode == BASELINE
                and outcome.reason
                and outcome.reason.startswith(NotReady.PREFIX)
            ):
                # the workload never came up, even without an agent: every run would fail alike
                summary.aborted = outcome.reason
                break
        if summary.aborted or more is None:
            break
        extra = more(ledger.runs(cid))
        if not extra:
            break
        planned.update({r.seq: r for r in extra})
        ledger.add_runs(cid, planned_rows(cid, extra))
        progress.extend(len(extra))
        rows = ledger.runs(cid)
    ledger.finish_campaign(
        cid, CampaignState.ABORTED if summary.aborted else CampaignState.FINISHED
    )
    return summary


def _manifest(info: CampaignInfo, row: RunRecord, run: PlannedRun) -> RunManifest:
    return RunManifest(
        info,
        row.run_id,
        row.seq,
        levels_of(dict(run.cell.levels)),
        run.repeat,
        tuple(levels_of(dict(c.levels)) for c in run.baseline_of),
    )


def _skip_one(
    ledger: Ledger,
    info: CampaignInfo,
    row: RunRecord,
    run: PlannedRun,
    progress: Progress,
    what: str,
    why: str,
) -> RunOutcome:
    """A run not tried (``FailFast``): recorded as skipped with the reason."""
    manifest = _manifest(info, row, run)
    ledger.start_run(row.run_id, manifest)
    progress.start(row.seq, what)
    ledger.finish_run(row.run_id, RunState.SKIPPED, why, manifest, None, None)
    progress.finish(f"{RunState.SKIPPED}: {why}")
    return RunOutcome(RunState.SKIPPED, why)


def _run_one(
    ledger: Ledger,
    info: CampaignInfo,
    row: RunRecord,
    run: PlannedRun,
    cfg: RunnerConfig,
    make_lab: Callable[[str], Lab],
    hooks: Hooks,
    progress: Progress,
    reruns_disturbed: int,
) -> tuple[RunOutcome, list[str]]:
    """One run, recorded before and after: its outcome and the disturbed attempts left out."""
    manifest = _manifest(info, row, run)
    ledger.start_run(row.run_id, manifest)
    load = cfg.profiles.describe(dict(run.cell.levels))
    progress.start(row.seq, f"{run.cell.mode} {load} r{run.repeat}")
    try:
        outcome, earlier = execute_with_reruns(
            row.run_id, run, cfg, make_lab, hooks, reruns_disturbed, progress.note
        )
    except KeyboardInterrupt:
        ledger.interrupt_run(row.run_id)
        progress.finish(RunState.INTERRUPTED.value)
        raise
    ledger.finish_run(
        row.run_id,
        outcome.status,
        outcome.reason,
        _with_outcome(manifest, outcome, earlier),
        outcome.steady,
        outcome.load.achieved_rate if outcome.load else None,
    )
    hooks.run_finished(row.run_id, run, outcome)
    if outcome.load is not None:
        got = outcome.load
        failed = (
            f", {got.error_pct:.2f} % of requests failed ({describe_errors(got)})"
            if got.errors
            else ""
        )
        progress.finish(
            f"{outcome.status}, {got.achieved_rate:.0f} {got.unit} achieved{failed}"
            + (f" ({outcome.reason})" if outcome.reason else "")
        )
    else:
        progress.finish(f"{outcome.status}: {outcome.reason}")
    return outcome, earlier
