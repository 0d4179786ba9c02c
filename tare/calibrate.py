"""``tare calibrate``: the design (``harness.calibration``) run in a namespaces lab, each run's
series read back, the evaluation (``pipeline.calibration``) after every round. Wiring only."""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import TextIO

from collectors.carbon import unreachable
from collectors.collect import default_host
from contracts.addresses import RenderUrl
from contracts.calibration import Group
from contracts.cpus import labels
from contracts.errors import RunInvalid, ServiceUnavailable, UsageError
from contracts.kpis import BY_NAME
from contracts.labels import label
from contracts.manifest import GraphiteTarget
from contracts.paths import DEFAULT_PREFIX
from contracts.states import RunState
from harness.calibration import Design, run_rounds, runner_config
from harness.lab import Lab, namespace_lab, split_cpus
from harness.lock import LabLock
from harness.matrix import Cell, PlannedRun
from harness.preflight import agents_on_path, check_tools
from harness.reach import out_of_reach
from harness.runner import RunOutcome, execute_with_reruns
from pipeline.calibration import Criteria, Result, RunData, fetch_values, narrow_enough, result
from pipeline.fetch import RunRef
from pipeline.graphite import GraphiteClient
from tare.run import Recorder
from tare.stack.settings import StackSettings

NAME = "calibrate"
RERUNS_DISTURBED = 2  # like a campaign's default design.reruns_disturbed
# the judged KPIs the calibration does not judge, fetched for their noise (``tare plan``)
NOISE_KPIS = tuple(BY_NAME[k] for k in ("softirq_all", "mem_conntrack", "throughput", "conn_rate"))


def cores() -> tuple[str, str]:
    """(the workload's first core, the first load core): the lab's split, for the KPI
    paths."""
    w_core, l_cores = split_cpus(os.cpu_count() or 1)
    return labels(w_core)[0], labels(l_cores)[0]


def calibrate(
    design: Design,
    criteria: Criteria,
    stack: StackSettings,
    stream: TextIO,
    make_lab: Callable[[str], Lab] | None = None,
) -> Result:
    if os.geteuid() != 0:
        raise UsageError("tare calibrate needs root (a namespaces lab pinned to its cores)")
    agents_on_path()
    cfg = runner_config(design, stack.state_dir)
    check_tools(cfg.tool, cfg.workload_argv[0], "calibration workload")
    why = unreachable(stack.carbon)
    if why is not None:
        raise ServiceUnavailable(f"carbon at {stack.carbon} unreachable ({why}); `tare stack up`")
    client = GraphiteClient(stack.render_url, timeout_s=30)
    if not client.ping():
        raise ServiceUnavailable(
            f"graphite-web at {stack.render_url} does not answer; start it with `tare stack up`"
        )
    graphite = GraphiteTarget(RenderUrl.parse(stack.render_url), stack.carbon, DEFAULT_PREFIX)
    hooks = Recorder(graphite, NAME, NAME, stack.state_dir, ("nginx", "tare-ballast"))
    host = default_host()
    w_cores = labels(split_cpus(os.cpu_count() or 1)[0])
    record_dir = stack.state_dir / "lab" / "records"
    tech = design.techniques

    def default_lab(_run_id: str) -> Lab:
        return namespace_lab(
            uuid.uuid4().hex[:8], record_dir, cfg.port, pin=tech.pinning, rps=tech.rps
        )

    lab_for = make_lab or default_lab
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    seq = 0

    def execute(group: Group, rnd: int) -> RunData:
        nonlocal seq
        seq += 1
        levels = design.levels(group)
        run_id = label(f"calib-{stamp}-{seq:03d}-{group.value.lower()}")
        planned = PlannedRun(seq, Cell(tuple(levels.items())), rnd + 1, ())
        outcome, _ = execute_with_reruns(
            run_id,
            planned,
            cfg,
            lab_for,
            hooks,
            RERUNS_DISTURBED,
            lambda text: print(f"calibrate: {run_id}: {text}", file=stream, flush=True),
        )
        hooks.run_finished(run_id, planned, outcome)
        print(
            f"calibrate: round {rnd + 1}/{design.rounds} {group.value:<2} {levels['mode']:<8} "
            f"{outcome.status}" + (f": {outcome.reason}" if outcome.reason else ""),
            file=stream,
            flush=True,
        )
        return _data(client, run_id, group, outcome, host, w_cores)

    with LabLock("calibrate", NAME, stack.state_dir):
        refused = out_of_reach(
            [design.rate], cfg, lab_for, stack.state_dir / "lab" / "reach", partial(_say, stream)
        )
        if refused:
            r = refused[0]
            hint = f"; try --rate {int(r.achieved // 100 * 100)}" if r.achieved >= 100 else ""
            raise RunInvalid(f"{r.describe()}{hint}; no calibration run was spent")
        runs, rounds, stopped = run_rounds(design, execute, lambda r: narrow_enough(criteria, r))
    return result(
        criteria, design.rate, design.budget_s, design.run_length_s, runs, rounds, stopped
    )


def _say(stream: TextIO, text: str) -> None:
    print(f"calibrate: {text}", file=stream, flush=True)


def _data(
    client: GraphiteClient,
    run_id: str,
    group: Group,
    outcome: RunOutcome,
    host: str,
    cores: tuple[str, ...],
) -> RunData:
    data = RunData(run_id, group, outcome.status, outcome.reason)
    if outcome.status is RunState.DONE and outcome.steady is not None:
        start, end = math.ceil(outcome.steady[0]), math.floor(outcome.steady[1])
        lab = outcome.facts.lab
        interface = lab.workload_interface if lab else None
        ref = RunRef(run_id, host, DEFAULT_PREFIX, start, end, cores, interface)
        data.values = fetch_values(client, ref, NOISE_KPIS)
        data.ref = ref
    if outcome.facts.probe is not None:
        data.probe = dict(outcome.facts.probe.values)
    return data


def write_health(stack: StackSettings, result_: Result) -> str:
    """The calibration's noise floor on the lab-health paths (``pipeline.health``); what
    became of the points, for one line on stderr (spooled when carbon is down)."""
    from collectors.sender import deliver
    from pipeline.calibration import figures
    from pipeline.health import calibration_points

    when = int(time.time())
    points = calibration_points(
        DEFAULT_PREFIX, default_host(), result_.rate, when, figures(result_)
    )
    if not points:
        return "no calibration figure to write"
    delivery = deliver(stack.carbon, stack.state_dir / "spool", "calibrate", points)
    return delivery.describe("calibration points", stack.carbon)
