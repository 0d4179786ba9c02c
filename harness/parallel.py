"""Several tare commands at once, as children: each one's progress under its name on our
stderr, its stdout (a JSON result) kept, an interrupt passed on to every child.

Used by ``tare nightly A.toml B.toml``: each campaign is its own night in its own process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[str]
    relay: threading.Thread


def _prefixed(name: str, stream: IO[str], out: IO[str]) -> None:
    """A child's progress and messages, each line under its name."""
    for line in stream:
        out.write(f"[{name}] {line}")
        out.flush()


def start(jobs: Sequence[tuple[str, list[str]]]) -> list[Child]:
    """Start every (name, argv) at once."""
    children = []
    for name, argv in jobs:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        relay = threading.Thread(target=_prefixed, args=(name, proc.stderr, sys.stderr))
        relay.daemon = True
        relay.start()
        children.append(Child(name, proc, relay))
    return children


def wait(children: Sequence[Child], grace_s: float = 300.0) -> list[dict[str, Any]]:
    """Each child's JSON result (or, without one, its exit code and what it printed), with
    ``exit`` set. An interrupt is passed on to every child as SIGTERM (a night tears its lab
    down and stays resumable), waited for, then raised again."""
    try:
        outs = [c.proc.stdout.read() if c.proc.stdout else "" for c in children]
        for c in children:
            c.proc.wait()
            c.relay.join(timeout=10)
    except BaseException:
        for c in children:
            if c.proc.poll() is None:
                c.proc.send_signal(signal.SIGTERM)
        for c in children:
            try:
                c.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()
        raise
    results = []
    for c, out in zip(children, outs, strict=True):
        try:
            result = json.loads(out)
        except ValueError:
            result = {"error": out[-300:]}
        if not isinstance(result, dict):
            result = {"error": str(result)[-300:]}
        result.setdefault("exit", c.proc.returncode)
        result["name"] = c.name
        results.append(result)
    return results


def exit_code(results: Sequence[dict[str, Any]]) -> int:
    """The highest of the children's exit codes (0 only when every one is 0)."""
    return max((int(r.get("exit") or 0) for r in results), default=0)
