"""Speed of ``tare analyze`` on a full nightly campaign, against a real local Graphite.

Loads a synthetic campaign into its own stack (4 configurations: baseline and three agent
modes x 4 rates x 3 repeats = 48 runs, 30 series each, 300 s at one point per second: 432,000
points, with a planted CPU overhead per mode), records it in a ledger as ``tare run`` would,
then times the analysis end to end and prints where the time goes. Target: under 10 s.

    .venv/bin/python benchmarks/pipeline_speed.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.benchstack import Ports, local_stack  # noqa: E402
from collectors.sender import CarbonSender  # noqa: E402
from harness.ledger import Ledger  # noqa: E402
from pipeline.graphite import GraphiteClient  # noqa: E402
from pipeline.kpis import KPIS  # noqa: E402
from tare import analyze as ta  # noqa: E402
from tare.stack.settings import resolve  # noqa: E402

MODES = ("baseline", "idle", "visibility", "enforced")
RATES = (1000, 5000, 10000, 15000)
REPEATS = 3
SECONDS = 300
PLANTED_CPU = {"baseline": 0.0, "idle": 0.3, "visibility": 1.0, "enforced": 2.0}
EXTRA_SERIES = 30 - len(KPIS)


def load(state: Path, carbon_port: int, render_url: str) -> tuple[Ledger, float, int]:
    rng = np.random.default_rng(7)
    ledger = Ledger(state / "ledger.db")
    start0 = int(time.time()) - 2 * 86400
    runs = []
    points = 0
    sender = CarbonSender("127.0.0.1", carbon_port, state / "spool")
    t0 = time.perf_counter()
    seq = 0
    for rep in range(1, REPEATS + 1):
        for rate in RATES:
            for mode in MODES:
                seq += 1
                run_id = f"bench-{seq:03d}-{mode}-{rate}-r{rep}"
                begin = start0 + seq * (SECONDS + 10)
                base = f"tare.runs.{run_id}.benchhost"
                batch = []
                cpu = 10 + rate / 1000 + PLANTED_CPU[mode]
                for k in KPIS:
                    path = f"{base}.{k.path.format(core='1')}"
                    level = {
                        "cpu_cgroup": cpu,
                        "cpu_workload_core": cpu * 1.5,
                        "mem_available": 20000 * 2**20,
                        "mem_cgroup": 40 * 2**20,
                        "conn_rate": float(rate),
                    }.get(k.name, 100.0)
                    noise = rng.normal(0, max(level * 0.01, 0.5), SECONDS)
                    batch += [(path, float(level + n), begin + i) for i, n in enumerate(noise)]
                for x in range(EXTRA_SERIES):
                    vals = rng.normal(50, 1, SECONDS)
                    batch += [
                        (f"{base}.tare.extra.s{x}", float(v), begin + i) for i, v in enumerate(vals)
                    ]
                sender.add(batch)
                sender.flush()
                points += len(batch)
                levels = {"mode": mode, "rate": rate, "policy_size": 1000}
                baseline_of = (
                    [{"mode": m, "rate": rate, "policy_size": 1000} for m in MODES[1:]]
                    if mode == "baseline"
                    else []
                )
                runs.append(
                    {
                        "run_id": run_id,
                        "seq": seq,
                        "mode": mode,
                        "rate": rate,
                        "repeat": rep,
                        "levels": levels,
                        "manifest": {"baseline_of": baseline_of, "begin": begin},
                    }
                )
    sender.close()
    load_s = time.perf_counter() - t0
    ledger.create_campaign("bench", "bench", "2026-11-25", "linux", "bench.toml", "h", {}, runs)
    for r in runs:
        begin = r["manifest"]["begin"]
        manifest = {
            "baseline_of": r["manifest"]["baseline_of"],
            "graphite": {
                "render_url": render_url,
                "prefix": "tare",
                "carbon": f"127.0.0.1:{carbon_port}",
            },
            "host": {"host": "benchhost"},
            "lab": {"workload_cpus": "1"},
        }
        ledger.start_run(r["run_id"], manifest)
        ledger.finish_run(
            r["run_id"],
            "done",
            None,
            manifest,
            (begin + 20.0, begin + SECONDS - 10.0),
            float(r["rate"]),
        )
    ledger.finish_campaign("bench", "finished")
    return ledger, load_s, points


def wait_readable(render_url: str) -> None:
    client = GraphiteClient(render_url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = client.find("tare.runs.*")
        if len(found) >= len(MODES) * len(RATES) * REPEATS:
            return
        time.sleep(0.5)
    raise RuntimeError("the synthetic campaign did not become readable")


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="tare-pipebench-"))
    try:
        with local_stack(tmp / "stack") as ports:
            return measure(tmp, ports)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(tmp: Path, ports: Ports) -> int:
    carbon, web = ports.carbon, ports.web
    pickle_port, query = ports.pickle, ports.cache_query
    render_url = f"http://127.0.0.1:{web}"
    ledger, load_s, points = load(tmp, carbon, render_url)
    wait_readable(render_url)
    time.sleep(5)  # let carbon flush its cache to disk: measure reads from whisper
    settings = resolve(
        state_dir=tmp,
        web_port=web,
        carbon_port=carbon,
        pickle_port=pickle_port,
        cache_query_port=query,
    )
    timings: dict[str, float] = {}
    orig_fetch, orig_over = ta.fetch_run, ta.overheads

    def timed_fetch(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return orig_fetch(*a, **k)
        finally:
            timings["fetch (render API -> frames)"] = (
                timings.get("fetch (render API -> frames)", 0) + time.perf_counter() - t
            )

    def timed_over(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return orig_over(*a, **k)
        finally:
            timings["overhead statistics"] = time.perf_counter() - t

    ta.fetch_run, ta.overheads = timed_fetch, timed_over  # type: ignore[assignment]
    t0 = time.perf_counter()
    result = ta.analyze(ledger, "bench", settings, tmp / "out")
    t1 = time.perf_counter()
    written = ta.write_back(result, ("127.0.0.1", carbon), "tare", tmp / "spool-wb")
    t2 = time.perf_counter()
    ta.fetch_run, ta.overheads = orig_fetch, orig_over  # type: ignore[assignment]
    total = t2 - t0
    timings["summaries, CSV"] = (t1 - t0) - sum(timings.values())
    timings["write-back to carbon"] = t2 - t1
    enforced = [
        o for o in result.overheads if o.kpi == "cpu_cgroup" and dict(o.cell)["mode"] == "enforced"
    ]
    print(
        f"synthetic nightly campaign: {len(ledger.runs('bench'))} runs, {points:,} points "
        f"loaded in {load_s:.1f} s"
    )
    print(
        f"tare analyze end to end: {total:.2f} s (target < 10 s): "
        f"{len(result.overheads)} overheads, {written} nightly points"
    )
    for name, secs in timings.items():
        print(f"  {name:32} {secs:6.2f} s  {secs / total:5.0%}")
    recovered = ", ".join(
        f"{dict(o.cell)['rate']}/s {o.absolute.delta:+.2f} "
        f"[{o.absolute.ci_low:+.2f},{o.absolute.ci_high:+.2f}]"
        for o in enforced
        if o.absolute
    )
    print(f"planted +2.00 pp cpu_cgroup for enforced, recovered: {recovered}")
    ledger.close()
    return 0 if total < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
