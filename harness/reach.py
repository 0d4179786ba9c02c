"""Rates the lab can offer, known before the night.

A run that does not reach its target load is invalid, and a night of them is a night lost: at
10K conn/s on a 2-core machine where the generator and the workload share the cores, 7 of 8
runs fell short. Before a campaign's first run each connection rate it plans is offered for a
few seconds to the bare workload (no agent, the campaign's own lab and load); a rate the lab
cannot offer is refused in one line saying what the host reached, before any run is spent.

Reading the load tool's log is I/O (``offer``); the judgement is pure (``judge``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import shutil
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from contracts.load import Profile
from contracts.manifest import BASELINE
from harness import load as loadmod
from harness.lab import Lab, LabError
from harness.runner import NotReady, RunFacts, RunnerConfig, session

CHECK_S = 5  # seconds of load per rate
SKIP_S = 1.0  # the first second (h2load's start, the workload's first accepts) is not judged


@dataclass(frozen=True, slots=True)
class Reach:
    rate: int  # the target, new connections/s
    achieved: float  # what the lab offered over the judged seconds (connections started/s)
    min_ratio: float
    load_cpus: str | None = None
    why: str | None = None  # the check itself failed (the lab did not come up)

    @property
    def ok(self) -> bool:
        return self.why is None and self.achieved >= self.min_ratio * self.rate

    def describe(self) -> str:
        where = f" with the load on core(s) {self.load_cpus}" if self.load_cpus else ""
        if self.why is not None:
            return f"rate {self.rate}/s could not be checked: {self.why}"
        if self.ok:
            return f"rate {self.rate}/s offered: {self.achieved:.0f}/s{where}"
        return (
            f"rate {self.rate}/s is out of reach: this host offers at most "
            f"{self.achieved:.0f} conn/s{where} ({self.min_ratio:.0%} of the target needed)"
        )


def judge(starts_us: Sequence[int], seconds: float) -> float:
    """Connections started per second between the first start + ``SKIP_S`` and the planned
    end (what a generator that keeps up offers; one that falls behind starts fewer there)."""
    if not starts_us:
        return 0.0
    t0 = min(starts_us) / 1e6
    return loadmod.steady_rate(starts_us, t0 + SKIP_S, t0 + seconds)


def offer(
    rate: int,
    cfg: RunnerConfig,
    make_lab: Callable[[str], Lab],
    root: Path,
    seconds: int = CHECK_S,
) -> Reach:
    """Offer ``rate`` for ``seconds`` to the bare workload in a fresh lab of the campaign's."""
    run_id = f"reach-{rate}-{uuid.uuid4().hex[:6]}"
    plain = dataclasses.replace(cfg, probe_s=0, lab_root=root)
    facts = RunFacts()
    levels = {"mode": BASELINE, "rate": rate}
    try:
        with session(run_id, levels, plain, make_lab, facts) as s:
            spec = cfg.profiles.spec(
                cfg.tool,
                s.lab.workload.address,
                cfg.port,
                cfg.path,
                rate,
                seconds,
                Profile.CONNECTIONS,
            )
            log_file = s.lab_dir / "reach.log"
            argv = loadmod.command(spec, str(log_file))
            with contextlib.suppress(subprocess.TimeoutExpired):  # fell behind: its log says
                s.lab.load.run(argv, loadmod.deadline_s(seconds))
            text = log_file.read_text() if log_file.exists() else ""
            starts = loadmod.parse_h2load_log(text).starts_us
            cpus = s.lab.load.cpus
    except (NotReady, LabError, loadmod.LoadToolError, OSError) as exc:
        return Reach(rate, math.nan, cfg.min_ratio, why=str(exc) or type(exc).__name__)
    finally:
        shutil.rmtree(root / run_id, ignore_errors=True)  # its log: thousands of lines
    return Reach(rate, judge(starts, seconds), cfg.min_ratio, cpus)


def out_of_reach(
    rates: Sequence[int],
    cfg: RunnerConfig,
    make_lab: Callable[[str], Lab],
    root: Path,
    say: Callable[[str], None],
) -> list[Reach]:
    """Offer every rate, highest first, saying each result; the rates out of reach (once one
    is reached, the lower ones are taken as reachable: the generator's limit is a ceiling)."""
    refused: list[Reach] = []
    for rate in sorted(set(rates), reverse=True):
        got = offer(rate, cfg, make_lab, root)
        say(got.describe())
        if got.ok:
            break
        refused.append(got)
    return refused
