"""The agent's daemon: keep the kernel in sync with the policy and the mode, and report.

Every ``sync_interval_s`` (and at once on SIGHUP) it re-reads the policy and the wanted mode and
re-applies the whole rule set in one ``nft -f`` transaction, like an agent polling its policy
engine. A policy that no longer parses is logged and the rules in force stay. Every second it
writes a heartbeat; in visibility mode it reports the new flows seen per peer before each sync.

With ``updates_per_min`` above 0 it also receives policy updates at that rate, as from a policy
engine: each replaces ``churn`` of the filler entries (``policy.churn``), is written to the
policy file and applied at once, atomically like every sync; ``applied.json`` counts them and
keeps the last one's apply time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from refagent import nft
from refagent.policy import Policy, PolicyError, churn
from refagent.ruleset import Mode, Style, in_place, render, render_update
from refagent.state import StateDir, write_atomic

log = logging.getLogger("refagent")


class Daemon:
    def __init__(self, state: StateDir) -> None:
        self.state = state
        self.stop = False
        self.sync_now = True
        self.generation = 0
        self.updates = 0
        self.last_update_ms: float | None = None
        self.in_force: tuple[Mode, Style, Policy] | None = None  # what the kernel holds

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self.sync_now = True

    def update(self) -> None:
        """One policy update: churn the policy, write it, apply it at once."""
        state = self.state
        started = time.monotonic()
        try:
            new, changed = churn(state.read_policy(), state.churn_fraction(), self.updates + 1)
        except (PolicyError, OSError) as exc:
            log.error("policy update not made: %s", exc)
            return
        write_atomic(state.policy, new.to_json())
        self.updates += 1
        self.sync()
        self.last_update_ms = round((time.monotonic() - started) * 1000, 3)
        log.info(
            "policy update %d: %d entries changed, applied in %.1f ms",
            self.updates,
            changed,
            self.last_update_ms,
        )

    def sync(self) -> None:
        state = self.state
        mode = state.mode()
        if self.generation and state.read_json(state.applied).get("mode") == "visibility":
            counts = nft.peer_counts()
            write_atomic(
                state.report,
                json.dumps(
                    {
                        "at": time.time(),
                        "peers": len(counts),
                        "new_flows": sum(counts.values()),
                        "top": sorted(counts.items(), key=lambda kv: -kv[1])[:10],
                    }
                ),
            )
            log.info(
                "visibility: %d peers, %d new flows since the last sync",
                len(counts),
                sum(counts.values()),
            )
        try:
            policy = state.read_policy()
            style = state.style()
            if in_place(self.in_force, mode, style, policy) and nft.table_present():
                assert self.in_force is not None
                script = render_update(self.in_force[2], policy)
            else:  # the first time, a mode or style change, or the table gone
                script = render(mode, policy, style)
            if script:
                nft.apply(script)
            self.in_force = (mode, style, policy)
        except (PolicyError, OSError) as exc:
            log.error("policy not applied, the rules in force stay: %s", exc)
            return
        except nft.NftError as exc:
            log.error("nft refused the rule set, the rules in force stay: %s", exc)
            return
        self.generation += 1
        write_atomic(
            state.applied,
            json.dumps(
                {
                    "mode": mode,
                    "generation": self.generation,
                    "at": time.time(),
                    "entries": len(policy.allow),
                    "style": state.style(),
                    "pid": os.getpid(),
                    "updates": self.updates,
                    "last_update_ms": self.last_update_ms,
                }
            ),
        )
        log.debug(
            "applied generation %d (%s, %d entries)", self.generation, mode, len(policy.allow)
        )

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGHUP, self._on_hup)
        write_atomic(self.state.pid_file, f"{os.getpid()}\n")
        log.info("daemon started, pid %d", os.getpid())
        next_sync = 0.0
        per_min = self.state.updates_per_min()
        every = 60.0 / per_min if per_min > 0 else None
        next_update = time.monotonic() + every if every else float("inf")
        try:
            while not self.stop:
                now = time.monotonic()
                write_atomic(self.state.heartbeat, f"{time.time():.3f}\n")
                if every is not None and now >= next_update:
                    self.update()
                    next_update += every
                    next_sync = time.monotonic() + self.state.sync_interval()
                elif self.sync_now or now >= next_sync:
                    self.sync_now = False
                    self.sync()
                    next_sync = now + self.state.sync_interval()
                wake = min(next_sync, next_update)
                time.sleep(max(0.0, min(1.0, wake - time.monotonic())))
        finally:
            self.state.pid_file.unlink(missing_ok=True)
            log.info("daemon stopped")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="refagent-daemon")
    parser.add_argument("--state-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    state = StateDir(args.state_dir)
    with contextlib.suppress(OSError):  # the name collectors and `ps` see, not "python3"
        Path("/proc/self/comm").write_text("tare-refagent")
    logging.basicConfig(
        filename=state.log,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    return Daemon(state).run()


if __name__ == "__main__":
    sys.exit(main())
