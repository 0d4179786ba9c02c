"""A local Graphite of the benchmark's own, on free ports, started and stopped by ``tare``."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Ports:
    carbon: int
    pickle: int
    cache_query: int
    web: int

    @property
    def render_url(self) -> str:
        return f"http://127.0.0.1:{self.web}"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def tare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tare", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@contextmanager
def local_stack(state: Path, caches: int = 1) -> Iterator[Ports]:
    """A stack of ``caches`` carbon-caches (more than one: behind carbon-c-relay)."""
    ports = Ports(*free_ports(4))
    args = [
        "--state-dir",
        str(state),
        "--carbon-port",
        str(ports.carbon),
        "--pickle-port",
        str(ports.pickle),
        "--cache-query-port",
        str(ports.cache_query),
        "--web-port",
        str(ports.web),
        "--collectd",
        "off",
        "--caches",
        str(caches),
    ]
    res = tare("stack", "up", *args)
    if res.returncode != 0:
        raise SystemExit(f"tare stack up failed: {res.stderr.strip()}")
    try:
        yield ports
    finally:
        tare("stack", "down", *args)
