"""``tare-ballast``: an agent of known cost, for calibration. Standard library only (a small
interpreter is part of what it costs).

It goes through the same lifecycle as any agent (``install``, ``mode``, ``start``, ``status``,
``stop``, ``uninstall``) and, once started, holds:

* **CPU**: exactly ``--cpu-percent`` of one core, as process CPU time. Every 10 ms it spins until
  its own CPU time (``time.process_time``, all its work included) reaches P % of the wall time
  since it started, then sleeps: a controller, so preemption or a slow wake-up is made up for
  instead of lost. The harness starts it pinned to the workload core, inside the workload's
  cgroup, like any agent.
* **Memory**: ``--memory-mb`` charged to the cgroup for the whole process: anonymous resident
  memory plus page tables (``RssAnon + VmPTE``); it reads its own after start-up and allocates
  and touches the rest.

``status --json`` reports what it measured of itself (CPU share since start, RSS), so the
injected values can be checked as well as configured.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from contracts.processes import alive, stop

VERSION = "1.0.0"
PERIOD_S = 0.010
READY_TIMEOUT_S = 15.0


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _rss_bytes() -> int:
    return _status_kb("VmRSS")


def _anon_bytes() -> int:
    """What the workload's cgroup is charged for this process: its anonymous resident memory
    and its page tables (its shared libraries' pages are file cache, charged to whoever read
    them first). Measured here: a 96 MB ballast that counted RssAnon alone was recovered as
    96.32 MB, the 0.25 MB of page tables included."""
    return _status_kb("RssAnon") + _status_kb("VmPTE")


def _write(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_daemon(state: Path) -> int:
    """The ballast itself (runs in the foreground; ``start`` detaches it)."""
    cfg = _read(state / "config.json")
    share = float(str(cfg.get("cpu_percent", 0))) / 100.0
    target_rss = int(float(str(cfg.get("memory_mb", 0))) * 2**20)
    stop = False

    def on_term(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    # Each 4 KiB page of the ballast costs 8 bytes of page table too.
    ballast = bytearray(max(0, int((target_rss - _anon_bytes()) / (1 + 8 / 4096))))
    for i in range(0, len(ballast), 4096):  # touch every page: resident, not just reserved
        ballast[i] = 1
    wall0, cpu0 = time.monotonic(), time.process_time()
    _write(
        state / "status.json",
        {"ready": True, "pid": os.getpid(), "rss": _rss_bytes(), "anon": _anon_bytes()},
    )
    next_report = wall0 + 1.0
    while not stop:
        now = time.monotonic()
        owed = share * (now - wall0) - (time.process_time() - cpu0)
        if owed > 0:
            end = time.process_time() + min(owed, PERIOD_S)
            while time.process_time() < end:
                pass
        if now >= next_report:
            wall = now - wall0
            used = time.process_time() - cpu0
            _write(
                state / "status.json",
                {
                    "ready": True,
                    "pid": os.getpid(),
                    "rss": _rss_bytes(),
                    "anon": _anon_bytes(),
                    "cpu_share_pct": 100.0 * used / wall if wall > 0 else 0.0,
                    "held_bytes": len(ballast),
                },
            )
            next_report = now + 1.0
        time.sleep(max(0.0, PERIOD_S - (time.monotonic() - now)))
    return 0


def _pid(state: Path) -> int | None:
    try:
        pid = int((state / "ballast.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def cmd_install(state: Path, cpu_percent: float, memory_mb: float) -> int:
    if not 0 <= cpu_percent <= 100:
        print("tare-ballast: --cpu-percent must be within 0..100", file=sys.stderr)
        return 2
    if memory_mb < 0:
        print("tare-ballast: --memory-mb must be >= 0", file=sys.stderr)
        return 2
    state.mkdir(parents=True, exist_ok=True)
    _write(state / "config.json", {"cpu_percent": cpu_percent, "memory_mb": memory_mb})
    _write(state / "mode.json", {"mode": "ballast"})
    return 0


def cmd_start(state: Path) -> int:
    if not (state / "config.json").exists():
        print(f"tare-ballast: not installed in {state}", file=sys.stderr)
        return 1
    if _pid(state) is not None:
        return 0
    (state / "status.json").unlink(missing_ok=True)
    log = (state / "ballast.log").open("ab")
    script = Path(sys.executable).parent / "tare-ballast"  # its name is the process's name
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "harness.ballast"]
    proc = subprocess.Popen(
        [*argv, "run", "--state-dir", str(state)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    (state / "ballast.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"tare-ballast: exited {proc.returncode} while starting", file=sys.stderr)
            return 1
        if _read(state / "status.json").get("ready"):
            return 0
        time.sleep(0.05)
    print("tare-ballast: not ready in time", file=sys.stderr)
    return 1


def cmd_stop(state: Path) -> int:
    pid = _pid(state)
    if pid is not None:
        stop(pid, group=False, timeout_s=10)
    (state / "ballast.pid").unlink(missing_ok=True)
    return 0


def cmd_status(state: Path, as_json: bool) -> int:
    pid = _pid(state)
    status = _read(state / "status.json")
    info = {
        "running": pid is not None,
        "pid": pid,
        "config": _read(state / "config.json"),
        "rss_mb": round(int(str(status.get("rss", 0))) / 2**20, 2),
        "anon_mb": round(int(str(status.get("anon", 0))) / 2**20, 2),
        "cpu_share_pct": status.get("cpu_share_pct"),
    }
    print(json.dumps(info) if as_json else f"ballast: {'running' if pid else 'stopped'}")
    return 0 if pid is not None else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tare-ballast", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"tare-ballast {VERSION}")
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("install", "uninstall", "mode", "start", "stop", "status", "run"):
        p = sub.add_parser(verb)
        p.add_argument("--state-dir", type=Path, required=True)
        if verb == "install":
            p.add_argument("--cpu-percent", type=float, required=True)
            p.add_argument("--memory-mb", type=float, required=True)
        if verb == "mode":
            p.add_argument("mode", choices=["ballast"])
        if verb == "status":
            p.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    state: Path = args.state_dir
    if args.verb == "install":
        return cmd_install(state, args.cpu_percent, args.memory_mb)
    if args.verb == "mode":
        _write(state / "mode.json", {"mode": args.mode})
        return 0
    if args.verb == "start":
        return cmd_start(state)
    if args.verb == "stop":
        return cmd_stop(state)
    if args.verb == "status":
        return cmd_status(state, args.json)
    if args.verb == "uninstall":
        cmd_stop(state)
        for name in ("config.json", "mode.json", "status.json", "ballast.log"):
            (state / name).unlink(missing_ok=True)
        return 0
    return run_daemon(state)


if __name__ == "__main__":
    sys.exit(main())
