"""The Graphite path scheme (docs/metrics.md), as frozen types that format and parse paths.

Every label is sanitized on the way in (``of`` constructors); the types themselves only hold
safe labels (``__post_init__`` refuses anything else), so ``parse(x.format()) == x`` for every
value built here, and a path can never gain a level, a line or a tag from a label.

- run series: ``<prefix>.runs.<run_id>.<host>.<source>.<metric>``, where ``source`` is ``tare``
  (tare's collectors), ``load`` (the load results of the harness) or a collectd plugin;
- nightly series: ``<prefix>.nightly.<platform>.<campaign>.<mode>.rate_<rate>
  [.<factor>_<level>...].<kpi>.<stat>``, one point per night;
- capacity: ``<prefix>.capacity.<campaign>.<host>.<mode>.<metric>``;
- hosts (the stack's collectd): ``<prefix>.hosts.<host>.<plugin>...``;
- the stack's canary: ``<prefix>.canary.stack``;
- the lab's health: ``<prefix>.lab.health.<platform>.<campaign>.<metric>`` per night, and
  ``<prefix>.lab.calibration.<host>.rate_<rate>.<kpi>.<stat>`` per calibration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from contracts.labels import is_label, is_safe_path, label

RUNS = "runs"
NIGHTLY = "nightly"
CAPACITY = "capacity"
HOSTS = "hosts"
CANARY = "canary.stack"
RATE_LEVEL = "rate_"
DEFAULT_PREFIX = "tare"


class Source(StrEnum):
    """Who wrote a run series (the level after the host)."""

    TARE = "tare"  # tare's sampler or its collectd plugin
    LOAD = "load"  # the harness: per-second starts and the run's load summary


class LoadMetric(StrEnum):
    """The series under ``<run>.<host>.load.``; rates in the run's profile's unit."""

    CONN_STARTED_PER_S = "conn_started_per_s"  # connections profile, per second
    REQ_STARTED_PER_S = "req_started_per_s"  # requests profile: requests started per second
    MBIT_PER_S = "mbit_per_s"  # throughput profile: body Mbit/s received per second
    TARGET_RATE = "target_rate"
    VALID = "valid"
    ACHIEVED_RATE = "achieved_rate"
    ERRORS = "errors"
    # the steady window's successful requests' latency percentiles (ms): one point per run, in
    # the middle of its steady window (the latency KPIs)
    P50_MS = "p50_ms"
    P90_MS = "p90_ms"
    P99_MS = "p99_ms"
    SERVER_ACCEPT_RATE = "server_accept_rate"
    SERVER_RATE = "server_rate"  # the workload namespace's own count of the load
    RETRANSMITS = "retransmits"
    ERROR_PCT = "error_pct"  # one point per run, in the middle of its steady window


class NightlyStat(StrEnum):
    """The last level of a nightly series: one figure of a cell's overhead on one night."""

    BASELINE = "baseline"
    CONTENDER = "contender"
    OVERHEAD = "overhead"
    OVERHEAD_PCT = "overhead_pct"
    CI_LOW = "ci_low"
    CI_HIGH = "ci_high"
    CI_LOW_PCT = "ci_low_pct"
    CI_HIGH_PCT = "ci_high_pct"
    PVALUE = "pvalue"
    MDE = "mde"


class CapacityMetric(StrEnum):
    MAX_CONN_PER_S = "max_conn_per_s"
    KNEE_CLIENTS = "knee_clients"
    KNEE_CONN_PER_S = "knee_conn_per_s"


def _check_prefix(prefix: str) -> None:
    if not is_safe_path(prefix):
        raise ValueError(f"unsafe Graphite prefix {prefix!r}")


def _check_labels(**labels: str) -> None:
    for name, value in labels.items():
        if not is_label(value):
            raise ValueError(f"{name} {value!r} is not a sanitized label")


def _metric(parts: Iterable[object]) -> str:
    return ".".join(label(p) for p in parts)


def _strip(prefix: str, path: str) -> list[str] | None:
    head = prefix + "."
    return path[len(head) :].split(".") if path.startswith(head) else None


@dataclass(frozen=True, slots=True)
class RunSeries:
    """One series of one run."""

    prefix: str
    run_id: str
    host: str
    source: str
    metric: str  # one or more dotted labels

    def __post_init__(self) -> None:
        _check_prefix(self.prefix)
        _check_labels(run_id=self.run_id, host=self.host, source=self.source)
        if not is_safe_path(self.metric):
            raise ValueError(f"metric {self.metric!r} is not a dotted path of labels")

    @classmethod
    def of(
        cls, prefix: str, run_id: object, host: object, source: object, *metric: object
    ) -> RunSeries:
        return cls(prefix, label(run_id), label(host), label(source), _metric(metric))

    def format(self) -> str:
        return ".".join((self.prefix, RUNS, self.run_id, self.host, self.source, self.metric))

    @classmethod
    def parse(cls, prefix: str, path: str) -> RunSeries | None:
        parts = _strip(prefix, path)
        if parts is None or len(parts) < 5 or parts[0] != RUNS:
            return None
        try:
            return cls(prefix, parts[1], parts[2], parts[3], ".".join(parts[4:]))
        except ValueError:
            return None


def run_root(prefix: str, run_id: object) -> str:
    """``<prefix>.runs.<run_id>``: every series of one run is under it (one glob)."""
    _check_prefix(prefix)
    return ".".join((prefix, RUNS, label(run_id)))


def run_base(prefix: str, run_id: object, host: object, source: Source | str) -> str:
    """``<prefix>.runs.<run_id>.<host>.<source>``: where a collector appends ``group.metric``."""
    return ".".join((run_root(prefix, run_id), label(host), label(source)))


def collectd_run_prefix(prefix: str, run_id: object) -> str:
    """write_graphite's prefix for one run; collectd appends ``<host>.<plugin>...`` itself."""
    return run_root(prefix, run_id) + "."


def hosts_prefix(prefix: str) -> str:
    """write_graphite's prefix for the stack's always-on collectd (``<prefix>.hosts.<host>``)."""
    _check_prefix(prefix)
    return f"{prefix}.{HOSTS}."


def canary_path(prefix: str) -> str:
    _check_prefix(prefix)
    return f"{prefix}.{CANARY}"


@dataclass(frozen=True, slots=True)
class NightlyKey:
    """One configuration's KPI on one platform and campaign: a trend, one point per night."""

    platform: str
    campaign: str
    mode: str
    rate: str
    factors: tuple[str, ...]  # "<factor>_<level>" path levels, in the campaign's factor order
    kpi: str

    def __post_init__(self) -> None:
        _check_labels(platform=self.platform, campaign=self.campaign, mode=self.mode, kpi=self.kpi)
        _check_labels(rate=self.rate, **{f"factor {i}": f for i, f in enumerate(self.factors)})

    @classmethod
    def of(
        cls, platform: object, campaign: object, levels: Mapping[str, object], kpi: object
    ) -> NightlyKey:
        """From a cell's levels (mode and rate among them; the others become factor levels)."""
        factors = tuple(
            f"{label(k)}_{label(v)}" for k, v in levels.items() if k not in ("mode", "rate")
        )
        return cls(
            label(platform),
            label(campaign),
            label(levels["mode"]),
            label(levels["rate"]),
            factors,
            label(kpi),
        )

    @property
    def cell(self) -> str:
        """The configuration, as the nightly path spells it (without platform and campaign)."""
        return ".".join((self.mode, f"{RATE_LEVEL}{self.rate}", *self.factors))

    @property
    def name(self) -> str:
        return ".".join((self.platform, self.campaign, self.cell, self.kpi))


@dataclass(frozen=True, slots=True)
class NightlySeries:
    prefix: str
    key: NightlyKey
    stat: str

    def __post_init__(self) -> None:
        _check_prefix(self.prefix)
        _check_labels(stat=self.stat)

    def format(self) -> str:
        return ".".join((self.prefix, NIGHTLY, self.key.name, self.stat))

    @classmethod
    def parse(cls, prefix: str, path: str) -> NightlySeries | None:
        """The nightly series a path names under ``prefix``; None for anything else."""
        parts = _strip(prefix, path)
        if parts is None or len(parts) < 7 or parts[0] != NIGHTLY:
            return None
        platform, campaign, mode, rate = parts[1:5]
        if not rate.startswith(RATE_LEVEL):
            return None
        try:
            key = NightlyKey(
                platform, campaign, mode, rate[len(RATE_LEVEL) :], tuple(parts[5:-2]), parts[-2]
            )
            return cls(prefix, key, parts[-1])
        except ValueError:
            return None


def nightly_root(prefix: str) -> str:
    _check_prefix(prefix)
    return f"{prefix}.{NIGHTLY}"


@dataclass(frozen=True, slots=True)
class CapacitySeries:
    prefix: str
    campaign: str
    host: str
    mode: str
    metric: str

    def __post_init__(self) -> None:
        _check_prefix(self.prefix)
        _check_labels(campaign=self.campaign, host=self.host, mode=self.mode, metric=self.metric)

    @classmethod
    def of(
        cls, prefix: str, campaign: object, host: object, mode: object, metric: object
    ) -> CapacitySeries:
        return cls(prefix, label(campaign), label(host), label(mode), label(metric))

    def format(self) -> str:
        return ".".join((self.prefix, CAPACITY, self.campaign, self.host, self.mode, self.metric))

    @classmethod
    def parse(cls, prefix: str, path: str) -> CapacitySeries | None:
        parts = _strip(prefix, path)
        if parts is None or len(parts) != 5 or parts[0] != CAPACITY:
            return None
        try:
            return cls(prefix, *parts[1:])
        except ValueError:
            return None


LAB = "lab"
HEALTH = "health"
CALIBRATION = "calibration"


class HealthMetric(StrEnum):
    """The lab's own health per campaign night, under ``<prefix>.lab.health.<platform>.<campaign>``
    (``tare analyze``): how many runs ended how, and how close the load came to its target."""

    RUNS = "runs"
    DONE = "runs_done"
    INVALID = "runs_invalid"
    DISTURBED = "runs_disturbed"
    FAILED = "runs_failed"
    SKIPPED = "runs_skipped"  # not tried: their mode's agent failed the same step twice
    RERUN = "attempts_rerun"  # disturbed attempts left out and run again
    ACHIEVED_MIN = "achieved_ratio_min"  # achieved / target rate, the worst run
    ACHIEVED_MEAN = "achieved_ratio_mean"


class CalibrationStat(StrEnum):
    """One judged KPI of one ``tare calibrate``, under
    ``<prefix>.lab.calibration.<host>.rate_<rate>.<kpi>``: the lab's noise floor over time."""

    AA_MDE = "aa_mde"  # the A/A minimum detectable effect, in the KPI's unit
    SD_BETWEEN = "sd_between"  # between-run sd of the baseline runs
    BALLAST_ERROR = "ballast_error"  # recovered minus injected, in the KPI's unit


def lab_health_path(prefix: str, platform: object, campaign: object, metric: HealthMetric) -> str:
    _check_prefix(prefix)
    return ".".join((prefix, LAB, HEALTH, label(platform), label(campaign), metric.value))


def calibration_path(
    prefix: str, host: object, rate: object, kpi: object, stat: CalibrationStat
) -> str:
    _check_prefix(prefix)
    level = f"{RATE_LEVEL}{label(rate)}"
    return ".".join((prefix, LAB, CALIBRATION, label(host), level, label(kpi), stat.value))
