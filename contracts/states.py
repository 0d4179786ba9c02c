"""The states of runs, campaigns and alerts, and the kinds of alert (stored as their values)."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    DONE = "done"  # finished and valid: a data point
    INVALID = "invalid"  # finished, but the target load was not reached (or errors, gaps)
    FAILED = "failed"  # the lab, the workload or the agent failed
    DISTURBED = "disturbed"  # something outside the lab took its CPU: left out (re-run first)
    INTERRUPTED = "interrupted"  # stopped by a signal; --resume runs it again
    # not run: its mode's agent failed the same step in the runs before (a night fails fast)
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in FINISHED

    @property
    def not_valid(self) -> bool:
        """Finished without being a data point."""
        return self in (RunState.INVALID, RunState.FAILED, RunState.DISTURBED, RunState.SKIPPED)


FINISHED: frozenset[RunState] = frozenset(
    {RunState.DONE, RunState.INVALID, RunState.FAILED, RunState.DISTURBED, RunState.SKIPPED}
)


class CampaignState(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    ABORTED = "aborted"


class AlertState(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    INVALID = "invalid"


class AlertKind(StrEnum):
    REGRESSION = "regression"  # the overhead rose (gating)
    IMPROVEMENT = "improvement"  # the overhead fell
    ENVIRONMENT = "environment"  # the baseline moved (the lab, not the agent)
    THRESHOLD = "threshold"  # an overhead crossed a configured limit (gating)
    DRIFT = "drift"  # the overhead creeps: a slow trend, no step (not gating)

    @property
    def gating(self) -> bool:
        return self in (AlertKind.REGRESSION, AlertKind.THRESHOLD)


class Verdict(StrEnum):
    """What one overhead estimate says about its cell and KPI."""

    COST = "cost"  # significantly above zero: the agent costs this KPI
    GAIN = "gain"  # significantly below zero: suspicious, a bug until proven otherwise
    NO_CHANGE = "no change"  # the interval holds zero
    NO_INFERENCE = "no inference"  # no interval at all (see the comparison's method)
