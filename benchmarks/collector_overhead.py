"""Cost of measuring, inside real runs: both run collectors side by side in one campaign at
10K new connections/s, and collectd alone with the host config as the reference.

The campaign (baseline and enforced, two repeats, 30 s runs, its own local stack) collects every
run with collectd + tare's plugin (``[collect] collector = "collectd"``) and, under a second
prefix, with tare's in-process sampler (``compare_prefix``). Each run's manifest records both
collectors' CPU over its steady window (collectd: its process; the sampler: its thread) and
collectd's peak RSS; the reference collectd (cpu, memory, load, interface plugins, no Python) is
measured over the same campaign by this script. Target: collectd + plugin <= 0.3 % of a core at
1 Hz.

    .venv/bin/python benchmarks/collector_overhead.py [--rate 10000] [--duration 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.benchstack import Ports, local_stack  # noqa: E402
from collectors import collectd as collectd_bin  # noqa: E402
from collectors.collectd_conf import GraphiteTarget, HostConfig, render_host_config  # noqa: E402

TARGET_CPU_PCT = 0.3


def campaign_text(ports: Ports, rate: int, duration: int, out: Path) -> str:
    agent = ["tare-refagent", "{verb}", "--state-dir", "{lab_dir}/refagent"]

    def argv(verb: str, *more: str) -> str:
        return json.dumps([a.replace("{verb}", verb) for a in agent] + list(more))

    return f"""
[campaign]
name = "collectorcost"
output_dir = "{out}"
[graphite]
render_url = "{ports.render_url}"
carbon = "127.0.0.1:{ports.carbon}"
[workload]
command = ["nginx", "-p", "{{lab_dir}}/nginx", "-c", "{{lab_dir}}/nginx/nginx.conf",
           "-g", "daemon off;"]
[agent]
name = "refagent"
process = "tare-refagent"
modes = ["enforced"]
install = {
        argv(
            "install",
            "--policy-size",
            "{policy_size}",
            "--allow",
            "{load_addr}",
            "--port",
            "{port}",
        )
    }
uninstall = {argv("uninstall")}
set_mode = ["tare-refagent", "mode", "{{mode}}", "--state-dir", "{{lab_dir}}/refagent"]
start = {argv("start")}
stop = {argv("stop")}
health = {argv("status")}
[load]
rates = [{rate}]
duration_s = {duration}
warmup_s = 3
cooldown_s = 1
[design]
kind = "full"
repeats = 2
[factors]
policy_size = [1000]
[collect]
collector = "collectd"
compare_prefix = "tarecost"
"""


def reference_collectd(tmp: Path, carbon: int) -> subprocess.Popen[bytes]:
    ref = tmp / "ref"
    ref.mkdir()
    conf = ref / "collectd.conf"
    names = [n for n in psutil.net_if_addrs() if n != "lo"]
    conf.write_text(
        render_host_config(
            HostConfig(
                hostname="bench",
                interval_s=1,
                base_dir=ref,
                log_file=ref / "log",
                target=GraphiteTarget("127.0.0.1", carbon, "tare.bench.reference."),
                interfaces=tuple(names[:1]),
            )
        )
    )
    exe = collectd_bin.require_binary()
    return subprocess.Popen([str(exe), "-f", "-C", str(conf)])


def cpu_seconds(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=30)
    opts = parser.parse_args()
    if collectd_bin.binary() is None:
        print("collectd is not installed: scripts/bootstrap.sh installs it", file=sys.stderr)
        return 4
    tmp = Path(tempfile.mkdtemp(prefix="tare-bench-"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    try:
        with local_stack(tmp / "stack") as ports:
            conf = tmp / "collectorcost.toml"
            conf.write_text(campaign_text(ports, opts.rate, opts.duration, tmp / "out"))
            ref = reference_collectd(tmp, ports.carbon)
            try:
                time.sleep(3)
                proc_ref = psutil.Process(ref.pid)
                c0, t0 = cpu_seconds(proc_ref), time.monotonic()
                run = subprocess.run(
                    [sys.executable, "-m", "tare", "run", str(conf), "--state-dir", str(tmp / "s")],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                ref_pct = (cpu_seconds(proc_ref) - c0) / (time.monotonic() - t0) * 100
                ref_rss = proc_ref.memory_info().rss / 2**20
            finally:
                ref.terminate()
                ref.wait(timeout=20)
            state = ["--state-dir", str(tmp / "s")]
            listed = subprocess.run(
                [sys.executable, "-m", "tare", "runs", "list", "--json", *state],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if run.returncode != 0:
        print(f"the campaign exited {run.returncode}: {run.stderr.strip()[-500:]}", file=sys.stderr)
    return report(json.loads(listed.stdout)["runs"], ref_pct, ref_rss, opts.rate)


def report(runs: list[dict[str, object]], ref_pct: float, ref_rss: float, rate: int) -> int:
    valid = [r for r in runs if r["status"] == "done"]
    print(f"collector cost inside {len(valid)} valid run(s) of {len(runs)} at {rate}/s target")
    for r in runs:
        print(f"  {r['mode']:9} r{r['repeat']}  {r['status']:8} achieved {r['achieved_rate']}/s")
    by_name: dict[str, list[dict[str, object]]] = {}
    for r in valid:
        manifest = r["manifest"]
        assert isinstance(manifest, dict)
        for c in manifest["collection"]:
            by_name.setdefault(str(c["name"]), []).append(c)
    print(f"{'collector':28} {'CPU % core (mean, runs)':>24} {'x ref':>6} {'RSS MB':>7}")
    results: dict[str, dict[str, float | None]] = {}
    for name, reports in by_name.items():
        cpus = [float(str(c["cpu_pct"])) for c in reports if c["cpu_pct"] is not None]
        rss = [float(str(c["rss_mb"])) for c in reports if c["rss_mb"] is not None]
        mean = statistics.fmean(cpus) if cpus else float("nan")
        spread = f"{min(cpus):.2f}-{max(cpus):.2f}" if cpus else "-"
        peak = max(rss) if rss else None
        shown = f"{peak:7.1f}" if peak is not None else "  (tare)"
        label = "collectd + tare plugin" if name == "collectd" else "tare sampler (thread)"
        print(f"{label:28} {mean:8.3f} ({spread:>11}) {mean / ref_pct:6.2f} {shown}")
        results[name] = {"cpu_pct": mean, "rss_mb": peak}
    print(f"{'collectd alone (reference)':28} {ref_pct:8.3f} {'':13} {1:6.2f} {ref_rss:7.1f}")
    cost = results.get("collectd", {}).get("cpu_pct")
    ok = cost is not None and cost <= TARGET_CPU_PCT
    print(f"target collectd + plugin <= {TARGET_CPU_PCT} % of a core: {'met' if ok else 'MISSED'}")
    print(json.dumps({"collectors": results, "reference": {"cpu_pct": ref_pct, "rss_mb": ref_rss}}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
