"""The capacity sweep's arithmetic and h2load parsing."""

from __future__ import annotations

import pytest

from harness.capacity import Step, command, knee, parse_step, requests_for
from harness.load import LoadToolError

OUT = """finished in 1.03s, 29234.04 req/s, 1.2MB/s
requests: 30000 total, 30000 started, 30000 done, 30000 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 30000 2xx, 0 3xx, 0 4xx, 0 5xx
                     min         max         mean         sd        +/- sd
time for request:       99us      9.81ms       510us       201us    90.12%
"""


def test_parse_step() -> None:
    step = parse_step(OUT, 16)
    assert step == Step(16, 30000, 1.03, 29234.04, 0, pytest.approx(0.51))  # type: ignore[arg-type]
    ms = parse_step(OUT.replace("finished in 1.03s", "finished in 830.5ms"), 1)
    assert ms.seconds == pytest.approx(0.8305)
    with pytest.raises(LoadToolError, match="no summary"):
        parse_step("connect failed", 1)


def steps(*pairs: tuple[int, float]) -> list[Step]:
    return [Step(c, 1000, 1.0, r, 0, None) for c, r in pairs]


def test_knee_is_the_fewest_clients_within_95_percent_of_the_best() -> None:
    k = knee(steps((1, 10000), (2, 20000), (4, 28500), (8, 29800), (16, 30000), (32, 29000)))
    assert k is not None and k.clients == 4
    assert knee([]) is None
    failing = [Step(1, 10, 1.0, 50000, 3, None), *steps((2, 20000))]
    k2 = knee(failing)
    assert k2 is not None and k2.clients == 2  # a step with errors never counts


def test_requests_for_and_command() -> None:
    assert requests_for(None, 3, 1) == 2000
    assert requests_for(10000, 3, 8) == 60000
    assert requests_for(1, 3, 64) == 1280
    argv = command("169.254.213.1", 8080, "/", 16, 5000)
    assert argv[:6] == ["h2load", "--h1", "-c", "16", "-n", "5000"]
    assert "-r" not in argv  # closed loop
