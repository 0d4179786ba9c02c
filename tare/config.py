"""Campaign files: one TOML file loaded once into typed, frozen objects.

Every problem is reported as ``FILE: key.path[i]: what is wrong``, one line each, all at once.
Unknown keys are errors: typos are the most common config bug.
"""

from __future__ import annotations

import math
import os
import re
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from contracts.addresses import CarbonAddress, RenderUrl
from contracts.kpis import KPIS
from contracts.labels import label
from contracts.load import PROFILE_FACTOR, Profile
from contracts.manifest import BASELINE, GraphiteTarget
from tare.alerts_config import AlertsSection
from tare.configfile import ConfigError, parse_model, read_text, show

MAX_RATE = 100_000  # new connections/s: beyond one load host and one h2load (docs/config.md)
MIN_STEADY_S = 10  # seconds of steady window per run: fewer cannot give a run its mean
MAX_PREFIX_CHARS = 100
MAX_LEVEL_CHARS = 64
# an output_dir never goes into (or is) one of these
SYSTEM_DIRS = (
    *("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32"),
    *("/proc", "/run", "/sbin", "/sys", "/usr"),
)
NOT_ITSELF = ("/", "/var", "/home", "/usr/local", "/opt", "/srv", "/tmp")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
FACTOR_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
BUILTIN_FACTORS = ("mode", "rate", PROFILE_FACTOR)
# Placeholders the harness fills in argv lists besides the factor names.
RUN_PLACEHOLDERS = frozenset(
    {
        "run_id",
        "state_dir",
        "lab_dir",
        "agent_dir",
        "campaign_dir",
        "netns",
        "interface",
        "workload_addr",
        "load_addr",
        "load_net",
        "port",
    }
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _argv(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("must be a non-empty list of strings (argv)")
    if not value[0].strip():
        raise ValueError("first element (the program) must not be blank")
    return value


def _level(value: Any) -> int | float | str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("each level must be an integer, a number or a string")
    if isinstance(value, str) and not value.strip():
        raise ValueError("a level must not be blank")
    if isinstance(value, str) and len(value) > MAX_LEVEL_CHARS:
        raise ValueError(f"a level is at most {MAX_LEVEL_CHARS} characters")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a level must be a finite number")
    return value


def _unique(value: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    for item in value:
        if item in seen:
            raise ValueError(f"duplicate entry {item!r}")
        seen.add(item)
    return value


def _name(value: str) -> str:
    if not NAME_RE.fullmatch(value):
        raise ValueError(
            "must be 1-63 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return value


Argv = Annotated[list[str], AfterValidator(_argv)]
Level = Annotated[Any, AfterValidator(_level)]
PositiveInt = Annotated[int, Field(gt=0)]


def _rate(value: int) -> int:
    if value > MAX_RATE:
        raise ValueError(
            f"at most {MAX_RATE} new connections/s: one load host with h2load cannot offer more "
            "(docs/config.md)"
        )
    return value


Rate = Annotated[int, Field(gt=0), AfterValidator(_rate)]
Name = Annotated[str, AfterValidator(_name)]


def _platform(value: str) -> str:
    if value == "windows":
        raise ValueError(
            "no runner drives a Windows host yet; the transport and profile that exist, and what "
            "is missing, are in docs/windows.md"
        )
    return value


class CampaignSection(_Model):
    name: Name
    description: str = ""
    platform: Annotated[Literal["linux", "windows"], AfterValidator(_platform)] = "linux"
    output_dir: str = "var/campaigns"


def _carbon(value: str) -> str:
    CarbonAddress.parse(value)  # ValueError names what is wrong
    return value


def _render_url(value: str) -> str:
    RenderUrl.parse(value)
    return value


class GraphiteSection(_Model):
    render_url: Annotated[str, AfterValidator(_render_url)] = "http://127.0.0.1:8080"
    carbon: Annotated[str, AfterValidator(_carbon)] = "127.0.0.1:2003"
    prefix: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$", max_length=MAX_PREFIX_CHARS)
    ] = "tare"


class WorkloadSection(_Model):
    name: Name = "nginx"
    command: Argv
    port: Annotated[int, Field(gt=0, lt=65536)] = 8080
    path: Annotated[str, Field(pattern=r"^/[^\s]*$")] = "/"
    ready_timeout_s: Annotated[float, Field(gt=0, le=600)] = 15.0
    process: str = "nginx"
    # the nginx tare configures writes an access log like a packaged one (a line a request):
    # what log-reading agents read and a cost a real server pays; false turns it off
    access_log: bool = True
    # the cores the workload gets in a lab on this machine (pinned, nginx's workers one per
    # core, its CPU KPI summed over them); unset: all but the load's (half the machine's, at
    # least one). A workload host over SSH uses its own cores, all of them
    cpus: Annotated[int, Field(ge=1, le=4096)] | None = None


StepSeconds = Annotated[float, Field(gt=0, le=3600)]


class AgentTimeoutsSection(_Model):
    # seconds each agent step may take before it is failed as hung (health: each check)
    install: StepSeconds = 120.0
    set_mode: StepSeconds = 120.0
    start: StepSeconds = 120.0
    health: StepSeconds = 30.0
    stop: StepSeconds = 60.0
    uninstall: StepSeconds = 60.0
    version: StepSeconds = 30.0


class AgentSection(_Model):
    name: Name
    process: str
    modes: Annotated[list[Name], Field(min_length=1), AfterValidator(_unique)]
    install: Argv
    uninstall: Argv
    set_mode: Argv
    start: Argv
    stop: Argv
    health: Argv
    version: Argv | None = None
    health_timeout_s: Annotated[float, Field(gt=0, le=600)] = 20.0
    timeouts: AgentTimeoutsSection = AgentTimeoutsSection()


ProfileName = Literal["connections", "requests", "throughput"]
MAX_BODY_KIB = 1 << 20  # 1 GiB


class RequestsSection(_Model):
    # the requests profile: the cell's rate as requests/s, paced over this many kept-alive
    # connections
    connections: Annotated[int, Field(gt=0, le=10_000)] = 50


class ThroughputSection(_Model):
    # the throughput profile: bodies of body_kib KiB at mbit_per_s, over this many kept-alive
    # connections (its own target: the cell's rate does not apply)
    mbit_per_s: Annotated[int, Field(gt=0, le=100_000)] = 400
    body_kib: Annotated[int, Field(gt=0, le=MAX_BODY_KIB)] = 1024
    connections: Annotated[int, Field(gt=0, le=1_000)] = 4
    # where the workload serves a body of body_kib KiB (tare's nginx config serves it here)
    path: Annotated[str, Field(pattern=r"^/[^\s]*$")] = "/tare-bulk"


def _limit_or_off(value: object) -> object:
    """A limit in points of one core, or the word "off" (None: no limit)."""
    if value == "off":
        return None
    if isinstance(value, str) or value is None:
        raise ValueError(f'must be a number of points of one core or "off", not {value!r}')
    return value


class LoadSection(_Model):
    tool: Literal["h2load", "httperf"] = "h2load"
    # the kind of load (docs/harness.md): one profile, or several as the factor "profile"
    # (varied one at a time like every factor); absent: new connections only, no factor
    profile: (
        ProfileName
        | Annotated[list[ProfileName], Field(min_length=1), AfterValidator(_unique)]
        | None
    ) = None
    requests: RequestsSection = RequestsSection()
    throughput: ThroughputSection = ThroughputSection()
    # the share of its requests (in %) a run may fail and still be compared like for like:
    # a baseline run above it is invalid (the lab failed: no agent to blame); a contender run
    # stays valid whatever its share (the failed requests are the agent's cost, the error_pct
    # KPI), and above it its cell's CPU and memory are marked not like-for-like
    max_error_pct: Annotated[float, Field(ge=0, le=10)] = 0.5
    rates: Annotated[list[Rate], Field(min_length=1), AfterValidator(_unique)]
    duration_s: Annotated[int, Field(gt=0, le=86400)] = 30
    warmup_s: Annotated[int, Field(ge=0)] = 5
    cooldown_s: Annotated[int, Field(ge=0)] = 2
    min_achieved_ratio: Annotated[float, Field(gt=0, le=1)] = 0.98
    # before the first run, offer each connection rate to the bare workload for a few seconds
    # and refuse the campaign (exit 5, one line) if the lab cannot offer one of them
    check_rates: bool = True
    run_timeout_s: Annotated[int, Field(gt=0)] = 600
    # CPU that anything outside the lab may take during a run's load, in points of one core
    # (processes outside the lab's cgroups, and steal); above it the run is disturbed. "off":
    # measured and recorded, never a reason to leave a run out (a lab that shares its machine
    # by design, as the project's own tests do)
    max_disturbance_pct: Annotated[
        Annotated[float, Field(gt=0, le=200)] | None, BeforeValidator(_limit_or_off)
    ] = 5.0  # None: "off"


class DesignSection(_Model):
    kind: Literal["one-factor-at-a-time", "full"] = "one-factor-at-a-time"
    repeats: Annotated[int, Field(gt=0, le=1000)] = 3
    interleave: bool = True
    # compare each contender run with the baseline run of its own block (a paired t-test),
    # instead of Welch on all runs: narrower when the machine drifts between blocks
    paired: bool = False
    # every run begins with a probe: its own load on the bare workload for probe_s seconds,
    # before any agent step; the CPU KPIs are then adjusted by what they read in it (ANCOVA:
    # the machine's speed of the moment, which the agent cannot move)
    covariate: bool = True
    probe_s: Annotated[int, Field(ge=2, le=60)] = 4
    # a disturbed run is left out and run again, up to this many more times
    reruns_disturbed: Annotated[int, Field(ge=0, le=10)] = 2
    # Factors crossed in full; with one-factor-at-a-time the others vary alone around reference.
    crossed: Annotated[list[str], AfterValidator(_unique)] = Field(
        default_factory=lambda: ["mode", "rate"]
    )
    reference: dict[str, Level] = Field(default_factory=dict)
    # adaptive: run in rounds (every cell of a block once, counterbalanced) and stop a block once
    # every judged KPI's between-run CI half-width is within its target_ci, looking after every
    # second round from min_repeats; max_repeats rounds is the budget (then "too noisy
    # tonight"); repeats is ignored
    adaptive: bool = False
    min_repeats: Annotated[int, Field(ge=2, le=1000)] = 4
    max_repeats: Annotated[int, Field(ge=2, le=1000)] = 12
    # half-width of the 95 % CI per judged KPI, in its unit; unnamed KPIs: 1 point of one core
    # for CPU, 2 MB for memory, 1 % for throughput and connection rate
    target_ci: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)


class CollectSection(_Model):
    # who collects each run's series: tare's in-process sampler, collectd with tare's plugin
    # (a per-run daemon), or collectd when it is installed and loads the plugin, else the sampler
    collector: Literal["sampler", "collectd", "auto"] = "sampler"
    # also run the other collector, writing the same series under this prefix (to compare the
    # two; the analysis reads the campaign's own prefix only)
    compare_prefix: (
        Annotated[
            str, Field(pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$", max_length=MAX_PREFIX_CHARS)
        ]
        | None
    ) = None
    # steady-window seconds the collector may miss (a restarted collectd) before the run is
    # invalid
    max_missing_s: Annotated[int, Field(ge=0, le=3600)] = 2
    # a per-run collectd that dies is started again at most this many times in one run
    max_restarts: Annotated[int, Field(ge=0, le=10)] = 2


def _times(value: list[str]) -> list[str]:
    for t in value:
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", t):
            raise ValueError(f"{t!r}: times are HH:MM, 00:00 to 23:59")
    return value


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (an IANA name: UTC, Europe/Berlin)"
        ) from None
    return value


def _days(value: list[str]) -> list[str]:
    from harness.scheduler import parse_days

    parse_days(value)  # ValueError names the bad day
    return value


class ScheduleSection(_Model):
    # when `tare schedule` runs the nightly job: times in the time zone, on these days
    times: Annotated[
        list[str], Field(min_length=1), AfterValidator(_times), AfterValidator(_unique)
    ] = Field(default_factory=lambda: ["02:00"])
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    days: Annotated[list[str], Field(min_length=1), AfterValidator(_days)] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    )


LOCAL = "local"


def _ssh_destination(value: str) -> str:
    if value == LOCAL:
        return value
    user, _, host = value.rpartition("@")
    if not host or host.startswith("-") or any(c.isspace() for c in value):
        raise ValueError(f'{value!r}: expected "local" or an SSH destination (user@host)')
    if user and not re.fullmatch(r"[\w.-]+", user):
        raise ValueError(f"{value!r}: {user!r} is not a user name")
    return value


def _ip(value: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None
    return value


class HostSection(_Model):
    """One lab host: this machine (``local``), or one reached over SSH."""

    ssh: Annotated[str, AfterValidator(_ssh_destination)] = LOCAL
    port: Annotated[int, Field(gt=0, lt=65536)] = 22
    key: str | None = None  # private key file (relative: to the campaign file)
    known_hosts: str | None = None  # a known_hosts file checked strictly (else the user's)
    address: Annotated[str, AfterValidator(_ip)] | None = None  # where the other host reaches it
    interface: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:@-]{1,15}$")] | None = None
    tare: str = "tare"  # the tare command on that host (its collector)
    carbon: Annotated[str, AfterValidator(_carbon)] | None = None  # where its collector sends

    @property
    def remote(self) -> bool:
        return self.ssh != LOCAL


class HostsSection(_Model):
    workload: HostSection = HostSection()
    load: HostSection = HostSection()


def hosts_problems(spec: CampaignFile) -> list[Problem]:
    """A workload host over SSH needs its address and interface, and the address the load
    reaches it from; a load host over SSH goes with a workload host over SSH."""
    h = spec.hosts
    problems: list[Problem] = []
    if h.load.remote and not h.workload.remote:
        problems.append(
            Problem(
                "hosts.load.ssh",
                "a load host over SSH needs the workload host over SSH too (hosts.workload.ssh); "
                "a lab on this machine makes its own namespaces",
            )
        )
    if not h.workload.remote:
        return problems
    if spec.workload.cpus is not None:
        problems.append(
            Problem(
                "workload.cpus",
                "a workload host over SSH uses all its cores; the cores are chosen only in a lab "
                "on this machine",
            )
        )
    if spec.collect.collector == "collectd" or spec.collect.compare_prefix is not None:
        problems.append(
            Problem(
                "collect.collector",
                "a workload host over SSH is collected by tare's sampler there; collectd there "
                "(and compare_prefix) is not supported",
            )
        )
    if h.workload.address is None:
        problems.append(Problem("hosts.workload.address", "required for a host over SSH"))
    if h.workload.interface is None:
        problems.append(
            Problem("hosts.workload.interface", "required for a host over SSH (its counters)")
        )
    if h.load.address is None:
        problems.append(
            Problem(
                "hosts.load.address",
                "required when the workload host is over SSH: the address it sees the load "
                "from (the agent's {load_addr})",
            )
        )
    return problems


_SYSCTL_KEY = re.compile(r"^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$")


def _sysctl_table(value: dict[str, int | str]) -> dict[str, int | str]:
    for key, v in value.items():
        if not _SYSCTL_KEY.match(key):
            raise ValueError(f"{key!r} is not a sysctl name (dotted, like net.core.somaxconn)")
        if not str(v).strip() or any(c in str(v) for c in "\n\r="):
            raise ValueError(f"{key}: {v!r} is not a sysctl value")
    return value


SysctlTable = Annotated[dict[str, int | str], AfterValidator(_sysctl_table)]


class LabSysctlsSection(_Model):
    """What the lab writes on each host role. The workload host keeps the kernel's (or its
    owner's) settings unless this names the production values a team runs with; the load host
    gets the load generator's tuning (harness.lab.LOAD_SYSCTLS), which these extend or
    override."""

    workload: SysctlTable = Field(default_factory=dict)
    load: SysctlTable = Field(default_factory=dict)


class LabSection(_Model):
    sysctls: LabSysctlsSection = LabSysctlsSection()
    # how many addresses the load's connections come from in a namespaces lab (source NAT in the
    # load namespace): a real server's many clients; one address holds ~32K ports, too few for
    # the workload's conntrack table to fill. The agent allows them as {load_net}
    clients: Annotated[int, Field(ge=1, le=254)] = 254


class CampaignFile(_Model):
    campaign: CampaignSection
    graphite: GraphiteSection = GraphiteSection()
    workload: WorkloadSection
    agent: AgentSection
    load: LoadSection
    design: DesignSection = DesignSection()
    factors: dict[str, Annotated[list[Level], Field(min_length=1), AfterValidator(_unique)]] = (
        Field(default_factory=dict)
    )
    alerts: AlertsSection = AlertsSection()
    collect: CollectSection = CollectSection()
    schedule: ScheduleSection = ScheduleSection()
    hosts: HostsSection = HostsSection()
    lab: LabSection = LabSection()


@dataclass(frozen=True, slots=True)
class Campaign:
    """A validated campaign and where it came from."""

    path: Path
    spec: CampaignFile

    @property
    def name(self) -> str:
        return self.spec.campaign.name

    @property
    def output_dir(self) -> Path:
        """Absolute: relative paths are relative to the campaign file (validated on load)."""
        return output_dir_of(self.spec.campaign.output_dir, self.path)

    @property
    def graphite(self) -> GraphiteTarget:
        """Where this campaign's series go (validated when the file was loaded)."""
        g = self.spec.graphite
        return GraphiteTarget(
            RenderUrl.parse(g.render_url), CarbonAddress.parse(g.carbon), g.prefix
        )

    def factor_levels(self) -> dict[str, list[int | float | str]]:
        """Every factor with its levels, built-ins first: mode (baseline first), rate, profile
        (when the campaign sets one), then the campaign's own."""
        return factor_levels(self.spec)


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str


def profiles_of(load: LoadSection) -> list[str] | None:
    """The profile factor's levels; None when the campaign does not set ``load.profile``."""
    if load.profile is None:
        return None
    return [load.profile] if isinstance(load.profile, str) else list(load.profile)


def factor_levels(spec: CampaignFile) -> dict[str, list[Any]]:
    """Every factor with its levels: mode (baseline first), rate, profile (when set), then the
    campaign's own."""
    levels: dict[str, list[Any]] = {
        "mode": [BASELINE, *spec.agent.modes],
        "rate": list(spec.load.rates),
    }
    profiles = profiles_of(spec.load)
    if profiles is not None:
        levels[PROFILE_FACTOR] = profiles
    levels.update({k: list(v) for k, v in spec.factors.items()})
    return levels


def profile_problems(spec: CampaignFile) -> list[Problem]:
    """The kept-alive profiles need h2load; throughput has its own target, so crossing it with
    several rates would only repeat one load."""
    profiles = [Profile(p) for p in profiles_of(spec.load) or []]
    problems: list[Problem] = []
    if spec.load.tool != "h2load" and any(p is not Profile.CONNECTIONS for p in profiles):
        problems.append(Problem("load.tool", "the requests and throughput profiles need h2load"))
    crossed = spec.design.kind == "full" or {PROFILE_FACTOR, "rate"} <= set(spec.design.crossed)
    if Profile.THROUGHPUT in profiles and crossed and len(spec.load.rates) > 1:
        problems.append(
            Problem(
                "load.profile",
                "the throughput profile has its own target (load.throughput.mbit_per_s): crossed "
                "with several load.rates it would repeat one load; vary profile alone "
                "(design.kind one-factor-at-a-time, 'profile' not in design.crossed)",
            )
        )
    t = spec.load.throughput
    if Profile.THROUGHPUT in profiles and t.mbit_per_s * 1e6 / 8 / (t.body_kib * 1024) < 1:
        problems.append(
            Problem(
                "load.throughput.body_kib",
                f"{t.mbit_per_s} Mbit/s is less than one {t.body_kib} KiB body a second; "
                "use smaller bodies",
            )
        )
    return problems


def program(argv: Sequence[str], base: Path) -> tuple[str, ...]:
    """argv with a relative program path (one with a slash, like ``agents/wrap.sh``) made
    absolute against ``base``, the campaign file's folder; a bare name is looked up on PATH as
    given, and a path built from placeholders is left to them."""
    first = argv[0]
    if "/" in first and not first.startswith("/") and "{" not in first:
        first = os.path.normpath(base / first)
    return (first, *argv[1:])


def placeholders(argv: Iterable[str]) -> Iterator[str]:
    """The ``{name}`` fields of an argv list (``{`` alone for an unbalanced brace)."""
    for arg in argv:
        try:
            for _, field, _, _ in string.Formatter().parse(arg):
                if field is not None:
                    yield field
        except ValueError:
            yield "{"  # unbalanced brace: reported as a bad placeholder


def semantic_problems(spec: CampaignFile) -> list[Problem]:
    """Cross-field checks that a schema alone cannot express."""
    problems: list[Problem] = []
    if BASELINE in spec.agent.modes:
        problems.append(
            Problem("agent.modes", "'baseline' is implicit (the agent absent); do not list it")
        )
    for name in spec.factors:
        if name in BUILTIN_FACTORS:
            problems.append(
                Problem(
                    f"factors.{name}",
                    f"'{name}' is built in (agent.modes / load.rates / load.profile)",
                )
            )
        elif not FACTOR_RE.fullmatch(name):
            problems.append(
                Problem(f"factors.{name}", "factor names are lower-case letters, digits and '_'")
            )
    for name, values in spec.factors.items():
        by_label: dict[str, Any] = {}
        for value in values:
            key = label(value)
            if key not in by_label:
                by_label[key] = value
            else:
                other = by_label[key]
                problems.append(
                    Problem(
                        f"factors.{name}",
                        f"levels {show(other)} and {show(value)} are one level in Graphite "
                        "(the same text); keep one",
                    )
                )
    load = spec.load
    if load.duration_s - load.warmup_s - load.cooldown_s < MIN_STEADY_S:
        problems.append(
            Problem(
                "load.duration_s",
                f"leaves {load.duration_s - load.warmup_s - load.cooldown_s} s of steady window "
                f"after warmup_s + cooldown_s; a run needs at least {MIN_STEADY_S} s",
            )
        )
    if spec.collect.compare_prefix == spec.graphite.prefix:
        problems.append(
            Problem("collect.compare_prefix", "must differ from graphite.prefix (the run's own)")
        )
    if load.run_timeout_s <= load.duration_s:
        problems.append(Problem("load.run_timeout_s", "must exceed load.duration_s"))
    levels = factor_levels(spec)
    problems += profile_problems(spec)
    problems += hosts_problems(spec)
    for key, value in spec.design.reference.items():
        if key not in levels:
            problems.append(
                Problem(f"design.reference.{key}", f"unknown factor (known: {', '.join(levels)})")
            )
        elif value not in levels[key]:
            problems.append(
                Problem(
                    f"design.reference.{key}",
                    f"{show(value)} is not one of the levels {levels[key]}",
                )
            )
    d = spec.design
    judged = [k.name for k in KPIS if k.judged]
    for key in d.target_ci:
        if key not in judged:
            problems.append(
                Problem(
                    f"design.target_ci.{key}", f"not a judged KPI (judged: {', '.join(judged)})"
                )
            )
    if d.adaptive and not d.interleave:
        problems.append(Problem("design.interleave", "an adaptive design runs interleaved rounds"))
    if d.max_repeats < d.min_repeats:
        problems.append(Problem("design.max_repeats", "must be at least design.min_repeats"))
    for i, name in enumerate(spec.design.crossed):
        if name not in levels:
            problems.append(
                Problem(f"design.crossed[{i}]", f"unknown factor (known: {', '.join(levels)})")
            )
    problems += _placeholder_problems(spec, set(levels))
    if "{mode}" not in " ".join(spec.agent.set_mode):
        problems.append(Problem("agent.set_mode", "must contain the placeholder {mode}"))
    return problems


def _placeholder_problems(spec: CampaignFile, levels: set[str]) -> list[Problem]:
    """Every placeholder a command names is known; an agent that allows the load by its one
    address while the lab's load comes from many is told how to allow them."""
    known = levels | RUN_PLACEHOLDERS
    problems: list[Problem] = []
    commands: list[tuple[str, list[str]]] = [("workload.command", spec.workload.command)]
    for field in ("install", "uninstall", "set_mode", "start", "stop", "health", "version"):
        argv = getattr(spec.agent, field)
        if argv is not None:
            commands.append((f"agent.{field}", argv))
    for where, argv in commands:
        for name in placeholders(argv):
            if name not in known:
                problems.append(
                    Problem(
                        where,
                        f"unknown placeholder {{{name}}} (known: {', '.join(sorted(known))})",
                    )
                )
    agent_words = " ".join(
        " ".join(argv) for where, argv in commands if where != "workload.command"
    )
    many = spec.lab.clients > 1 and not spec.hosts.workload.remote
    if many and "{load_addr}" in agent_words and "{load_net}" not in agent_words:
        problems.append(
            Problem(
                "agent",
                "{load_addr} is one address, but in a namespaces lab the load's connections come "
                f"from lab.clients = {spec.lab.clients} addresses: allow {{load_net}} (the "
                "network they come from), or set lab.clients = 1",
            )
        )
    return problems


def output_dir_of(value: str, campaign_path: Path) -> Path:
    """Where a campaign's tables go: relative to its file, or an absolute path; ValueError for
    an empty one or a system directory."""
    if not value.strip():
        raise ValueError("must not be empty (the default is var/campaigns)")
    given = Path(value)
    where = given if given.is_absolute() else campaign_path.resolve().parent / given
    resolved = Path(os.path.normpath(where))
    text = str(resolved)
    inside = any(text == d or text.startswith(d + "/") for d in SYSTEM_DIRS)
    if text in NOT_ITSELF or (inside and not text.startswith("/usr/local/")):
        raise ValueError(f"{value!r} is {text}, a system directory")
    return resolved


def parse_campaign(text: str, label: str, path: Path | None = None) -> Campaign:
    """Parse and validate TOML text; raise ConfigError with one detail line per problem."""
    spec = parse_model(text, label, CampaignFile)
    problems = semantic_problems(spec)
    try:
        output_dir_of(spec.campaign.output_dir, path or Path(label))
    except ValueError as exc:
        problems.append(Problem("campaign.output_dir", str(exc)))
    if problems:
        lines = [f"{label}: {p.path}: {p.message}" for p in problems]
        raise ConfigError(lines[0], details=lines)
    return Campaign(path=path or Path(label), spec=spec)


def load_campaign(path: str | Path) -> Campaign:
    """Load a campaign file; every error names the file and the key path."""
    p = Path(path)
    label = str(path)
    return parse_campaign(read_text(p, label, "campaign file"), label, p)
