"""Shared fixtures: the real ``tare`` command as a subprocess, free ports, a live stack."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run_tare(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Result:
    """Run the real command line in a child process, as a user would."""
    proc = subprocess.run(
        [sys.executable, "-m", "tare", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out; held open together so they are distinct."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class Stack:
    state_dir: Path
    args: tuple[str, ...]
    render_url: str
    carbon_host: str
    carbon_port: int
    pickle_port: int
    info: dict[str, object]


def stack_args(state_dir: Path) -> tuple[str, ...]:
    carbon, pickle, query, web = free_ports(4)
    return (
        "--state-dir",
        str(state_dir),
        "--carbon-port",
        str(carbon),
        "--pickle-port",
        str(pickle),
        "--cache-query-port",
        str(query),
        "--web-port",
        str(web),
    )


@pytest.fixture(scope="session")
def graphite_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One real carbon + graphite-web (+ collectd where installed) for the whole session."""
    state = tmp_path_factory.mktemp("stack")
    args = stack_args(state)
    res = run_tare("stack", "up", *args, "--json")
    if res.code != 0:
        pytest.fail(f"tare stack up failed ({res.code}): {res.err}")
    info = json.loads(res.out)
    host, port = info["graphite"]["carbon"].rsplit(":", 1)
    try:
        yield Stack(
            state_dir=state,
            args=args,
            render_url=info["graphite"]["render_url"],
            carbon_host=host,
            carbon_port=int(port),
            pickle_port=int(info["graphite"]["carbon_pickle"].rsplit(":", 1)[1]),
            info=info,
        )
    finally:
        run_tare("stack", "down", *args)


# CI runs the property tests on a fixed set of examples, so that a run is repeatable; locally
# hypothesis explores afresh each time (and keeps what failed in .hypothesis/).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
