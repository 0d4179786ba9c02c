"""A campaign: every planned run not yet finished, in order, each recorded in the ledger before
and after it runs. Interrupted (Ctrl-C) the current run is marked ``interrupted`` and the lab
torn down; ``--resume`` then re-runs exactly the runs that are not finished."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.lab import Lab
from harness.ledger import FINISHED, Ledger
from harness.matrix import BASELINE, PlannedRun
from harness.progress import Progress
from harness.runner import Hooks, RunnerConfig, RunOutcome, execute_run

log = logging.getLogger(__name__)


@dataclass
class CampaignSummary:
    campaign_id: str
    ran: int = 0
    skipped: int = 0
    outcomes: dict[str, RunOutcome] = field(default_factory=dict)
    aborted: str | None = None

    @property
    def bad(self) -> dict[str, RunOutcome]:
        return {k: v for k, v in self.outcomes.items() if v.status != "done"}


def run_campaign(
    ledger: Ledger,
    cid: str,
    planned: dict[int, PlannedRun],
    cfg: RunnerConfig,
    make_lab: Callable[[str], Lab],
    hooks: Hooks,
    progress: Progress,
    base_manifest: dict[str, Any],
) -> CampaignSummary:
    rows = ledger.runs(cid)
    summary = CampaignSummary(cid, skipped=sum(1 for r in rows if r.status in FINISHED))
    todo = [r for r in rows if r.status not in FINISHED]
    workload_seen_ready = any(r.status == "done" for r in rows)
    for row in todo:
        run = planned[row.seq]
        manifest = {
            **base_manifest,
            "run_id": row.run_id,
            "seq": row.seq,
            "levels": dict(run.cell.levels),
            "repeat": run.repeat,
            "baseline_of": [dict(c.levels) for c in run.baseline_of],
        }
        ledger.start_run(row.run_id, manifest)
        progress.start(row.seq, f"{run.cell.mode} {run.cell.rate}/s r{run.repeat}")
        try:
            outcome = execute_run(row.run_id, run, cfg, make_lab, hooks)
        except KeyboardInterrupt:
            ledger.interrupt_run(row.run_id)
            progress.finish("interrupted")
            raise
        manifest.update(outcome.facts)
        if outcome.load is not None:
            manifest["load"] = {
                "tool": outcome.load.tool,
                "target_rate": outcome.load.target_rate,
                "achieved_rate": round(outcome.load.achieved_rate, 2),
                "errors": outcome.load.errors,
                "p50_ms": outcome.load.p50_ms,
                "p90_ms": outcome.load.p90_ms,
                "p99_ms": outcome.load.p99_ms,
                "server_accept_rate": outcome.server_accept_rate,
            }
        ledger.finish_run(
            row.run_id,
            outcome.status,
            outcome.reason,
            manifest,
            outcome.steady,
            outcome.load.achieved_rate if outcome.load else None,
        )
        hooks.run_finished(row.run_id, run, outcome)
        summary.ran += 1
        summary.outcomes[row.run_id] = outcome
        if outcome.load is not None:
            progress.finish(
                f"{outcome.status}, {outcome.load.achieved_rate:.0f}/s achieved"
                + (f" ({outcome.reason})" if outcome.reason else "")
            )
        else:
            progress.finish(f"{outcome.status}: {outcome.reason}")
        if outcome.status == "done":
            workload_seen_ready = True
        elif (
            not workload_seen_ready
            and run.cell.mode == BASELINE
            and outcome.reason
            and outcome.reason.startswith("workload not ready")
        ):
            # the workload never came up, even without an agent: every run would fail alike
            summary.aborted = outcome.reason
            break
    ledger.finish_campaign(cid, "aborted" if summary.aborted else "finished")
    return summary
