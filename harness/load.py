"""Fixed-rate load of three profiles (``contracts.load``): commands to run and their results
(pure).

- ``connections``: h2load holds a fixed rate of new connections, one request each:
  ``h2load --h1 -c N -n N -r R/100 --rate-period 10ms`` opens R/100 connections every 10 ms
  until N = rate x duration connections were made. httperf is the alternative driver
  (``--rate R --num-conns N``), which holds the rate too but burns a full core.
- ``requests``: a fixed request rate on C kept-alive connections:
  ``h2load --h1 -c C -n R*T --rps R/C`` (each client paces its own requests).
- ``throughput``: bulk bodies of B bytes at a target Mbit/s, on C kept-alive connections:
  ``--rps`` = Mbit/s x 10^6 / 8 / B / C.

h2load's ``--log-file`` gives every request's start time, status and latency, from which the
achieved rate over the steady window (in the profile's unit) and the latency percentiles are
computed here (h2load itself prints no percentiles).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from contracts.errors import ErrorKind
from contracts.load import Profile
from harness.errors import HarnessError

RATE_PERIOD_MS = 10
BODY_TOLERANCE = 0.02  # the bodies served may differ this much from the size asked for


class LoadToolError(HarnessError):
    """The load tool is missing or printed something this module cannot read."""

    kind = ErrorKind.SERVICE_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class LoadSpec:
    tool: str  # "h2load" | "httperf"
    address: str
    port: int
    path: str
    rate: int  # in the profile's unit: new connections/s, requests/s or Mbit/s
    duration_s: int
    profile: Profile = Profile.CONNECTIONS
    clients: int = 1  # kept-alive connections (requests, throughput)
    body_bytes: int = 0  # throughput: the size of each response body

    def __post_init__(self) -> None:
        if self.profile is not Profile.CONNECTIONS:
            if self.tool != "h2load":
                raise LoadToolError(f"the {self.profile} profile needs h2load, not {self.tool}")
            if self.clients < 1:
                raise LoadToolError(f"the {self.profile} profile needs at least one connection")
        if self.profile is Profile.THROUGHPUT and self.body_bytes < 1:
            raise LoadToolError("the throughput profile needs a body size")

    @property
    def connections(self) -> int:
        return self.rate * self.duration_s

    @property
    def requests_per_s(self) -> float:
        """The request rate the profile offers (for connections: one per connection)."""
        if self.profile is Profile.THROUGHPUT:
            return self.rate * 1e6 / 8 / self.body_bytes
        return float(self.rate)

    @property
    def requests(self) -> int:
        return max(self.clients, round(self.requests_per_s * self.duration_s))

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}{self.path}"


def _kept_alive(spec: LoadSpec, log_file: str) -> list[str]:
    """Requests at a fixed rate on ``clients`` kept-alive connections, each client pacing its
    share (no active-connection timeout: the connections live for the whole run)."""
    per_client = spec.requests_per_s / spec.clients
    return [
        "h2load",
        "--h1",
        "-c",
        str(spec.clients),
        "-n",
        str(spec.requests),
        f"--rps={per_client:.6g}",
        "-N",
        "10s",
        "--log-file",
        log_file,
        spec.url,
    ]


# A new connection with nothing heard for this long is failed (a timeout): one SYN lost and
# retried after 1 s still makes it; a SYN dropped again (a full conntrack table drops every new
# one) does not, and the generator's one address does not run out of source ports holding
# thousands of connections in SYN_SENT for the kernel's two minutes of retries.
IDLE_TIMEOUT_S = 3


def command(spec: LoadSpec, log_file: str) -> list[str]:
    if spec.profile is not Profile.CONNECTIONS:
        return _kept_alive(spec, log_file)
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
            f"{IDLE_TIMEOUT_S}s",
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
    target_rate: int  # in the profile's unit
    connections_planned: int  # requests planned (one per connection in that profile)
    requests_done: int
    succeeded: int
    failed: int  # answered with an HTTP error (h2load) or failed otherwise (httperf)
    errored: int  # lost to the network: refused, reset (not timed out)
    timeouts: int  # timed out
    achieved_rate: float  # over the steady window, in the profile's unit
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    socket_errors: tuple[str, ...]  # "cannot assign requested address" and the like
    profile: Profile = Profile.CONNECTIONS
    body_bytes: float | None = None  # the mean response body the tool received
    expected_body_bytes: int | None = None  # throughput: the body size asked for
    http_errors: str | None = None  # "858 4xx": the failed requests' status classes
    # stopped this many seconds after it began, at the run's planned length and its grace,
    # because it had not offered the planned load by then (``stopped_result``)
    stopped_after_s: float | None = None
    # a stopped tool's planned requests it had not completed: never started, or started and
    # left hanging (a dropped SYN is retried for seconds); which of the two, the load host's
    # count of connections opened says (``counters.offered``)
    unfinished: int = 0

    @property
    def errors(self) -> int:
        """Requests that did not succeed, each once (the counts are disjoint)."""
        return self.failed + self.errored + self.timeouts + self.unfinished

    @property
    def unit(self) -> str:
        return self.profile.unit

    @property
    def error_pct(self) -> float:
        """Requests that failed, errored or timed out, in % of those planned."""
        return 100.0 * self.errors / self.connections_planned if self.connections_planned else 0.0


_H2_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)
_H2_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_H2_TRAFFIC = re.compile(r"traffic: .*\((\d+)\) total, .*\((\d+)\) headers .*\((\d+)\) data")
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


def steady_latencies_ms(log: RequestLog, window: tuple[float, float]) -> list[float]:
    """The latencies (ms, sorted) of the successful requests started within the steady window
    [t0, t1): what the latency KPIs judge, without the warm-up's first connections or the
    cool-down's last."""
    lo, hi = window[0] * 1e6, window[1] * 1e6
    ok = ok_starts(log)
    return sorted(us / 1000 for s, us in zip(ok, log.latencies_us, strict=True) if lo <= s < hi)


def per_second(starts_us: Sequence[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in starts_us:
        sec = s // 1_000_000
        out[sec] = out.get(sec, 0) + 1
    return out


def ok_starts(log: RequestLog) -> tuple[int, ...]:
    """The start times of the requests that succeeded (2xx/3xx)."""
    return tuple(t for t, st in zip(log.starts_us, log.statuses, strict=True) if 200 <= st < 400)


def _counted(log: RequestLog, spec: LoadSpec) -> tuple[tuple[int, ...], float]:
    """The starts a profile counts and what each is worth in its unit: every started connection
    or request (1), or each successful body (its Mbit)."""
    if spec.profile is Profile.THROUGHPUT:
        return ok_starts(log), spec.body_bytes * 8 / 1e6
    return log.starts_us, 1.0


def achieved(log: RequestLog, spec: LoadSpec, window: tuple[float, float]) -> float:
    """The steady window's achieved load in the profile's unit: connections or requests started
    per second, or Mbit/s of bodies received (successful requests x body size)."""
    starts, worth = _counted(log, spec)
    return steady_rate(starts, *window) * worth


def per_second_load(log: RequestLog, spec: LoadSpec) -> dict[int, float]:
    """The load of each second in the profile's unit (connections or requests started, or
    Mbit/s of the bodies of the requests started that second)."""
    starts, worth = _counted(log, spec)
    return {sec: n * worth for sec, n in per_second(starts).items()}


def h2load_result(
    stdout: str, log: RequestLog, spec: LoadSpec, window: tuple[float, float]
) -> LoadResult:
    m = _H2_REQUESTS.search(stdout)
    if m is None:
        raise LoadToolError(f"h2load printed no request summary: {stdout.strip()[-200:]!r}")
    # h2load's three counts nest (timeouts are errored requests, errored ones failed ones):
    # kept apart here, so that errors = failed + errored + timeouts counts each request once
    total, _started, done, ok, failed_all, errored_all, timeouts = map(int, m.groups())
    failed, errored = failed_all - errored_all, errored_all - timeouts
    traffic = _H2_TRAFFIC.search(stdout)
    body = int(traffic.group(3)) / ok if traffic is not None and ok else None
    codes = _H2_STATUS.search(stdout)
    http = None
    if codes is not None:
        bad = [f"{n} {c}" for n, c in zip(codes.groups()[2:], ("4xx", "5xx"), strict=True)]
        http = ", ".join(b for b in bad if not b.startswith("0 ")) or None
    lat = steady_latencies_ms(log, window)
    return LoadResult(
        tool="h2load",
        target_rate=spec.rate,
        connections_planned=total,
        requests_done=done,
        succeeded=ok,
        failed=failed,
        errored=errored,
        timeouts=timeouts,
        achieved_rate=achieved(log, spec, window),
        p50_ms=percentile(lat, 0.5),
        p90_ms=percentile(lat, 0.9),
        p99_ms=percentile(lat, 0.99),
        max_ms=lat[-1] if lat else None,
        socket_errors=tuple(sorted({s.lower() for s in _SOCKET_TROUBLE.findall(stdout)})),
        profile=spec.profile,
        body_bytes=body,
        expected_body_bytes=spec.body_bytes if spec.profile is Profile.THROUGHPUT else None,
        http_errors=http,
    )


def deadline_s(duration_s: int) -> float:
    """How long the load tool may run before it is stopped: the run's planned length and a grace
    for its start and its last connections (a tool that holds the rate ends within a second of
    the planned length). Past it the target is out of reach, and waiting for the tool to grind
    through the connections it could not make in time measures nothing."""
    return duration_s + max(5.0, 0.1 * duration_s)


def stopped_result(
    log: RequestLog, spec: LoadSpec, window: tuple[float, float], stopped_after_s: float
) -> LoadResult:
    """What a load tool stopped at its deadline did, from its per-request log alone (it printed
    no summary): the requests it started, those that succeeded, and the achieved rate over the
    steady window. ``judge`` makes such a run invalid."""
    ok = len(ok_starts(log))
    lat = steady_latencies_ms(log, window)
    return LoadResult(
        tool=spec.tool,
        target_rate=spec.rate,
        connections_planned=spec.requests,
        requests_done=len(log.starts_us),
        succeeded=ok,
        failed=len(log.starts_us) - ok,
        errored=0,
        timeouts=0,
        achieved_rate=achieved(log, spec, window),
        p50_ms=percentile(lat, 0.5),
        p90_ms=percentile(lat, 0.9),
        p99_ms=percentile(lat, 0.99),
        max_ms=lat[-1] if lat else None,
        socket_errors=(),
        profile=spec.profile,
        expected_body_bytes=spec.body_bytes if spec.profile is Profile.THROUGHPUT else None,
        stopped_after_s=round(stopped_after_s, 1),
        unfinished=max(0, spec.requests - len(log.starts_us)),
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


SERVER_REFUSALS = frozenset({"connection refused"})


def _client_trouble(result: LoadResult, agent_present: bool) -> tuple[str, ...]:
    """What invalidates a run whoever is there: the load tool's own socket trouble (a refused
    connection is the server side's doing: the agent's when it is there), bodies of the wrong
    size."""
    out = []
    trouble = [s for s in result.socket_errors if not (agent_present and s in SERVER_REFUSALS)]
    if trouble:
        out.append("socket trouble: " + ", ".join(trouble))
    want, got = result.expected_body_bytes, result.body_bytes
    if want and got is not None and abs(got - want) > BODY_TOLERANCE * want:
        out.append(f"the workload served {got:.0f}-byte bodies, not the {want} asked for")
    return tuple(out)


def describe_errors(result: LoadResult) -> str:
    """``8 HTTP errors, 3 network errors, 1 timeout``: the kinds of a run's failed requests."""
    kinds = (
        (result.failed, "HTTP error" if result.tool == "h2load" else "failure"),
        (result.errored, "network error"),
        (result.timeouts, "timeout"),
    )
    return ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in kinds if n) or "none"


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServerCheck:
    """What the workload's namespace counted of the load, in the profile's unit: accepted
    connections/s (Tcp PassiveOpens), TCP segments received/s (each request needs at least one:
    a lower bound of the requests that arrived), or Mbit/s sent by its interface."""

    rate: float
    what: str  # "accepted", "segments received", "sent by tare0"


def judge(
    result: LoadResult,
    min_ratio: float,
    server: ServerCheck | None,
    max_error_pct: float = 0.0,
    agent_present: bool = False,
    offered: float | None = None,
) -> Verdict:
    """A run that did not reach its target load is invalid, not a data point.

    With the agent present, requests the server side failed (refused, reset, timed out, left
    hanging, HTTP errors) are the agent's cost, measured (``error_pct``), not the lab's failure:
    the run stays valid when the failures account for what the steady window's achieved rate
    and the server's count fell short of, or, when the tool was stopped at its deadline with
    connections hanging, when the load host opened the target rate of connections (``offered``,
    its own count). A shortfall the failures do not explain is the generator's: invalid.
    Without the agent (a baseline), errors above ``max_error_pct`` are the lab's own failure.
    """
    reasons: list[str] = []
    target, unit = result.target_rate, result.unit
    stopped_but_offered = (
        result.stopped_after_s is not None and offered is not None and offered >= min_ratio * target
    )
    if agent_present and stopped_but_offered:
        # the load host opened the target rate of connections and the agent left them hanging
        # past the tool's deadline: what the server side made of them is measured, not judged
        trouble = _client_trouble(result, agent_present)
        return Verdict(not trouble, trouble)
    # the rate the failed requests took from the target: the agent's, when it is there
    lost = target * result.error_pct / 100 if agent_present else 0.0
    if result.achieved_rate + lost < min_ratio * target:
        reasons.append(
            f"achieved {result.achieved_rate:.0f} {unit} < {min_ratio:.0%} of target "
            f"{target} {unit}"
        )
    if result.errors and result.error_pct > max_error_pct and not agent_present:
        allowed = f" (above the {max_error_pct:g} % allowed)" if max_error_pct else ""
        reasons.append(
            f"{result.errors} request errors in the baseline{allowed}: "
            f"{describe_errors(result)}"
            + (f"; the workload answered {result.http_errors}" if result.http_errors else "")
        )
    if result.stopped_after_s is not None:
        reasons.append(
            f"the load tool was stopped after {result.stopped_after_s:g} s: it had started "
            f"{result.requests_done} of the {result.connections_planned} planned by then"
        )
    reasons += _client_trouble(result, agent_present)
    # with the agent failing requests the server accepts fewer, by the agent's doing: the
    # achieved rate with the failures (above) says whether the generator offered the load
    if server is not None and server.rate < min_ratio * target and not lost:
        reasons.append(
            f"server {server.what} {server.rate:.0f} {unit} < {min_ratio:.0%} of target "
            f"{target} {unit}"
        )
    return Verdict(not reasons, tuple(reasons))
