"""The lab's health, as points beside the nightly series: per campaign night, how many runs
ended how and how close the load came to its target (``<prefix>.lab.health...``); per
calibration, the A/A noise floor of every judged KPI (``<prefix>.lab.calibration...``). The
lab-health dashboard draws both over time. Pure: points in, nothing sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from contracts.manifest import CampaignRecord, RunRecord
from contracts.nights import night_timestamp
from contracts.paths import CalibrationStat, HealthMetric, calibration_path, lab_health_path
from contracts.states import RunState
from pipeline.nightly import Point

COUNTED = {
    HealthMetric.DONE: RunState.DONE,
    HealthMetric.INVALID: RunState.INVALID,
    HealthMetric.DISTURBED: RunState.DISTURBED,
    HealthMetric.FAILED: RunState.FAILED,
    HealthMetric.SKIPPED: RunState.SKIPPED,
}


def campaign_points(
    prefix: str, campaign: CampaignRecord, runs: Sequence[RunRecord]
) -> list[Point]:
    """One point per health metric at the campaign's night. Runs not finished (planned,
    interrupted) count in ``runs`` only; the achieved ratio is over runs that measured one."""
    ts = night_timestamp(campaign.night)

    def path(m: HealthMetric) -> str:
        return lab_health_path(prefix, campaign.platform, campaign.name, m)

    out: list[Point] = [(path(HealthMetric.RUNS), float(len(runs)), ts)]
    out += [
        (path(m), float(sum(r.status is state for r in runs)), ts) for m, state in COUNTED.items()
    ]
    rerun = sum(len(r.manifest.disturbed_attempts) for r in runs if r.manifest is not None)
    out.append((path(HealthMetric.RERUN), float(rerun), ts))
    ratios = [r.achieved_rate / r.rate for r in runs if r.achieved_rate is not None and r.rate > 0]
    if ratios:
        out.append((path(HealthMetric.ACHIEVED_MIN), min(ratios), ts))
        out.append((path(HealthMetric.ACHIEVED_MEAN), sum(ratios) / len(ratios), ts))
    return out


def calibration_points(
    prefix: str,
    host: str,
    rate: int,
    when: int,
    figures: Iterable[tuple[str, CalibrationStat, float]],
) -> list[Point]:
    """(kpi, stat, value) of one calibration, at ``when``."""
    return [(calibration_path(prefix, host, rate, kpi, stat), v, when) for kpi, stat, v in figures]
