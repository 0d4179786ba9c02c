"""Cost of measuring: CPU (% of one core) and RSS of each collector at a 1 s interval.

Starts its own stack on free ports, then runs side by side for the same window:
  - ``tare collect`` (standalone, procfs backend) following two processes,
  - collectd with tare's rendered run config (its plugins + tare's python plugin),
  - collectd alone with the stack's host config (the reference, no python plugin),
and prints each one's CPU and RSS, and the ratio to the reference. Budget: each <= 0.5 % of one
core and <= 30 MB RSS.

    .venv/bin/python benchmarks/collector_overhead.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.benchstack import local_stack  # noqa: E402
from collectors.collectd_conf import GraphiteTarget, HostConfig, render_host_config  # noqa: E402

BUDGET_CPU_PCT = 0.5
BUDGET_RSS_MB = 30.0


def default_interface() -> str:
    names = [n for n in psutil.net_if_addrs() if n != "lo"]
    return names[0] if names else "lo"


def measure(
    procs: dict[str, psutil.Process], warmup: float, seconds: float
) -> dict[str, dict[str, float]]:
    time.sleep(warmup)
    before = {k: (time.monotonic(), sum(p.cpu_times()[:2])) for k, p in procs.items()}
    peak = dict.fromkeys(procs, 0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for k, p in procs.items():
            peak[k] = max(peak[k], p.memory_info().rss)
        time.sleep(1)
    out = {}
    for k, p in procs.items():
        t0, c0 = before[k]
        cpu = (sum(p.cpu_times()[:2]) - c0) / (time.monotonic() - t0) * 100
        out[k] = {"cpu_pct_of_core": cpu, "rss_mb": peak[k] / 2**20}
    return out


def start_collectors(
    tmp: Path, carbon: int, seconds: float, collectd_bin: str
) -> tuple[list[subprocess.Popen[bytes]], dict[str, psutil.Process]]:
    """The three collectors side by side; returns the children and the processes to measure."""
    # as in a run: one workload interface, the server and the agent followed
    common = [
        "--carbon",
        f"127.0.0.1:{carbon}",
        "--duration",
        str(seconds + 15),
        "--host",
        "bench",
        "--interface",
        default_interface(),
        "--process",
        "carbon=carbon-cache.py",
        "--process",
        "web=gunicorn",
    ]
    standalone = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tare",
            "collect",
            "--run-id",
            "bench-standalone",
            "--state-dir",
            str(tmp / "s"),
            *common,
        ],
        cwd=ROOT,
    )
    with_plugin = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tare",
            "collect",
            "--run-id",
            "bench-collectd",
            "--collector",
            "collectd",
            "--state-dir",
            str(tmp / "c"),
            *common,
        ],
        cwd=ROOT,
    )
    ref_dir = tmp / "ref"
    ref_dir.mkdir()
    conf = ref_dir / "collectd.conf"
    conf.write_text(
        render_host_config(
            HostConfig(
                hostname="bench",
                interval_s=1,
                base_dir=ref_dir,
                log_file=ref_dir / "log",
                target=GraphiteTarget("127.0.0.1", carbon, "tare.bench.reference."),
            )
        )
    )
    reference = subprocess.Popen([collectd_bin, "-f", "-C", str(conf)])
    children = [standalone, with_plugin, reference]
    deadline = time.monotonic() + 30
    collectd_child = None
    while collectd_child is None and time.monotonic() < deadline:
        kids = psutil.Process(with_plugin.pid).children()
        collectd_child = next((k for k in kids if k.name() == "collectd"), None)
        time.sleep(0.2)
    if collectd_child is None:
        raise RuntimeError("collectd with tare's plugin did not start")
    return children, {
        "tare collect (standalone)": psutil.Process(standalone.pid),
        "collectd + tare plugin": collectd_child,
        "collectd alone (reference)": psutil.Process(reference.pid),
    }


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    opts = parser.parse_args()
    collectd_bin = shutil.which("collectd") or "/usr/sbin/collectd"
    if not os.path.exists(collectd_bin):
        print("collectd is not installed: scripts/bootstrap.sh installs it", file=sys.stderr)
        return 4
    tmp = Path(tempfile.mkdtemp(prefix="tare-bench-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        with local_stack(tmp / "stack") as ports:
            try:
                children, procs = start_collectors(tmp, ports.carbon, opts.seconds, collectd_bin)
                results = measure(procs, warmup=5, seconds=opts.seconds)
            finally:
                stop(children)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(results, opts.seconds)


def report(results: dict[str, dict[str, float]], seconds: float) -> int:
    ref = results["collectd alone (reference)"]
    print(
        f"collector overhead over {seconds:.0f} s at a 1 s interval "
        f"(budget <= {BUDGET_CPU_PCT}% of one core, <= {BUDGET_RSS_MB:.0f} MB RSS)"
    )
    print(f"{'collector':30} {'CPU % core':>10} {'x ref':>6} {'RSS MB':>7} {'x ref':>6}  budget")
    ok = True
    for name, r in results.items():
        within = r["cpu_pct_of_core"] <= BUDGET_CPU_PCT and r["rss_mb"] <= BUDGET_RSS_MB
        ok = ok and within
        cpu, rss = r["cpu_pct_of_core"], r["rss_mb"]
        cpu_x, rss_x = cpu / ref["cpu_pct_of_core"], rss / ref["rss_mb"]
        verdict = "ok" if within else "OVER"
        print(f"{name:30} {cpu:10.2f} {cpu_x:6.2f} {rss:7.1f} {rss_x:6.2f}  {verdict}")
    print(json.dumps(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
