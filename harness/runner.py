"""One run, end to end, and a campaign of them.

A run: a fresh lab (so no rule of an earlier agent can linger into a baseline), the workload
started and probed, the agent installed, set to its mode, started and found healthy (contenders
only), collection started, the fixed-rate load, the agent checked again, then everything torn
down whatever happened. The outcome is ``done``, ``invalid`` (the load tool did not offer the
target load, or a baseline's requests failed: not a data point; requests the agent fails are its
measured cost, not the lab's failure) or ``failed`` (the workload or the agent did not come up,
or died), always with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from contracts.cpus import expand
from contracts.errors import ErrorKind
from contracts.load import Profile
from contracts.manifest import BASELINE, CollectorReport, LabFacts, LoadSummary, Probe
from contracts.processes import ended_mid_run, log_tail, stop
from contracts.states import RunState
from harness import counters, disturbance, nginx, ports, speed
from harness import load as loadmod
from harness.agent import Agent, AgentCommands, AgentFailed, fill
from harness.disturbance import Disturbance
from harness.errors import HarnessError
from harness.lab import Host, Lab, LabError, teardown
from harness.matrix import PlannedRun
from harness.profiles import Profiles

log = logging.getLogger(__name__)

PROBE = (
    "import socket,sys,time\n"
    "end=time.time()+float(sys.argv[3])\n"
    "while time.time()<end:\n"
    "    try:\n"
    "        socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=1).close()\n"
    "        sys.exit(0)\n"
    "    except OSError:\n"
    "        time.sleep(0.1)\n"
    "sys.exit(1)\n"
)


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    workload_argv: tuple[str, ...]
    port: int
    path: str
    ready_timeout_s: float
    agent: AgentCommands
    tool: str
    duration_s: int
    warmup_s: int
    cooldown_s: int
    min_ratio: float
    run_timeout_s: int
    lab_root: Path
    state_dir: Path
    max_disturbance_pct: float | None = None  # None: not checked
    max_missing_s: int = 2  # steady seconds the run's collector may miss (else: invalid)
    profiles: Profiles = field(default_factory=Profiles)
    access_log: bool = True  # the nginx tare configures logs every request (docs/harness.md)
    # request errors (in % of those planned) a baseline run may have and stay valid; in a
    # contender run they are the agent's measured cost (``error_pct``), whatever their share
    max_error_pct: float = 0.5
    probe_s: int = 0  # the machine-speed probe before any agent step (``harness.speed``); 0: none
    campaign_dir: Path | None = None  # the campaign file's folder ({campaign_dir})


def run_values(
    lab: Lab, cfg: RunnerConfig, levels: dict[str, Any], run_id: str, lab_dir: Path
) -> dict[str, Any]:
    """What the placeholders of the campaign's commands name, and the agent's ``TARE_*``."""
    return {
        **levels,
        "run_id": run_id,
        "state_dir": cfg.state_dir,
        "lab_dir": lab_dir,
        "agent_dir": lab.agent_dir,
        "campaign_dir": cfg.campaign_dir or "",
        "netns": lab.workload.netns or "",
        "interface": lab.workload.interface or "",
        "workload_addr": lab.workload.address,
        "load_addr": lab.load.address,
        "load_net": lab.load_net,
        "port": cfg.port,
    }


@dataclass
class RunFacts:
    """What a run learnt of its lab and agent on the way (for the manifest)."""

    lab: LabFacts | None = None
    agent_version: str | None = None
    teardown_problems: tuple[str, ...] = ()
    load_elapsed_s: float | None = None
    disturbance: Disturbance | None = None
    collection: tuple[CollectorReport, ...] = ()
    probe: Probe | None = None
    probe_note: str | None = None  # why the run has no probe, when one was asked for


@dataclass
class RunOutcome:
    status: RunState  # done | invalid | failed
    reason: str | None
    steady: tuple[float, float] | None = None
    load: loadmod.LoadResult | None = None
    server: loadmod.ServerCheck | None = None
    per_second: dict[int, float] = field(default_factory=dict)  # in the profile's unit
    facts: RunFacts = field(default_factory=RunFacts)
    retransmits: int | None = None
    offered: float | None = None  # new connections/s the load host opened (its own count)
    agent_step: str | None = None  # the agent step that failed the run, if one did

    @property
    def server_accept_rate(self) -> float | None:
        """Connections/s the workload's namespace accepted (connections profile only)."""
        if self.load is None or self.load.profile is not Profile.CONNECTIONS:
            return None
        return self.server.rate if self.server is not None else None

    def summary(self) -> LoadSummary | None:
        """The load as the manifest records it."""
        if self.load is None:
            return None
        r = self.load
        return LoadSummary(
            r.tool,
            float(r.target_rate),
            round(r.achieved_rate, 2),
            r.errors,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            self.server_accept_rate,
            r.profile.value,
            round(self.server.rate, 2) if self.server is not None else None,
            self.retransmits,
            round(r.error_pct, 4),
            None if self.offered is None else round(self.offered, 2),
        )


class Collection(Protocol):
    """The run's collectors: stopped after the load; a failure fails the run; the first
    report is the collector the analysis reads (its missed seconds can invalidate the run)."""

    def stop(self) -> None: ...

    def failure(self) -> str | None: ...

    def reports(self, steady: tuple[float, float]) -> tuple[CollectorReport, ...]: ...


class Hooks(Protocol):
    def start_collection(self, run_id: str, lab: Lab, agent_present: bool) -> Collection: ...

    def run_finished(self, run_id: str, planned: PlannedRun, outcome: RunOutcome) -> None: ...


# the load tool on a load host over SSH, timed there: its start and end on stderr
TIMED = (
    'echo "tare-load-started $(date +%s.%N)" >&2; "$@"; r=$?; '
    'echo "tare-load-ended $(date +%s.%N)" >&2; exit $r'
)


def timed_on_host(stderr: str) -> tuple[str, float | None]:
    """(the tool's own stderr, the seconds between TIMED's two marks; None without them)."""
    marks: dict[str, float] = {}
    kept = []
    for line in stderr.splitlines(keepends=True):
        word, _, value = line.strip().partition(" ")
        if word in ("tare-load-started", "tare-load-ended"):
            with contextlib.suppress(ValueError):
                marks[word] = float(value)
            continue
        kept.append(line)
    if len(marks) != 2:
        return "".join(kept), None
    return "".join(kept), marks["tare-load-ended"] - marks["tare-load-started"]


def probe(load: Host, address: str, port: int, timeout_s: float) -> bool:
    python = sys.executable if load.transport is None else "python3"
    proc = load.run(
        [python, "-c", PROBE, address, str(port), str(timeout_s)],
        timeout_s + 10,
        in_cgroup=False,
    )
    return proc.returncode == 0


def _tool_result(
    proc: subprocess.CompletedProcess[str] | None,
    spec: loadmod.LoadSpec,
    log_file: Path,
    steady: tuple[float, float],
    elapsed: float,
) -> tuple[loadmod.LoadResult, dict[int, float]]:
    """What the load tool did, and its load per second (h2load's per-request log); ``proc`` is
    None when h2load was stopped at its deadline."""
    if spec.tool != "h2load":
        assert proc is not None  # only h2load is stopped at a deadline
        return loadmod.httperf_result(proc.stdout, spec), {}
    text = log_file.read_text() if log_file.exists() else ""
    if proc is None:  # stopped: whole lines only (it was killed mid-write)
        reqlog = loadmod.parse_h2load_log(text[: text.rfind("\n") + 1])
        result = loadmod.stopped_result(reqlog, spec, steady, elapsed)
    else:
        reqlog = loadmod.parse_h2load_log(text)
        result = loadmod.h2load_result(proc.stdout + proc.stderr, reqlog, spec, steady)
    return result, loadmod.per_second_load(reqlog, spec)


def _read_counters(
    lab: Lab, server: subprocess.Popen[bytes], iface: str | None
) -> tuple[counters.Counters | None, counters.Counters | None]:
    """The workload's stack counters, and the load host's own (its connections opened; None
    where it shares the workload's stack, in a loopback lab)."""
    if lab.workload.transport is not None:
        workload = counters.read_on(lab.workload, iface)
    else:
        workload = counters.read(server.pid, iface)
    separate = lab.load.netns is not None or lab.load.transport is not None
    return workload, counters.read_on(lab.load, None) if separate else None


def _load_and_judge(
    lab: Lab,
    server: subprocess.Popen[bytes],
    cfg: RunnerConfig,
    planned: PlannedRun,
    lab_dir: Path,
    facts: RunFacts,
) -> RunOutcome:
    """Drive the load, read the tool's results and the server's counters, judge the run."""
    profile = Profile.of(dict(planned.cell.levels))
    spec = cfg.profiles.spec(
        cfg.tool,
        lab.workload.address,
        cfg.port,
        cfg.path,
        planned.cell.rate,
        cfg.duration_s,
        profile,
    )
    log_file = lab_dir / "load.log"
    lab_cgroups = [c for c in (lab.cgroup, lab.load_cgroup) if c]
    watch = len(lab_cgroups) == 2  # measured and recorded even where no limit judges it
    iface = lab.workload.interface

    before_counters, before_load = _read_counters(lab, server, iface)
    before = disturbance.snapshot(lab_cgroups, time.monotonic()) if watch else None
    t0 = time.time()
    argv = loadmod.command(spec, str(log_file))
    timed: float | None = None
    if lab.load.transport is not None:  # the log is written there, then read back
        lab.load.run(["mkdir", "-p", str(lab_dir)], 30, in_cgroup=False)
        argv = ["sh", "-c", TIMED, "sh", *argv]
    # h2load on this machine is stopped at the run's planned length (and a grace) when it has
    # not offered the load by then: its per-request log says what it did
    stoppable = cfg.tool == "h2load" and lab.load.transport is None
    deadline = min(cfg.run_timeout_s, loadmod.deadline_s(cfg.duration_s)) if stoppable else None
    proc: subprocess.CompletedProcess[str] | None = None
    try:
        proc = lab.load.run(argv, deadline or cfg.run_timeout_s)
        if lab.load.transport is not None:
            got = lab.load.run(["cat", str(log_file)], 60, in_cgroup=False)
            log_file.write_text(got.stdout)
            proc.stderr, timed = timed_on_host(proc.stderr)
    except subprocess.TimeoutExpired:
        if deadline is None or deadline >= cfg.run_timeout_s:
            return RunOutcome(
                RunState.FAILED, f"load did not finish within {cfg.run_timeout_s} s", facts=facts
            )
    t1 = time.time()
    elapsed = t1 - t0
    if lab.load.transport is not None and timed is not None:
        elapsed = timed  # as the load host timed it: no SSH round trips in it
    if before is not None:
        after = disturbance.snapshot(lab_cgroups, time.monotonic())
        facts.disturbance = disturbance.share(before, after)
    after_counters, after_load = _read_counters(lab, server, iface)
    if proc is not None and proc.returncode != 0 and cfg.tool == "h2load" and not proc.stdout:
        return RunOutcome(
            RunState.FAILED,
            f"{cfg.tool} exited {proc.returncode}: {proc.stderr.strip()[-300:]}",
            facts=facts,
        )
    steady = (t0 + cfg.warmup_s, t0 + cfg.duration_s - cfg.cooldown_s)
    result, per_sec = _tool_result(proc, spec, log_file, steady, elapsed)
    # the server's count over the run's planned length, as the load tool's schedule and the
    # load host's count are: the wall time around the tool also holds its start and its last
    # answers (0.3 s of a 12 s run on a busy machine read 488 of 500 conn/s accepted, all of
    # them accepted); a tool that lagged is the achieved check's to judge
    check = counters.server_check(profile, before_counters, after_counters, cfg.duration_s, iface)
    facts.load_elapsed_s = round(elapsed, 3)
    agent_present = dict(planned.cell.levels)["mode"] != BASELINE
    offered = counters.offered(profile, before_load, after_load, cfg.duration_s)
    verdict = loadmod.judge(result, cfg.min_ratio, check, cfg.max_error_pct, agent_present, offered)
    retrans = counters.retransmits(before_counters, after_counters)
    d, limit = facts.disturbance, cfg.max_disturbance_pct
    if d is not None and limit is not None and d.total_pct > limit:
        why = f"{d.describe()}, above the {limit:g} allowed"  # the status says "disturbed"
        if not verdict.valid:  # what the load did meanwhile: maybe the disturbance's doing
            why += "; and the load was invalid: " + "; ".join(verdict.reasons)
        return RunOutcome(
            RunState.DISTURBED, why, steady, result, check, per_sec, facts, retrans, offered
        )
    return RunOutcome(
        RunState.DONE if verdict.valid else RunState.INVALID,
        None if verdict.valid else "; ".join(verdict.reasons),
        steady,
        result,
        check,
        per_sec,
        facts,
        retrans,
        offered,
    )


class NotReady(HarnessError):
    """The workload did not accept connections in time (the run fails; caught here)."""

    kind = ErrorKind.RUN_INVALID
    PREFIX = "workload not ready"


@dataclass
class Session:
    """A lab with the workload running and, for contenders, the agent up."""

    lab: Lab
    lab_dir: Path
    server: subprocess.Popen[bytes]
    agent: Agent | None


@contextlib.contextmanager
def session(
    run_id: str,
    levels: dict[str, Any],
    cfg: RunnerConfig,
    make_lab: Callable[[str], Lab],
    facts: RunFacts,
) -> Iterator[Session]:
    """Build a fresh lab, start and probe the workload, bring the agent up (unless the mode is
    baseline); tear it all down on the way out, whatever happened."""
    lab_dir = cfg.lab_root / run_id
    shutil.rmtree(lab_dir, ignore_errors=True)
    lab_dir.mkdir(parents=True)
    lab: Lab | None = None
    server: subprocess.Popen[bytes] | None = None
    agent: Agent | None = None
    try:
        lab = make_lab(run_id)
        facts.lab = LabFacts(
            lab.lab_id,
            lab.kind,
            tuple(lab.sysctls.items()),
            lab.workload.cpus,
            lab.load.cpus,
            lab.workload.interface,
            tuple(lab.gives_up),
            tuple(lab.set_by_lab),
        )
        values = run_values(lab, cfg, levels, run_id, lab_dir)
        profile = Profile.of(levels)
        nginx.write(
            lab_dir / "nginx",
            cfg.port,
            keepalive=profile is not Profile.CONNECTIONS,
            body_bytes=cfg.profiles.body_bytes if profile is Profile.THROUGHPUT else 0,
            access_log=cfg.access_log,
            workers=len(expand(lab.workload.cpus)) if lab.workload.cpus else None,
        )
        lab.workload.push(lab_dir / "nginx")  # its config and bodies, where it runs
        busy, holders = ports.listeners(lab.workload, cfg.port)
        if busy:
            raise NotReady(
                f"{NotReady.PREFIX}: port {cfg.port} in the workload's namespace is already held "
                f"by {ports.describe(holders)}"
            )
        with (lab_dir / "workload.log").open("ab") as out:
            server = lab.workload.popen(fill(cfg.workload_argv, values), out)
        if not probe(lab.load, lab.workload.address, cfg.port, cfg.ready_timeout_s):
            detail = log_tail(lab_dir / "workload.log") or log_tail(lab_dir / "nginx" / "error.log")
            raise NotReady(
                f"{NotReady.PREFIX} on {lab.workload.address}:{cfg.port} "
                f"within {cfg.ready_timeout_s:.0f} s" + (f": {detail}" if detail else "")
            )
        _, holders = ports.listeners(lab.workload, cfg.port)
        if not _holds_port(lab.workload, server, holders, cfg.workload_argv[0]):
            detail = log_tail(lab_dir / "workload.log") or log_tail(lab_dir / "nginx" / "error.log")
            raise NotReady(
                f"{NotReady.PREFIX}: port {cfg.port} answered, but it is held by "
                f"{ports.describe(holders)}, not by the workload (pid {server.pid})"
                + (f": {detail}" if detail else "")
            )
        if cfg.probe_s > 0:
            _probe(lab, cfg, levels, lab_dir, facts)
        if levels["mode"] != BASELINE:
            made = lab.workload.run(
                ["mkdir", "-p", "-m", "0700", lab.agent_dir], 30, in_cgroup=False
            )
            if made.returncode != 0:
                raise LabError(f"the agent's folder {lab.agent_dir}: {made.stderr.strip()}")
            agent = Agent(lab.workload, cfg.agent, values)
            facts.agent_version = agent.version()
            agent.bring_up(str(levels["mode"]))
        yield Session(lab, lab_dir, server, agent)
    finally:
        if agent is not None:
            problems = agent.tear_down()
            if problems:
                facts.teardown_problems = tuple(problems)
            with contextlib.suppress(LabError, OSError, subprocess.TimeoutExpired):
                agent.host.run(["rm", "-rf", str(agent.values["agent_dir"])], 30, in_cgroup=False)
        if server is not None:
            stop(server)
        # the access log is the agents' input, not a record: at 10K/s it is 27 MB a run
        (lab_dir / "nginx" / nginx.ACCESS_LOG).unlink(missing_ok=True)
        if lab is not None:
            teardown(lab)


def _probe(
    lab: Lab, cfg: RunnerConfig, levels: dict[str, Any], lab_dir: Path, facts: RunFacts
) -> None:
    """The machine-speed probe: the run's load for ``probe_s`` on the bare workload."""
    spec = cfg.profiles.spec(
        cfg.tool,
        lab.workload.address,
        cfg.port,
        cfg.path,
        int(levels["rate"]),
        cfg.probe_s,
        Profile.of(levels),
    )
    got = speed.measure(lab, spec, lab_dir / "probe.log")
    if isinstance(got, Probe):
        facts.probe = got
    else:
        facts.probe_note = got
        log.info("no probe: %s", got)


def _holds_port(
    host: Host, server: subprocess.Popen[bytes], holders: list[ports.Listener], program: str
) -> bool:
    """The port is the workload's: held by its process or a descendant here; on a host over
    SSH (whose pids tare does not see), by a process of the workload's program name."""
    if host.transport is None:
        ours = ports.descendants(server.pid)
        return any(h.pid in ours for h in holders)
    name = Path(program).name[:15]  # ss shows the kernel's 15-character comm
    return any(h.process == name for h in holders)


def workload_ended(s: Session) -> str | None:
    """Why the workload is no longer running, if it is not: it exited, or (on a host over SSH)
    its connection ended, ssh's own words in its log."""
    code = s.server.poll()
    if code is None:
        return None
    over_ssh = s.lab.workload.transport is not None
    return "workload: it " + ended_mid_run(code, over_ssh, s.lab_dir / "workload.log")


def judge_collection(outcome: RunOutcome, collection: Collection, max_missing_s: int) -> None:
    """A collector that failed fails the run; one that missed more steady seconds than allowed
    makes it invalid (its mean would stand on a part of the window)."""
    if outcome.steady is not None:
        outcome.facts.collection = collection.reports(outcome.steady)
    if outcome.status is RunState.FAILED:
        return
    why = collection.failure()
    if why is not None:
        outcome.status, outcome.reason = RunState.FAILED, f"collector: {why}"
        return
    reports = outcome.facts.collection
    if reports and reports[0].missing_s > max_missing_s and outcome.status is RunState.DONE:
        r = reports[0]
        words = "; ".join(r.notes)
        outcome.status = RunState.INVALID
        outcome.reason = (
            f"collector gap: {r.name} missed {r.missing_s} s of the steady window "
            f"(at most {max_missing_s} allowed)" + (f": {words}" if words else "")
        )


def execute_run(
    run_id: str,
    planned: PlannedRun,
    cfg: RunnerConfig,
    make_lab: Callable[[str], Lab],
    hooks: Hooks,
) -> RunOutcome:
    """One run; never raises for a run-level failure (only for KeyboardInterrupt)."""
    facts = RunFacts()
    try:
        with session(run_id, dict(planned.cell.levels), cfg, make_lab, facts) as s:
            collection = hooks.start_collection(run_id, s.lab, s.agent is not None)
            try:
                why = collection.failure()
                if why is not None:
                    return RunOutcome(RunState.FAILED, f"collector: {why}", facts=facts)
                ended = workload_ended(s)
                if ended is not None:
                    return RunOutcome(RunState.FAILED, ended, facts=facts)
                outcome = _load_and_judge(s.lab, s.server, cfg, planned, s.lab_dir, facts)
                ended = workload_ended(s)
                if ended is not None:  # the load's figures are the dead server's, not a result
                    outcome.status, outcome.reason = RunState.FAILED, ended
            finally:
                collection.stop()
            judge_collection(outcome, collection, cfg.max_missing_s)
            if s.agent is not None and outcome.status is not RunState.FAILED:
                ok, words = s.agent.healthy()
                if not ok:
                    outcome.status = RunState.FAILED
                    outcome.reason = f"agent unhealthy after the load: {words}"
                    outcome.agent_step = "health"
            return outcome
    except AgentFailed as exc:
        return RunOutcome(RunState.FAILED, str(exc), facts=facts, agent_step=exc.step)
    except (NotReady, LabError, loadmod.LoadToolError, OSError) as exc:
        return RunOutcome(RunState.FAILED, str(exc), facts=facts)


def execute_with_reruns(
    run_id: str,
    planned: PlannedRun,
    cfg: RunnerConfig,
    make_lab: Callable[[str], Lab],
    hooks: Hooks,
    reruns: int,
    note: Callable[[str], None],
) -> tuple[RunOutcome, list[str]]:
    """One run; a disturbed one is run again, up to ``reruns`` more times (each attempt's
    results still go to ``hooks``). Returns the last outcome and why each earlier attempt was
    left out."""
    earlier: list[str] = []
    while True:
        outcome = execute_run(run_id, planned, cfg, make_lab, hooks)
        if outcome.status is not RunState.DISTURBED or len(earlier) >= reruns:
            return outcome, earlier
        earlier.append(outcome.reason or RunState.DISTURBED.value)
        hooks.run_finished(run_id, planned, outcome)
        note(f"{outcome.status}: {outcome.reason}; running it again ({len(earlier)}/{reruns})")
