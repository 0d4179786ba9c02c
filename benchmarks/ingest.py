"""Ingest: points per second one carbon-cache accepts and makes readable, against carbon-c-relay in
front of two caches, measured side by side in one run (rounds alternate), and the relay's CPU per
100K points/s.

A round writes ``--series`` new run-tagged series (new names each round, as every run's are) for
``--seconds`` one-second timestamps, from ``--writers`` connections at once, timestamp by
timestamp. Three figures per round:

- accepted: points / time until every writer's last byte was taken by the receiver;
- readable: points / time until every point reads back through one ``/render`` of all the
  round's series (graphite-web finds a series by its file, then reads unflushed points from the
  cache the series hashes to): polled cheaply on a sample's newest point first, then in full;
- complete: whether that happened within 600 s.

CPU is each process's own (psutil), from the first byte to readable.

    .venv/bin/python benchmarks/ingest.py [--series 5000] [--seconds 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.benchstack import Ports, local_stack, tare  # noqa: E402
from pipeline.graphite import GraphiteClient  # noqa: E402

SAMPLE = 40


@dataclass(frozen=True)
class Round:
    layout: str
    points: int
    accepted_s: float
    readable_s: float
    complete: bool
    cpu_s: dict[str, float]

    @property
    def accepted_rate(self) -> float:
        return self.points / self.accepted_s

    @property
    def readable_rate(self) -> float:
        return self.points / self.readable_s


def pids(state: Path) -> dict[str, int]:
    res = tare("stack", "status", "--state-dir", str(state), "--json")
    procs = json.loads(res.stdout)["processes"]
    return {name: p["pid"] for name, p in procs.items() if p["pid"] and name != "collectd"}


def cpu_seconds(pid_map: dict[str, int]) -> dict[str, float]:
    """Each process's CPU seconds, its children's included (gunicorn's workers)."""
    out = {}
    for name, pid in pid_map.items():
        proc = psutil.Process(pid)
        out[name] = sum(
            t.user + t.system
            for t in [proc.cpu_times()] + [c.cpu_times() for c in proc.children(recursive=True)]
        )
    return out


def write(port: int, lines: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall("".join(lines).encode())
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)  # the receiver closes once it has read everything


def one_round(layout: str, ports: Ports, state: Path, args: argparse.Namespace) -> Round:
    uid = f"b{time.time_ns() % 10**12}"
    t0 = int(time.time()) - args.seconds - 30
    names = [f"tare.bench.{uid}.w{i % args.writers}.s{i:05d}" for i in range(args.series)]
    per_writer: list[list[str]] = [[] for _ in range(args.writers)]
    for k in range(args.seconds):
        for i, name in enumerate(names):
            per_writer[i % args.writers].append(f"{name} {k} {t0 + k}\n")
    points = args.series * args.seconds
    last = t0 + args.seconds - 1
    sample = random.Random(uid).sample(names, SAMPLE)
    client = GraphiteClient(ports.render_url, timeout_s=60.0)
    procs = pids(state)
    before = cpu_seconds(procs)
    start = time.perf_counter()
    threads = [threading.Thread(target=write, args=(ports.carbon, w)) for w in per_writer]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = time.perf_counter() - start
    counted = 0
    while time.perf_counter() - start < 600:
        got = client.render(sample, last - 2, last + 2)
        newest = sum(1 for s in got for t, v in s.values() if t == last and v is not None)
        if newest == SAMPLE:
            every = client.render([f"tare.bench.{uid}.*.*"], t0 - 1, last + 2)
            counted = sum(1 for s in every for _, v in s.values() if v is not None)
            if counted == points:
                break
        time.sleep(0.05)
    readable = time.perf_counter() - start
    after = cpu_seconds(procs)
    return Round(
        layout,
        points,
        accepted,
        readable,
        counted == points,
        {k: after[k] - before[k] for k in procs},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"ingest: {args.series} new series x {args.seconds} points from {args.writers} "
        f"connections, {args.rounds} rounds per layout, alternating; {psutil.cpu_count()} CPUs"
    )
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="tare-ingest-") as tmp:
        one, two = Path(tmp) / "one", Path(tmp) / "relay2"
        with local_stack(one, caches=1) as p1, local_stack(two, caches=2) as p2:
            for r in range(args.rounds):
                for layout, ports, state in (("1 cache", p1, one), ("relay+2", p2, two)):
                    rnd = one_round(layout, ports, state, args)
                    rounds.append(rnd)
                    cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(rnd.cpu_s.items()))
                    print(
                        f"  round {r + 1} {layout:8s} accepted {rnd.accepted_rate:9,.0f}/s  "
                        f"readable {rnd.readable_rate:9,.0f}/s  "
                        f"complete {'yes' if rnd.complete else 'NO'}  cpu s: {cpu}"
                    )
    report(rounds)
    return 0 if all(r.complete for r in rounds) else 1


def report(rounds: list[Round]) -> None:
    def med(layout: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in rounds if r.layout == layout)

    print("\nmedian over rounds        1 cache     relay+2   ratio")
    for attr, label in (("accepted_rate", "accepted pts/s"), ("readable_rate", "readable pts/s")):
        a, b = med("1 cache", attr), med("relay+2", attr)
        print(f"  {label:22s} {a:10,.0f}  {b:10,.0f}   {b / a:5.2f}x")
    relay = [r for r in rounds if r.layout == "relay+2"]
    per_100k = statistics.median(
        100 * r.cpu_s["carbon-relay"] / r.readable_s / (r.readable_rate / 100_000) for r in relay
    )
    caches = statistics.median(
        sum(v for k, v in r.cpu_s.items() if k.startswith("carbon-cache")) / r.readable_s
        for r in relay
    )
    single = statistics.median(
        r.cpu_s["carbon-cache"] / r.readable_s for r in rounds if r.layout == "1 cache"
    )
    print(f"  relay CPU per 100K pts/s: {per_100k:.1f} % of a core")
    print(
        f"  caches' CPU while ingesting: {100 * caches:.0f} % (relay+2), {100 * single:.0f} % (1)"
    )


if __name__ == "__main__":
    sys.exit(main())
