"""Capacity: the closed-loop maximum rate of new connections, and where it saturates (the knee).

A fixed-rate run tells whether the server keeps up with a given load; the capacity tells how
much load it can take, which is more sensitive to an agent's overhead. The sweep runs h2load
closed loop (every client opens a new connection per request: the server closes each one) with
a growing number of clients; the rate climbs, then flattens. The knee is the fewest clients that
reach ``within`` (95 %) of the best rate seen; the capacity is that best rate.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.agent import AgentFailed
from harness.lab import Lab, LabError
from harness.load import LoadToolError
from harness.runner import NotReady, RunFacts, RunnerConfig, session

DEFAULT_CLIENTS = (1, 2, 4, 8, 16, 32, 64, 128)
_FINISHED = re.compile(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s")
_REQUESTS = re.compile(
    r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
    r"(\d+) failed, (\d+) errored, (\d+) timeout"
)
_MEAN = re.compile(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)")


@dataclass(frozen=True, slots=True)
class Step:
    clients: int
    requests: int
    seconds: float
    rate: float
    errors: int
    mean_latency_ms: float | None


@dataclass
class Capacity:
    mode: str
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    facts: RunFacts = field(default_factory=RunFacts)

    def knee(self, within: float = 0.95) -> Step | None:
        return knee(self.steps, within)

    @property
    def max_rate(self) -> float | None:
        return max((s.rate for s in self.steps), default=None)


def knee(steps: Sequence[Step], within: float = 0.95) -> Step | None:
    usable = [s for s in steps if s.errors == 0]
    if not usable:
        return None
    best = max(s.rate for s in usable)
    return min((s for s in usable if s.rate >= within * best), key=lambda s: s.clients)


def requests_for(previous_rate: float | None, step_s: float, clients: int) -> int:
    """Enough requests for about ``step_s`` seconds at the rate the last step reached (doubling
    the clients at most doubles the rate)."""
    guess = 2000.0 if previous_rate is None else previous_rate * 2 * step_s
    return max(int(guess), clients * 20, 500)


def command(address: str, port: int, path: str, clients: int, requests: int) -> list[str]:
    return [
        "h2load",
        "--h1",
        "-c",
        str(clients),
        "-n",
        str(requests),
        "-T",
        "10s",
        "-N",
        "10s",
        f"http://{address}:{port}{path}",
    ]


def parse_step(stdout: str, clients: int) -> Step:
    fin, req = _FINISHED.search(stdout), _REQUESTS.search(stdout)
    if fin is None or req is None:
        raise LoadToolError(f"h2load printed no summary: {stdout.strip()[-200:]!r}")
    seconds = float(fin.group(1)) / (1000 if fin.group(2) == "ms" else 1)
    total, _done, _ok, failed, errored, timeouts = map(int, req.groups())
    mean = _MEAN.search(stdout)
    mean_ms = None
    if mean:
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[mean.group(2)]
        mean_ms = float(mean.group(1)) * scale
    return Step(clients, total, seconds, float(fin.group(3)), failed + errored + timeouts, mean_ms)


def sweep(
    mode: str,
    levels: dict[str, Any],
    cfg: RunnerConfig,
    make_lab: Callable[[str], Lab],
    run_id: str,
    clients: Sequence[int] = DEFAULT_CLIENTS,
    step_s: float = 3.0,
) -> Capacity:
    result = Capacity(mode)
    try:
        with session(run_id, {**levels, "mode": mode}, cfg, make_lab, result.facts) as s:
            previous: float | None = None
            for c in clients:
                n = requests_for(previous, step_s, c)
                argv = command(s.lab.workload.address, cfg.port, cfg.path, c, n)
                try:
                    proc = s.lab.load.run(argv, max(60.0, step_s * 20), in_cgroup=False)
                except subprocess.TimeoutExpired:
                    result.error = f"h2load with {c} clients did not finish"
                    break
                step = parse_step(proc.stdout, c)
                result.steps.append(step)
                previous = step.rate
            if s.agent is not None:
                ok, words = s.agent.healthy()
                if not ok:
                    result.error = f"agent unhealthy after the sweep: {words}"
    except (NotReady, AgentFailed, LabError, LoadToolError, OSError) as exc:
        result.error = str(exc)  # one mode failing is reported; the sweep of the others goes on
    return result
