"""Progress of a campaign: a live line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from contracts.durations import fmt_duration


class Progress:
    def __init__(
        self, total: int, est_run_s: float, stream: TextIO = sys.stderr, live: bool | None = None
    ) -> None:
        self.total = total
        self.est_run_s = est_run_s
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._label = ""
        self._started = 0.0
        self._index = 0

    def _line(self) -> str:
        elapsed = time.monotonic() - self._started
        left = (self.total - self._index) * self.est_run_s + max(0.0, self.est_run_s - elapsed)
        return (
            f"[{self._index}/{self.total}] {self._label}  {fmt_duration(elapsed)} of "
            f"~{fmt_duration(self.est_run_s)}  campaign left ~{fmt_duration(left)}"
        )

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self.stream.write("\r\033[K" + self._line())
            self.stream.flush()

    def start(self, index: int, label: str) -> None:
        self._index, self._label, self._started = index, label, time.monotonic()
        if self.live:
            self._stop.clear()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        else:
            self._plain(f"run {index}/{self.total}: {label}")

    def finish(self, summary: str) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.stream.write("\r\033[K")
        line = f"[{self._index}/{self.total}] {self._label}: {summary}"
        if self.live:
            self.stream.write(line + "\n")
            self.stream.flush()
        else:
            self._plain(line)

    def note(self, text: str) -> None:
        """A line about the current run (it goes on)."""
        if self._thread is not None:
            self.stream.write("\r\033[K")
        line = f"[{self._index}/{self.total}] {self._label}: {text}"
        if self.live:
            self.stream.write(line + "\n")
            self.stream.flush()
        else:
            self._plain(line)

    def extend(self, runs: int) -> None:
        """More runs were planned (an adaptive night's next rounds)."""
        self.total += runs

    def say(self, text: str) -> None:
        """A line about the campaign, between runs."""
        if self.live:
            self.stream.write(text + "\n")
            self.stream.flush()
        else:
            self._plain(text)

    def _plain(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.stream.write(f"{stamp} {text}\n")
        self.stream.flush()
