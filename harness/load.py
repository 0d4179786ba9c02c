"""Open-loop fixed-rate new-connection load: commands to run and their results (pure).

h2load (default) holds a fixed rate of new connections, one request each:
``h2load --h1 -c N -n N -r R/100 --rate-period 10ms`` opens R/100 connections every 10 ms until
N = rate x duration connections were made. Its ``--log-file`` gives every request's start time,
status and latency, from which the achieved rate over the steady window and the latency
percentiles are computed here (h2load itself prints no percentiles). httperf is the alternative
driver (``--rate R --num-conns N``), which holds the rate too but burns a full core.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from contracts.errors import ErrorKind
from harness.errors import HarnessError

RATE_PERIOD_MS = 10


class LoadToolError(HarnessError):
    """The load tool is missing or printed something this module cannot read."""

    kind = ErrorKind.SERVICE_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class LoadSpec:
    tool: str  # "h2load" | "httperf"
    address: str
    port: int
    path: str
    rate: int  # new connections per second
    duration_s: int

    @property
    def connections(self) -> int:
        return self.rate * self.duration_s

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}{self.path}"


def command(spec: LoadSpec, log_file: str) -> list[str]:
    if spec.tool == "h2load":
        per_period = spec.rate * RATE_PERIOD_MS / 1000
        if per_period != int(per_period) or per_period < 1:
            raise LoadToolError(
                f"rate {spec.rate}/s is not a whole number of connections per "
                f"{RATE_PERIOD_MS} ms; use a multiple of {1000 // RATE_PERIOD_MS}"
            )
        n = str(spec.connections)
        return [
            "h2load",
            "--h1",
            "-c",
            n,
            "-n",
            n,
            "-r",
            str(int(per_period)),
            "--rate-period",
            f"{RATE_PERIOD_MS}ms",
            "-T",
            "10s",
            "-N",
            "10s",
            "--log-file",
            log_file,
            spec.url,
        ]
    if spec.tool == "httperf":
        return [
            "httperf",
            "--hog",
            "--server",
            spec.address,
            "--port",
            str(spec.port),
            "--uri",
            spec.path,
            "--rate",
            str(spec.rate),
            "--num-conns",
            str(spec.connections),
            "--num-calls",
            "1",
            "--timeout",
            "10",
        ]
    raise LoadToolError(f"unknown load tool {spec.tool!r}")


@dataclass(frozen=True, slots=True)
class LoadResult:
    tool: str
    target_rate: int
    connections_planned: int
    requests_done: int
    succeeded: int
    failed: int
    errored: int
    timeouts: int
    achieved_rate: float  # connections started per second over the steady window
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    socket_errors: tuple[str, ...]  # "cannot assign requested address" and the like

    @property
    def errors(self) -> int:
        return self.failed + self.errored + self.timeouts


_H2_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)
_SOCKET_TROUBLE = re.compile(
    r"(cannot assign requested address|too many open files|address already in use|"
    r"no buffer space|connection refused)",
    re.I,
)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


@dataclass(frozen=True, slots=True)
class RequestLog:
    starts_us: tuple[int, ...]
    latencies_us: tuple[int, ...]  # of successful requests
    statuses: tuple[int, ...]


def parse_h2load_log(text: str) -> RequestLog:
    starts: list[int] = []
    lat: list[int] = []
    statuses: list[int] = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        try:
            start, status, took = int(parts[0]), int(parts[1]), int(parts[2])
        except ValueError:
            raise LoadToolError(f"h2load log line {n}: not start/status/latency") from None
        starts.append(start)
        statuses.append(status)
        if 200 <= status < 400:
            lat.append(took)
    return RequestLog(tuple(starts), tuple(lat), tuple(statuses))


def steady_rate(starts_us: Sequence[int], t0_s: float, t1_s: float) -> float:
    """Connections started per second within [t0, t1) (epoch seconds)."""
    if t1_s <= t0_s:
        return 0.0
    lo, hi = t0_s * 1e6, t1_s * 1e6
    return sum(1 for s in starts_us if lo <= s < hi) / (t1_s - t0_s)


def per_second(starts_us: Sequence[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in starts_us:
        sec = s // 1_000_000
        out[sec] = out.get(sec, 0) + 1
    return out


def h2load_result(
    stdout: str, log: RequestLog, spec: LoadSpec, window: tuple[float, float]
) -> LoadResult:
    m = _H2_REQUESTS.search(stdout)
    if m is None:
        raise LoadToolError(f"h2load printed no request summary: {stdout.strip()[-200:]!r}")
    total, _started, done, ok, failed, errored, timeouts = map(int, m.groups())
    lat = sorted(x / 1000 for x in log.latencies_us)
    return LoadResult(
        tool="h2load",
        target_rate=spec.rate,
        connections_planned=total,
        requests_done=done,
        succeeded=ok,
        failed=failed,
        errored=errored,
        timeouts=timeouts,
        achieved_rate=steady_rate(log.starts_us, *window),
        p50_ms=percentile(lat, 0.5),
        p90_ms=percentile(lat, 0.9),
        p99_ms=percentile(lat, 0.99),
        max_ms=lat[-1] if lat else None,
        socket_errors=tuple(sorted({s.lower() for s in _SOCKET_TROUBLE.findall(stdout)})),
    )


_HP_CONN = re.compile(r"Total: connections (\d+) requests (\d+) replies (\d+)")
_HP_RATE = re.compile(r"Connection rate: ([\d.]+) conn/s")
_HP_ERR = re.compile(r"Errors: total (\d+) client-timo (\d+)")
_HP_MEDIAN = re.compile(
    r"Connection time \[ms\]: min [\d.]+ avg [\d.]+ max ([\d.]+) median "
    r"([\d.]+)"
)


def httperf_result(stdout: str, spec: LoadSpec) -> LoadResult:
    conn, rate, err = _HP_CONN.search(stdout), _HP_RATE.search(stdout), _HP_ERR.search(stdout)
    if not (conn and rate and err):
        raise LoadToolError(f"httperf printed no summary: {stdout.strip()[-200:]!r}")
    _total, _reqs, replies = map(int, conn.groups())
    errors, timeouts = map(int, err.groups())
    med = _HP_MEDIAN.search(stdout)
    return LoadResult(
        tool="httperf",
        target_rate=spec.rate,
        connections_planned=spec.connections,
        requests_done=replies,
        succeeded=replies,
        failed=errors - timeouts,
        errored=0,
        timeouts=timeouts,
        achieved_rate=float(rate.group(1)),
        p50_ms=float(med.group(2)) if med else None,
        p90_ms=None,
        p99_ms=None,
        max_ms=float(med.group(1)) if med else None,
        socket_errors=tuple(sorted({s.lower() for s in _SOCKET_TROUBLE.findall(stdout)})),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reasons: tuple[str, ...]


def judge(result: LoadResult, min_ratio: float, server_accept_rate: float | None) -> Verdict:
    """A run that did not reach its target load is invalid, not a data point."""
    reasons: list[str] = []
    target = result.target_rate
    if result.achieved_rate < min_ratio * target:
        reasons.append(
            f"achieved {result.achieved_rate:.0f}/s < {min_ratio:.0%} of target {target}/s"
        )
    if result.errors:
        reasons.append(
            f"{result.errors} request errors ({result.failed} failed, {result.errored} errored, "
            f"{result.timeouts} timeouts)"
        )
    if result.socket_errors:
        reasons.append("socket trouble: " + ", ".join(result.socket_errors))
    if server_accept_rate is not None and server_accept_rate < min_ratio * target:
        reasons.append(
            f"server accepted {server_accept_rate:.0f}/s < {min_ratio:.0%} of target {target}/s"
        )
    return Verdict(not reasons, tuple(reasons))
