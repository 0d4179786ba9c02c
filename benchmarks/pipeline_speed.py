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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.benchstack import Ports, local_stack  # noqa: E402
from collectors.sender import CarbonSender  # noqa: E402
from contracts.addresses import CarbonAddress  # noqa: E402
from contracts.kpis import KPIS  # noqa: E402
from contracts.manifest import levels_of  # noqa: E402
from contracts.paths import RunSeries, Source  # noqa: E402
from contracts.states import CampaignState, RunState  # noqa: E402
from harness.ledger import Ledger  # noqa: E402
from pipeline import campaign as pc  # noqa: E402
from pipeline import nightly  # noqa: E402
from pipeline.graphite import GraphiteClient  # noqa: E402
from tests.records import FACTS, manifest, planned  # noqa: E402

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
    sender = CarbonSender(CarbonAddress("127.0.0.1", carbon_port), state / "spool")
    t0 = time.perf_counter()
    seq = 0
    for rep in range(1, REPEATS + 1):
        for rate in RATES:
            for mode in MODES:
                seq += 1
                run_id = f"bench-{seq:03d}-{mode}-{rate}-r{rep}"
                begin = start0 + seq * (SECONDS + 10)
                batch = []
                cpu = 10 + rate / 1000 + PLANTED_CPU[mode]
                for k in KPIS:
                    series = k.series("tare", run_id, "benchhost", "1", "tare0")
                    assert series is not None
                    path = series.format()
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
                    extra = RunSeries.of("tare", run_id, "benchhost", Source.TARE, "extra", f"s{x}")
                    batch += [(extra.format(), float(v), begin + i) for i, v in enumerate(vals)]
                sender.add(batch)
                sender.flush()
                points += len(batch)
                levels = levels_of({"mode": mode, "rate": rate, "policy_size": 1000})
                serves = tuple(
                    levels_of({"mode": m, "rate": rate, "policy_size": 1000}) for m in MODES[1:]
                )
                runs.append((run_id, seq, levels, rep, serves if mode == "baseline" else (), begin))
    sender.close()
    load_s = time.perf_counter() - t0
    rows = [planned(run_id, seq, levels, rep) for run_id, seq, levels, rep, _, _ in runs]
    ledger.create_campaign("bench", "bench", "2026-11-25", "linux", "bench.toml", "h", FACTS, rows)
    carbon = f"127.0.0.1:{carbon_port}"
    for run_id, _seq, levels, _rep, serves, begin in runs:
        m = manifest(
            run_id, levels, cid="bench", render_url=render_url, carbon=carbon, host="benchhost"
        )
        m = replace(m, baseline_of=serves)
        ledger.start_run(run_id, m)
        achieved = float(dict(levels)["rate"])
        steady = (begin + 20.0, begin + SECONDS - 10.0)
        ledger.finish_run(run_id, RunState.DONE, None, m, steady, achieved)
    ledger.finish_campaign("bench", CampaignState.FINISHED)
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
    render_url = f"http://127.0.0.1:{web}"
    ledger, load_s, points = load(tmp, carbon, render_url)
    wait_readable(render_url)
    time.sleep(5)  # let carbon flush its cache to disk: measure reads from whisper
    timings: dict[str, float] = {}
    orig_fetch, orig_over = getattr(pc, "fetch_run"), getattr(pc, "overheads")  # noqa: B009

    def timed_fetch(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return orig_fetch(*a, **k)
        finally:
            timings["fetch (render API -> frames)"] = (
                timings.get("fetch (render API -> frames)", 0) + time.perf_counter() - t
            )

    def timed_over(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return orig_over(*a, **k)
        finally:
            timings["overhead statistics"] = time.perf_counter() - t

    setattr(pc, "fetch_run", timed_fetch)  # noqa: B010 - timing the real functions in place
    setattr(pc, "overheads", timed_over)  # noqa: B010
    t0 = time.perf_counter()
    record = ledger.campaign("bench")
    assert record is not None
    result = pc.analyze(record, ledger.runs("bench"), GraphiteClient(render_url, timeout_s=30))
    pc.write_tables(result, tmp / "out")
    t1 = time.perf_counter()
    points_back = nightly.points("tare", record, result.overheads)
    sender = CarbonSender(CarbonAddress("127.0.0.1", carbon), tmp / "spool-wb")
    sender.add(points_back)
    sender.close()
    written = len(points_back)
    t2 = time.perf_counter()
    setattr(pc, "fetch_run", orig_fetch)  # noqa: B010
    setattr(pc, "overheads", orig_over)  # noqa: B010
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
