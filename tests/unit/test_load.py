"""Load commands and results: h2load and httperf output as the tools print it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.load import Profile
from harness.load import (
    LoadResult,
    LoadSpec,
    LoadToolError,
    ServerCheck,
    command,
    deadline_s,
    describe_errors,
    h2load_result,
    httperf_result,
    judge,
    parse_h2load_log,
    per_second,
    per_second_load,
    percentile,
    steady_latencies_ms,
    steady_rate,
    stopped_result,
)

H2 = """starting benchmark...
finished in 5.00s, 1000.00 req/s, 120.00KB/s
requests: 5000 total, 5000 started, 5000 done, 4998 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 4998 2xx, 0 3xx, 0 4xx, 0 5xx
"""


def spec(rate: int = 1000, tool: str = "h2load") -> LoadSpec:
    return LoadSpec(tool, "169.254.213.1", 8080, "/", rate, 5)


def test_h2load_command_is_open_loop_one_request_per_connection() -> None:
    argv = command(spec(5000), "/tmp/log")
    assert argv[:7] == ["h2load", "--h1", "-c", "25000", "-n", "25000", "-r"]
    assert argv[7] == "50" and "--rate-period" in argv and "10ms" in argv
    assert argv[-1] == "http://169.254.213.1:8080/"
    with pytest.raises(LoadToolError, match="multiple of 100"):
        command(spec(1050), "/tmp/log")


def test_httperf_command() -> None:
    argv = command(spec(2000, "httperf"), "/tmp/x")
    assert argv[0] == "httperf" and "--rate" in argv and "10000" in argv


def test_h2load_log_and_steady_rate() -> None:
    t0 = 1_700_000_000
    rows = [
        f"{(t0 + i // 1000) * 1_000_000 + (i % 1000) * 1000}\t200\t{500 + i % 100}"
        for i in range(5000)
    ]
    log = parse_h2load_log("\n".join(rows) + "\n")
    assert len(log.starts_us) == 5000
    assert steady_rate(log.starts_us, t0 + 1, t0 + 4) == 1000.0
    assert per_second(log.starts_us)[t0 + 2] == 1000
    result = h2load_result(H2, log, spec(), (t0 + 1, t0 + 4))
    assert (result.succeeded, result.failed, result.errors) == (4998, 2, 2)
    assert result.p50_ms == pytest.approx(0.5495, abs=0.001)
    assert result.max_ms == pytest.approx(0.599)


def test_latency_percentiles_are_the_steady_windows_successful_requests() -> None:
    """A slow warm-up second, a slow cool-down second and failed requests are not the run's
    latency: only the successful requests started inside the steady window are."""
    t0 = 1_700_000_000
    rows = []
    for i in range(5000):
        sec = i // 1000
        start = (t0 + sec) * 1_000_000 + (i % 1000) * 1000
        slow = sec in (0, 4)  # the warm-up's and the cool-down's seconds
        status = 503 if i % 100 == 7 else 200  # failed requests: no latency of a response
        rows.append(f"{start}\t{status}\t{90_000 if slow else 1000 + i % 10}")
    log = parse_h2load_log("\n".join(rows) + "\n")
    assert steady_latencies_ms(log, (t0 + 1, t0 + 4))[-1] == pytest.approx(1.009)
    result = h2load_result(H2, log, spec(), (t0 + 1, t0 + 4))
    assert result.p50_ms == pytest.approx(1.0045, abs=0.001)
    assert result.p99_ms is not None and result.p99_ms < 1.01
    assert result.max_ms == pytest.approx(1.009)
    whole = h2load_result(H2, log, spec(), (t0, t0 + 5))
    assert whole.p99_ms == pytest.approx(90.0)  # the slow seconds, once the window holds them


def test_h2load_log_garbage_names_the_line() -> None:
    with pytest.raises(LoadToolError, match="line 2"):
        parse_h2load_log("1\t200\t3\nx\ty\tz\n")


def test_h2load_without_summary() -> None:
    with pytest.raises(LoadToolError, match="no request summary"):
        h2load_result("connect: Connection refused\n", parse_h2load_log(""), spec(), (0, 1))


def test_httperf_result() -> None:
    out = """Total: connections 10000 requests 10000 replies 10000 test-duration 5.001 s
Connection rate: 1999.6 conn/s (0.5 ms/conn, <=12 concurrent connections)
Connection time [ms]: min 0.2 avg 0.4 max 9.1 median 0.5 stddev 0.3
Errors: total 0 client-timo 0 socket-timo 0 connrefused 0 connreset 0
"""
    r = httperf_result(out, spec(2000, "httperf"))
    assert r.achieved_rate == pytest.approx(1999.6)
    assert r.errors == 0 and r.p50_ms == 0.5


def result(achieved: float, failed: int = 0, sockets: tuple[str, ...] = ()) -> LoadResult:
    return LoadResult(
        "h2load",
        1000,
        5000,
        5000,
        5000 - failed,
        failed,
        0,
        0,
        achieved,
        1.0,
        2.0,
        3.0,
        4.0,
        sockets,
    )


def test_judge_invalid_below_98_percent_with_errors_or_socket_trouble() -> None:
    accepted = ServerCheck(995, "accepted")
    assert judge(result(990), 0.98, accepted).valid
    v = judge(result(970), 0.98, accepted)
    assert not v.valid and "achieved 970 conn/s < 98% of target 1000 conn/s" in v.reasons[0]
    assert not judge(result(1000, failed=3), 0.98, None).valid
    assert (
        "socket trouble"
        in judge(result(1000, sockets=("cannot assign requested address",)), 0.98, None).reasons[0]
    )
    short = judge(result(1000), 0.98, ServerCheck(900, "accepted")).reasons[0]
    assert "server accepted 900 conn/s < 98% of target 1000 conn/s" in short


def test_a_baseline_that_fails_requests_beyond_its_share_is_the_labs_failure() -> None:
    three = result(1000, failed=3)  # 3 of 5,000 requests: 0.06 %
    assert three.error_pct == pytest.approx(0.06)
    assert not judge(three, 0.98, None).valid  # max_error_pct 0: any error invalidates
    assert judge(three, 0.98, None, max_error_pct=0.1).valid
    v = judge(result(1000, failed=10), 0.98, None, max_error_pct=0.1)
    assert not v.valid
    assert (
        v.reasons[0]
        == "10 request errors in the baseline (above the 0.1 % allowed): 10 HTTP errors"
    )


def test_requests_the_agent_fails_are_its_cost_in_a_valid_run() -> None:
    """With the agent present, refused connections that took 5 % of the target from the
    server are measured (error_pct), not thrown away; the load tool's own trouble is not."""
    refused = replace(result(1000, sockets=("connection refused",)), succeeded=4750, errored=250)
    assert refused.error_pct == pytest.approx(5.0)
    server = ServerCheck(950, "accepted")  # 5 % of the connections never reached the server
    assert not judge(refused, 0.98, server).valid  # a baseline's refusals: the lab's failure
    assert judge(refused, 0.98, server, agent_present=True).valid
    # the tool could not start its connections in time (stopped at its deadline, and no count
    # of the load host's says it opened them): its shortfall is not the failures' doing
    slow = replace(refused, achieved_rate=900.0, stopped_after_s=10.0)
    assert judge(slow, 0.98, server, agent_present=True).reasons[0] == (
        "achieved 900 conn/s < 98% of target 1000 conn/s"
    )
    # no request failed, yet the steady window saw 94 % of the rate: the generator lagged
    lagging = replace(result(943), socket_errors=())
    assert not judge(lagging, 0.98, ServerCheck(1000, "accepted"), agent_present=True).valid
    ports = replace(refused, socket_errors=("cannot assign requested address",))
    assert judge(ports, 0.98, server, agent_present=True).reasons == (
        "socket trouble: cannot assign requested address",
    )


def test_h2loads_nested_counts_are_kept_apart() -> None:
    """h2load counts a timeout as errored and an errored request as failed: each once here."""
    out = H2.replace(
        "4998 succeeded, 2 failed, 0 errored, 0 timeout",
        "4984 succeeded, 16 failed, 8 errored, 3 timeout",
    )
    r = h2load_result(out, parse_h2load_log(""), spec(), (0, 1))
    assert (r.failed, r.errored, r.timeouts, r.errors) == (8, 5, 3, 16)
    assert describe_errors(r) == "8 HTTP errors, 5 network errors, 3 timeouts"


def kept(profile: Profile, rate: int, clients: int, body: int = 0) -> LoadSpec:
    return LoadSpec("h2load", "169.254.213.1", 8080, "/tare-bulk", rate, 10, profile, clients, body)


def test_requests_profile_paces_each_kept_alive_client() -> None:
    argv = command(kept(Profile.REQUESTS, 5000, 50), "/tmp/log")
    assert argv[:6] == ["h2load", "--h1", "-c", "50", "-n", "50000"]
    assert "--rps=100" in argv and "-r" not in argv
    assert "-T" not in argv  # no active-connection timeout: the connections live all run


def test_throughput_profile_turns_mbit_into_body_requests() -> None:
    spec = kept(Profile.THROUGHPUT, 400, 4, 1 << 20)
    assert spec.requests_per_s == pytest.approx(400e6 / 8 / 2**20)  # 47.7 bodies/s
    argv = command(spec, "/tmp/log")
    assert argv[4:6] == ["-n", "477"] and "--rps=11.9209" in argv
    with pytest.raises(LoadToolError, match="body size"):
        kept(Profile.THROUGHPUT, 400, 4, 0)
    with pytest.raises(LoadToolError, match="needs h2load"):
        LoadSpec("httperf", "a", 1, "/", 10, 10, Profile.REQUESTS, 5)


H2_BULK = """finished in 10.00s, 47.70 req/s, 47.70MB/s
requests: 477 total, 477 started, 477 done, 477 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 477 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 500.20MB (524496492) total, 74.41KB (76320) headers (space savings 0.00%), \
477.00MB (500170752) data
"""


def test_throughput_achieved_from_bodies_received_and_body_size_checked() -> None:
    spec = kept(Profile.THROUGHPUT, 400, 4, 1 << 20)
    t0 = 1_700_000_000
    # 48 successful bodies a second for 10 s, plus one failed request that carries no body
    lines = [f"{(t0 + i / 48) * 1e6:.0f}\t200\t1000" for i in range(480)]
    lines.append(f"{(t0 + 5) * 1e6:.0f}\t-1\t0")
    log = parse_h2load_log("\n".join(lines))
    r = h2load_result(H2_BULK, log, spec, (t0 + 1, t0 + 9))
    assert r.achieved_rate == pytest.approx(48 * 2**20 * 8 / 1e6)  # 402.7 Mbit/s
    assert r.unit == "Mbit/s" and r.body_bytes == pytest.approx(2**20)
    assert judge(r, 0.98, ServerCheck(410.0, "sent")).valid
    per_sec = per_second_load(log, spec)
    assert per_sec[t0 + 3] == pytest.approx(48 * 2**20 * 8 / 1e6)
    denied = H2_BULK.replace("477 succeeded, 0 failed", "0 succeeded, 477 failed").replace(
        "477 2xx, 0 3xx, 0 4xx", "0 2xx, 0 3xx, 477 4xx"
    )
    why = judge(h2load_result(denied, log, spec, (t0, t0 + 9)), 0.98, None).reasons
    assert "477 request errors" in why[0] and "the workload answered 477 4xx" in why[0]
    small = h2load_result(
        H2_BULK.replace("(500170752) data", "(48843) data"), log, spec, (t0, t0 + 9)
    )
    assert (
        "served 102-byte bodies, not the 1048576 asked for" in judge(small, 0.98, None).reasons[0]
    )


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


def test_a_tool_stopped_at_its_deadline_is_judged_from_its_log() -> None:
    """h2load that could not offer the rate is stopped at the planned length and a grace; what
    it started by then, from its log, makes the run invalid, naming the target and the stop."""
    assert deadline_s(12) == 17 and deadline_s(300) == 330
    t0 = 1_700_000_000
    # 40,000/s asked for 5 s; 15,000/s started for 5 s, the last second's requests failed
    starts = [t0 * 1_000_000 + i * 1_000_000 // 15_000 for i in range(5 * 15_000)]
    lines = [f"{s}\t{200 if s < (t0 + 4) * 1_000_000 else -1}\t900" for s in starts]
    log = parse_h2load_log("\n".join(lines) + "\n")
    r = stopped_result(log, spec(40_000), (t0 + 1.0, t0 + 4.0), 10.04)
    assert (r.connections_planned, r.requests_done, r.stopped_after_s) == (200_000, 75_000, 10.0)
    assert r.succeeded == 60_000 and r.failed == 15_000
    assert r.achieved_rate == pytest.approx(15_000, rel=1e-3)
    v = judge(r, 0.98, None, max_error_pct=100)
    assert not v.valid
    assert v.reasons == (
        "achieved 15000 conn/s < 98% of target 40000 conn/s",
        "the load tool was stopped after 10 s: it had started 75000 of the 200000 planned by then",
    )


def test_connections_left_hanging_by_the_agent_are_its_cost_when_the_load_host_opened_them() -> (
    None
):
    """A full conntrack table drops SYNs: h2load's connections hang, it is stopped at its
    deadline having completed two thirds. The load host opened the target rate of connections
    (its own count): the rest is the agent's, measured as errors, and the run is valid."""
    t0 = 1_700_000_000
    starts = [t0 * 1_000_000 + i * 100 for i in range(268_000)]  # 10,000/s for 26.8 s
    log = parse_h2load_log("".join(f"{s}\t200\t900\n" for s in starts))
    forty = LoadSpec("h2load", "169.254.213.1", 8080, "/", 10_000, 40)
    r = stopped_result(log, forty, (t0 + 1.0, t0 + 39.0), 45.1)
    assert r.unfinished == 132_000 and r.errors == 132_000 and r.error_pct == pytest.approx(33.0)
    server = ServerCheck(5954, "accepted")
    assert judge(r, 0.98, server, 0.5, agent_present=True, offered=9_990).valid
    # the load host opened too few: the generator's failure, whoever is there
    short = judge(r, 0.98, server, 0.5, agent_present=True, offered=7_000)
    assert not short.valid and any("stopped after 45.1 s" in x for x in short.reasons)
    assert not judge(r, 0.98, server, 0.5, agent_present=False, offered=9_990).valid
