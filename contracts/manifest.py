"""The run manifest: what the harness records of every run, and what the pipeline, the report
and the alerts read back. Frozen, versioned, with one JSON form (``to_json``/``from_json``);
a manifest of another version is refused, never half read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.addresses import CarbonAddress, RenderUrl
from contracts.cpus import labels
from contracts.states import CampaignState, RunState

VERSION = 1
BASELINE = "baseline"  # the mode with the agent absent (not merely stopped)

Level = int | float | str
Levels = tuple[tuple[str, Level], ...]  # factor -> level, in the campaign's factor order


def levels_of(mapping: Mapping[str, Any]) -> Levels:
    return tuple((str(k), v) for k, v in mapping.items())


def _level(value: Any) -> Level:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"level {value!r}: expected a number or a string")
    return value


def _levels_from(raw: Any) -> Levels:
    if not isinstance(raw, dict):
        raise ValueError("levels: expected a table")
    return tuple((str(k), _level(v)) for k, v in raw.items())


@dataclass(frozen=True, slots=True)
class GraphiteTarget:
    """Where a campaign's series went: read back from the same place."""

    render_url: RenderUrl
    carbon: CarbonAddress
    prefix: str

    def to_json(self) -> dict[str, Any]:
        return {
            "render_url": str(self.render_url),
            "carbon": str(self.carbon),
            "prefix": self.prefix,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GraphiteTarget:
        return cls(
            RenderUrl.parse(d["render_url"]), CarbonAddress.parse(d["carbon"]), str(d["prefix"])
        )


@dataclass(frozen=True, slots=True)
class HostFacts:
    host: str
    kernel: str
    cpu_model: str | None
    cores: int | None
    python: str
    tare: str
    tools: tuple[tuple[str, str | None], ...] = ()  # tool -> the first line of its --version

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "kernel": self.kernel,
            "cpu_model": self.cpu_model,
            "cores": self.cores,
            "python": self.python,
            "tare": self.tare,
            "tools": dict(self.tools),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> HostFacts:
        return cls(
            str(d["host"]),
            str(d["kernel"]),
            d.get("cpu_model"),
            d.get("cores"),
            str(d["python"]),
            str(d["tare"]),
            tuple((str(k), v) for k, v in (d.get("tools") or {}).items()),
        )


@dataclass(frozen=True, slots=True)
class LabFacts:
    lab_id: str
    kind: str  # "namespaces" | "loopback"
    sysctls: tuple[tuple[str, str], ...] = ()
    workload_cpus: str | None = None
    load_cpus: str | None = None
    workload_interface: str | None = None  # the workload namespace's interface (throughput)
    gives_up: tuple[str, ...] = ()
    # the "<role>:<key>" sysctls the lab wrote; every other one in ``sysctls`` is the host's own
    set_by_lab: tuple[str, ...] = ()

    @property
    def workload_cores(self) -> tuple[str, ...]:
        """The workload's cores, as the per-core CPU series name them (("0",) when unpinned:
        a hosts lab, or a namespaces lab measured without pinning)."""
        return labels(self.workload_cpus or "0")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.lab_id,
            "kind": self.kind,
            "sysctls": dict(self.sysctls),
            "workload_cpus": self.workload_cpus,
            "load_cpus": self.load_cpus,
            "workload_interface": self.workload_interface,
            "gives_up": list(self.gives_up),
            "set_by_lab": list(self.set_by_lab),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LabFacts:
        return cls(
            str(d["id"]),
            str(d["kind"]),
            tuple((str(k), str(v)) for k, v in (d.get("sysctls") or {}).items()),
            d.get("workload_cpus"),
            d.get("load_cpus"),
            d.get("workload_interface"),
            tuple(str(x) for x in d.get("gives_up") or ()),
            tuple(str(x) for x in d.get("set_by_lab") or ()),
        )


@dataclass(frozen=True, slots=True)
class LoadSummary:
    """What the load tool and the server's counters said of one run's load. Rates are in the
    profile's unit (``contracts.load``): new connections/s, requests/s or Mbit/s."""

    tool: str
    target_rate: float
    achieved_rate: float
    errors: int
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    server_accept_rate: float | None = None  # connections profile: Tcp PassiveOpens/s
    profile: str = "connections"
    server_rate: float | None = None  # the workload namespace's own count, profile's unit
    retransmits: int | None = None  # TCP segments the workload retransmitted during the load
    error_pct: float | None = None  # request errors in % of those planned
    offered_rate: float | None = None  # connections/s the load host opened (its own count)

    def to_json(self) -> dict[str, Any]:
        return {
            "offered_rate": self.offered_rate,
            "tool": self.tool,
            "target_rate": self.target_rate,
            "achieved_rate": self.achieved_rate,
            "errors": self.errors,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "server_accept_rate": self.server_accept_rate,
            "profile": self.profile,
            "server_rate": self.server_rate,
            "retransmits": self.retransmits,
            "error_pct": self.error_pct,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LoadSummary:
        return cls(
            str(d["tool"]),
            float(d["target_rate"]),
            float(d["achieved_rate"]),
            int(d["errors"]),
            d.get("p50_ms"),
            d.get("p90_ms"),
            d.get("p99_ms"),
            d.get("server_accept_rate"),
            str(d.get("profile", "connections")),
            d.get("server_rate"),
            d.get("retransmits"),
            d.get("error_pct"),
            d.get("offered_rate"),
        )


@dataclass(frozen=True, slots=True)
class Probe:
    """The run's machine-speed index (``harness.speed``): the run's own load on the bare
    workload for a few seconds before any agent step, and what its CPU KPIs read meanwhile."""

    seconds: float
    completed: float  # share of the probe's requests that succeeded
    values: tuple[tuple[str, float], ...]  # KPI name -> its value over the probe

    def get(self, kpi: str) -> float | None:
        return dict(self.values).get(kpi)

    def to_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "completed": self.completed, "values": dict(self.values)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Probe:
        got = dict(d.get("values") or {})
        return cls(
            float(d["seconds"]),
            float(d["completed"]),
            tuple(sorted((str(k), float(v)) for k, v in got.items())),
        )


@dataclass(frozen=True, slots=True)
class CollectorReport:
    """What one collector did during a run: its cost, and the steady seconds it missed."""

    name: str  # "sampler" | "collectd"
    prefix: str  # the Graphite prefix it wrote under
    cpu_pct: float | None  # points of one core over the collection (None: not measured)
    rss_mb: float | None  # peak resident memory (None: in tare's own process)
    missing_s: int = 0  # steady-window seconds it could not have sampled
    notes: tuple[str, ...] = ()  # restarts and the like, in words

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prefix": self.prefix,
            "cpu_pct": self.cpu_pct,
            "rss_mb": self.rss_mb,
            "missing_s": self.missing_s,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CollectorReport:
        return cls(
            str(d["name"]),
            str(d["prefix"]),
            d.get("cpu_pct"),
            d.get("rss_mb"),
            int(d.get("missing_s") or 0),
            tuple(str(x) for x in d.get("notes") or ()),
        )


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """The part of every run's manifest that its campaign sets."""

    campaign_id: str
    campaign: str
    night: str  # YYYY-MM-DD (UTC) the campaign started
    platform: str
    host: HostFacts
    graphite: GraphiteTarget
    output_dir: str  # where tables and the report go, as resolved when the campaign started
    paired: bool = False  # compare each contender run with its own block's baseline run
    covariate: bool = False  # adjust CPU KPIs by each run's probe (``pipeline.stats.ancova``)
    collector: str = "sampler"  # who wrote the run series the analysis reads
    # an adaptive night's target CI half-width per judged KPI (empty: a fixed design)
    target_ci: tuple[tuple[str, float], ...] = ()
    # load.max_error_pct: above it a contender's CPU and memory are not like-for-like
    max_error_pct: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "max_error_pct": self.max_error_pct,
            "paired": self.paired,
            "covariate": self.covariate,
            "collector": self.collector,
            "target_ci": dict(self.target_ci),
            "id": self.campaign_id,
            "name": self.campaign,
            "night": self.night,
            "platform": self.platform,
            "host": self.host.to_json(),
            "graphite": self.graphite.to_json(),
            "output_dir": self.output_dir,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CampaignInfo:
        return cls(
            str(d["id"]),
            str(d["name"]),
            str(d["night"]),
            str(d["platform"]),
            HostFacts.from_json(d["host"]),
            GraphiteTarget.from_json(d["graphite"]),
            str(d["output_dir"]),
            bool(d.get("paired", False)),
            bool(d.get("covariate", False)),
            str(d.get("collector") or "sampler"),
            tuple((str(k), float(v)) for k, v in dict(d.get("target_ci") or {}).items()),
            None if d.get("max_error_pct") is None else float(d["max_error_pct"]),
        )


@dataclass(frozen=True, slots=True)
class RunManifest:
    campaign: CampaignInfo
    run_id: str
    seq: int
    levels: Levels
    repeat: int
    baseline_of: tuple[Levels, ...] = ()  # for a baseline run: the contender cells it serves
    lab: LabFacts | None = None
    agent_version: str | None = None
    teardown_problems: tuple[str, ...] = ()
    load_elapsed_s: float | None = None
    load: LoadSummary | None = None
    disturbance_pct: float | None = None  # CPU outside the lab during the load, points of a core
    disturbed_attempts: tuple[str, ...] = ()  # why each earlier attempt was left out
    collection: tuple[CollectorReport, ...] = ()
    probe: Probe | None = None  # the machine-speed index, measured before the agent
    version: int = field(default=VERSION)

    def __post_init__(self) -> None:
        if self.version != VERSION:
            raise ValueError(f"manifest version {self.version} (this tare reads {VERSION})")
        if "mode" not in dict(self.levels):
            raise ValueError("levels: a run has a mode")

    @property
    def mode(self) -> str:
        return str(dict(self.levels)["mode"])

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "campaign": self.campaign.to_json(),
            "run_id": self.run_id,
            "seq": self.seq,
            "levels": dict(self.levels),
            "repeat": self.repeat,
            "baseline_of": [dict(c) for c in self.baseline_of],
            "lab": self.lab.to_json() if self.lab else None,
            "agent_version": self.agent_version,
            "teardown_problems": list(self.teardown_problems),
            "load_elapsed_s": self.load_elapsed_s,
            "load": self.load.to_json() if self.load else None,
            "disturbance_pct": self.disturbance_pct,
            "disturbed_attempts": list(self.disturbed_attempts),
            "collection": [c.to_json() for c in self.collection],
            "probe": self.probe.to_json() if self.probe else None,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RunManifest:
        """Raises ValueError (naming what) for a manifest this version cannot read."""
        if not isinstance(d, Mapping):
            raise ValueError("a manifest is a JSON object")
        version = d.get("version")
        if version != VERSION:
            raise ValueError(f"manifest version {version!r} (this tare reads {VERSION})")
        try:
            return cls(
                CampaignInfo.from_json(d["campaign"]),
                str(d["run_id"]),
                int(d["seq"]),
                _levels_from(d["levels"]),
                int(d["repeat"]),
                tuple(_levels_from(c) for c in d.get("baseline_of") or ()),
                LabFacts.from_json(d["lab"]) if d.get("lab") else None,
                d.get("agent_version"),
                tuple(str(x) for x in d.get("teardown_problems") or ()),
                d.get("load_elapsed_s"),
                LoadSummary.from_json(d["load"]) if d.get("load") else None,
                d.get("disturbance_pct"),
                tuple(str(x) for x in d.get("disturbed_attempts") or ()),
                tuple(CollectorReport.from_json(c) for c in d.get("collection") or ()),
                Probe.from_json(d["probe"]) if d.get("probe") else None,
            )
        except KeyError as exc:
            raise ValueError(f"manifest: missing key {exc}") from None
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"manifest: {exc}") from None


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A campaign as the run ledger holds it."""

    campaign_id: str
    name: str
    night: str
    platform: str
    config_path: str
    config_hash: str
    started: float
    finished: float | None
    status: CampaignState
    host: HostFacts | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.campaign_id,
            "name": self.name,
            "night": self.night,
            "platform": self.platform,
            "config_path": self.config_path,
            "config_hash": self.config_hash,
            "started": self.started,
            "finished": self.finished,
            "status": self.status.value,
            "facts": self.host.to_json() if self.host else None,
        }


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as the run ledger holds it: planned, running or finished, with its manifest once
    it has started."""

    run_id: str
    campaign_id: str
    seq: int
    mode: str
    rate: int
    repeat: int
    levels: Levels
    status: RunState
    reason: str | None
    started: float | None
    ended: float | None
    steady_start: float | None
    steady_end: float | None
    achieved_rate: float | None
    manifest: RunManifest | None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "campaign_id": self.campaign_id,
            "seq": self.seq,
            "mode": self.mode,
            "rate": self.rate,
            "repeat": self.repeat,
            "levels": dict(self.levels),
            "status": self.status.value,
            "reason": self.reason,
            "started": self.started,
            "ended": self.ended,
            "steady_start": self.steady_start,
            "steady_end": self.steady_end,
            "achieved_rate": self.achieved_rate,
            "manifest": self.manifest.to_json() if self.manifest else None,
        }

    @property
    def steady(self) -> tuple[float, float] | None:
        if self.steady_start is None or self.steady_end is None:
            return None
        return (self.steady_start, self.steady_end)
