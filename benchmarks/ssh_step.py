"""What a lab step costs over SSH: the first one (a handshake), then steps on the shared
connection, against a connection of its own each time, side by side in one run, against a real
sshd in a network namespace (the tests' own). Needs root and openssh-server.

    .venv/bin/python benchmarks/ssh_step.py [--steps 50]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.lab import Host  # noqa: E402
from tests import sshhost  # noqa: E402


def timed(host: Host, dedicated: bool) -> float:
    started = time.perf_counter()
    if dedicated:
        subprocess.run(host.command(["true"], dedicated=True), check=True, capture_output=True)
    else:
        host.run(["true"], 30)
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tare-sshbench-") as tmp,
        sshhost.ssh_host(Path(tmp) / "ssh", "bench", "10.213.99") as h,
    ):
        host = Host("workload", h.address, transport=h.ssh)
        first = timed(host, dedicated=False)
        shared, own = [], []
        for _ in range(args.steps):  # alternated, so both see the same machine
            shared.append(timed(host, dedicated=False))
            own.append(timed(host, dedicated=True))
    s, o = statistics.median(shared), statistics.median(own)
    print(f"ssh step ('true'), {args.steps} each, alternated:")
    print(f"  first step (handshake, master started): {first:7.1f} ms")
    print(f"  shared connection, median:              {s:7.1f} ms")
    print(f"  a connection of its own, median:        {o:7.1f} ms   ({o / s:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
