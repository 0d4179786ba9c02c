"""A carbon line receiver on loopback for one run's collectd.

collectd's write_graphite keeps nothing when carbon is down (the values it cannot send are
dropped, and its write queue does not hold them: collectd issue #1543), so a run's collectd
writes to this relay instead, in tare's process, which passes every line on through a
``CarbonSender``: a carbon outage is spooled on disk and sent later, as for the sampler. The
relay also notes the seconds one series (the run's ``cpu_all.busy_pct``) arrived for, which is
how many steady seconds collectd really delivered, a hung daemon's included.
"""

from __future__ import annotations

import logging
import math
import re
import selectors
import socket
import threading
import time

from collectors.sender import CarbonSender, Point

log = logging.getLogger(__name__)

FLUSH_S = 1.0
MAX_LINE = 4096
# a chunk of lines as write_graphite writes them (paths of labels, a finite number, a time):
# checked with one match, so the relay costs little more than the bytes it moves
_CLEAN = re.compile(
    rb"(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,1000} -?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)? "
    rb"[0-9]{1,12}(?:\.[0-9]+)?\r?\n)*"
)


def parse_line(line: bytes) -> Point | None:
    """``path value timestamp`` (carbon's plaintext protocol); None for anything else."""
    parts = line.split()
    if len(parts) != 3 or len(line) > MAX_LINE:
        return None
    try:
        path = parts[0].decode("ascii")
        value, ts = float(parts[1]), float(parts[2])
    except (UnicodeDecodeError, ValueError):
        return None
    if not (math.isfinite(value) and math.isfinite(ts)):
        return None
    return path, value, int(ts)


class Relay:
    def __init__(self, sender: CarbonSender, watch: str) -> None:
        self.sender = sender
        self.watch = watch  # the path whose seconds are counted
        self._watched = re.compile(rb"^" + re.escape(watch.encode()) + rb" \S+ ([0-9]+)", re.M)
        self.seconds: set[int] = set()
        self.last_arrival = 0.0  # monotonic time the watched series last arrived
        self.bad_lines = 0
        self.cpu_samples: list[tuple[float, float]] = []  # (time, this thread's CPU seconds)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.setblocking(False)
        self.port: int = self.server.getsockname()[1]
        self._stop = threading.Event()
        self._stop_deadline = math.inf
        self._thread = threading.Thread(target=self._loop, name="tare-relay", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.server, selectors.EVENT_READ, None)
        partial: dict[socket.socket, bytes] = {}
        next_flush = time.monotonic() + FLUSH_S
        while True:
            stopping = self._stop.is_set()
            events = sel.select(timeout=FLUSH_S)
            for key, _ in events:
                if key.data is None:
                    conn, _ = self.server.accept()
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, True)
                    partial[conn] = b""
                    continue
                conn = key.fileobj  # type: ignore[assignment]
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    rest = partial.pop(conn, b"")
                    if rest.strip():
                        self._take(rest + b"\n")
                    sel.unregister(conn)
                    conn.close()
                    continue
                data = partial[conn] + chunk
                data, _, rest = data.rpartition(b"\n")
                partial[conn] = rest
                if data:
                    self._take(data + b"\n")
            if time.monotonic() >= next_flush or stopping:
                self.sender.flush()
                self.cpu_samples.append((time.time(), time.thread_time()))
                next_flush = time.monotonic() + FLUSH_S
            drained = not events and len(sel.get_map()) <= 1  # none connecting, all hung up
            if stopping and (drained or self._stop_deadline < time.monotonic()):
                break
        sel.close()

    def _take(self, data: bytes) -> None:
        """Whole lines (each ending in a newline) to the sender."""
        if _CLEAN.fullmatch(data):
            self.sender.add_lines(data.decode("ascii").replace("\r\n", "\n").splitlines(True))
            found = self._watched.findall(data)
            if found:
                self.seconds.update(int(t) for t in found)
                self.last_arrival = time.monotonic()
            return
        for line in data.splitlines():  # something odd in the chunk: line by line
            if not line.strip():
                continue
            point = parse_line(line)
            try:
                if point is None:
                    raise ValueError(line)
                self.sender.add([point])  # refuses a path carbon must not get
            except ValueError:
                self.bad_lines += 1
                continue
            if point[0] == self.watch:
                self.seconds.add(point[2])
                self.last_arrival = time.monotonic()

    def close(self, timeout_s: float = 5.0) -> None:
        """After collectd has exited: read what is left, flush, and close the sender."""
        if self._stop.is_set():
            return
        self._stop_deadline = time.monotonic() + timeout_s
        self._stop.set()
        self._thread.join(timeout=timeout_s + 5)
        self.server.close()
        self.sender.close()
        if self.bad_lines:
            log.warning("relay: %d line(s) not in carbon's plaintext, dropped", self.bad_lines)
