"""A carbon sender that loses nothing: one persistent connection, batches, and a durable spool.

Everything tare pushes goes through ``CarbonSender``. Points wait in memory until ``flush``;
a flush that cannot reach carbon appends them to an on-disk spool (plain carbon lines, one file
per batch, replayed oldest first once carbon answers again). Points already written to a socket
that carbon then closed may be lost in the kernel's buffers, so the last ``resend_window_s`` of
sent points are sent again after every reconnect: carbon keeps one value per series and second,
so a repeat overwrites a point with itself. The spool is bounded; when full, the oldest batches
are dropped with one log line saying how many points and which seconds.

``deliver`` is how a verb sends its results: it says what happened (sent, or how many points
wait in which spool), and once carbon answers it also sends what earlier verbs spooled.
"""

from __future__ import annotations

import collections
import logging
import os
import pickle
import select
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from collectors.carbon import plaintext_line
from collectors.errors import CollectorError
from collectors.filelock import try_lock
from contracts.addresses import CarbonAddress
from contracts.errors import ErrorKind

log = logging.getLogger(__name__)

Protocol = Literal["plaintext", "pickle"]
Point = tuple[str, float, int]


class SpoolLocked(CollectorError):
    """Another sender already owns this spool directory."""

    kind = ErrorKind.USAGE


class CarbonSender:
    def __init__(
        self,
        address: CarbonAddress,
        spool_dir: Path,
        *,
        protocol: Protocol = "plaintext",
        max_spool_bytes: int = 256 * 1024 * 1024,
        resend_window_s: float = 15.0,
        timeout_s: float = 3.0,
        max_backoff_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address
        self.host, self.port = address.host, address.port
        self.protocol = protocol
        self.max_spool_bytes = max_spool_bytes
        self.resend_window_s = resend_window_s
        self.timeout_s = timeout_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.spool_dir = spool_dir
        spool_dir.mkdir(parents=True, exist_ok=True)
        self._lock = (spool_dir / ".lock").open("w")
        if not try_lock(self._lock):
            self._lock.close()
            raise SpoolLocked(f"spool {spool_dir} is in use by another sender") from None
        self._pending: dict[tuple[str, int], str] = {}
        self._raw: list[str] = []
        self._recent: collections.deque[tuple[float, list[str]]] = collections.deque()
        self._sock: socket.socket | None = None
        self._retry_at = 0.0
        self._backoff = 0.5
        # numbering starts high so that re-sent windows can be put in front of the spool
        self._seq = max((self._segment_seq(p) for p in self._segments()), default=10**12)
        self.sent_points = 0
        self.dropped_points = 0

    # -- public API --------------------------------------------------------------------------
    def add(self, points: Iterable[Point]) -> None:
        """Queue points; one per series and second (a later one for the same second wins)."""
        for path, value, ts in points:
            line = plaintext_line(path, value, int(ts))
            self._pending[(path, int(ts))] = line

    def add_lines(self, lines: list[str]) -> None:
        """Queue carbon plaintext lines the caller has checked already (``collectors.relay``):
        no parsing, no one-per-second merge."""
        self._raw.extend(lines)

    def flush(self) -> bool:
        """Send the spool, then what is pending; True when nothing is left unsent."""
        lines = [*self._pending.values(), *self._raw]
        self._pending.clear()
        self._raw = []
        if not self._connected():
            self._spool(lines)
            return False
        try:
            self._drain_spool()
            if lines:
                self._send(lines)
                self._remember(lines)
        except OSError as exc:
            self._disconnect(f"send failed: {exc}")
            self._spool(lines)
            return False
        return True

    def spooled_bytes(self) -> int:
        return sum(p.stat().st_size for p in self._segments())

    def spooled_points(self) -> int:
        """Points waiting in the spool (one line each)."""
        total = 0
        for segment in self._segments():
            with segment.open("rb") as fh:
                total += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 16), b""))
        return total

    def close(self) -> bool:
        """Flush what can be sent; spool the rest; release the spool. True when all was sent."""
        try:
            return self.flush()
        finally:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            self._lock.close()

    # -- connection --------------------------------------------------------------------------
    def _connected(self) -> bool:
        if self._sock is not None and not self._peer_closed(self._sock):
            return True
        if self._sock is not None:
            self._disconnect("carbon closed the connection")
        if self.clock() < self._retry_at:
            return False
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except OSError as exc:
            self._retry_at = self.clock() + self._backoff
            self._backoff = min(self._backoff * 2, self.max_backoff_s)
            log.debug("carbon %s:%d unreachable: %s", self.host, self.port, exc)
            return False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._backoff = 0.5
        replay = [line for _, batch in self._recent for line in batch]
        if replay:
            log.info("reconnected to carbon; re-sending the last %d points", len(replay))
            self._spool_front(replay)
        return True

    @staticmethod
    def _peer_closed(sock: socket.socket) -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (OSError, ValueError):
            return True

    def _disconnect(self, why: str) -> None:
        if self._sock is not None:
            log.warning("carbon %s:%d: %s; spooling until it answers", self.host, self.port, why)
            self._sock.close()
            self._sock = None

    def _send(self, lines: list[str]) -> None:
        assert self._sock is not None
        if self.protocol == "plaintext":
            self._sock.sendall("".join(lines).encode())
        else:
            for start in range(0, len(lines), 5000):
                tuples = []
                for line in lines[start : start + 5000]:
                    path, value, ts = line.split()
                    tuples.append((path, (int(ts), float(value))))
                payload = pickle.dumps(tuples, protocol=2)
                self._sock.sendall(struct.pack("!L", len(payload)) + payload)
        self.sent_points += len(lines)

    def _remember(self, lines: list[str]) -> None:
        now = self.clock()
        self._recent.append((now, lines))
        while self._recent and now - self._recent[0][0] > self.resend_window_s:
            self._recent.popleft()

    # -- spool -------------------------------------------------------------------------------
    def _segments(self) -> list[Path]:
        return sorted(self.spool_dir.glob("*.spool"))

    @staticmethod
    def _segment_seq(path: Path) -> int:
        try:
            return int(path.stem)
        except ValueError:
            return 0

    def _write_segment(self, seq: int, lines: list[str]) -> None:
        tmp = self.spool_dir / f"{seq:020d}.tmp"
        with tmp.open("w") as fh:
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(self.spool_dir / f"{seq:020d}.spool")

    def _spool(self, lines: list[str]) -> None:
        if not lines:
            return
        self._seq += 1
        self._write_segment(self._seq, lines)
        self._enforce_bound()

    def _spool_front(self, lines: list[str]) -> None:
        """Put points before everything spooled (the re-sent window goes first)."""
        first = min((self._segment_seq(p) for p in self._segments()), default=self._seq + 1)
        self._write_segment(first - 1, lines)
        self._enforce_bound()

    def _enforce_bound(self) -> None:
        segments = self._segments()
        total = sum(p.stat().st_size for p in segments)
        dropped = 0
        first_ts = last_ts = None
        while segments and total > self.max_spool_bytes:
            oldest = segments.pop(0)
            lines = oldest.read_text().splitlines()
            total -= oldest.stat().st_size
            oldest.unlink()
            dropped += len(lines)
            stamps = [int(line.rsplit(" ", 1)[1]) for line in lines if line]
            if stamps:
                first_ts = min(stamps) if first_ts is None else min(first_ts, *stamps)
                last_ts = max(stamps) if last_ts is None else max(last_ts, *stamps)
        if dropped:
            self.dropped_points += dropped
            log.error(
                "carbon spool %s over %d bytes: dropped the oldest %d points (timestamps %s-%s)",
                self.spool_dir,
                self.max_spool_bytes,
                dropped,
                first_ts,
                last_ts,
            )

    def _drain_spool(self) -> None:
        for segment in self._segments():
            lines = segment.read_text().splitlines(keepends=True)
            if lines:
                self._send(lines)
                self._remember(lines)
            segment.unlink()


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a verb's points became: sent now, or kept in the spool (and how many points of
    earlier verbs' spools went out with them)."""

    points: int
    sent: bool
    spooled: int
    spool_dir: Path
    earlier_sent: int

    def describe(self, what: str, address: CarbonAddress) -> str:
        if self.sent:
            text = f"{self.points} {what} written to Graphite"
            if self.earlier_sent:
                text += f" (and {self.earlier_sent} spooled earlier)"
            return text
        return (
            f"{self.points} {what} spooled (carbon at {address} unreachable) in "
            f"{self.spool_dir}: {self.spooled} points wait there; the next tare verb that "
            "reaches carbon sends them"
        )


def drain_spools(address: CarbonAddress, root: Path, skip: Path | None = None) -> int:
    """Send what earlier verbs left in the spools under ``root``; returns the points sent.
    A spool another sender holds (a verb still running) is left to it."""
    sent = 0
    spools = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for spool in spools:
        if spool == skip or not any(spool.glob("*.spool")):
            continue
        try:
            sender = CarbonSender(address, spool)
        except SpoolLocked:
            continue
        waiting = sender.spooled_points()
        if sender.close():
            sent += waiting
    return sent


def deliver(address: CarbonAddress, root: Path, name: str, points: Iterable[Point]) -> Delivery:
    """Send ``points`` through the spool ``root/name``; when carbon answers, also send what
    earlier verbs spooled under ``root``."""
    spool = root / name
    sender = CarbonSender(address, spool)
    waiting = sender.spooled_points()
    batch = list(points)
    try:
        sender.add(batch)
    finally:
        sent = sender.close()
    if not sent:
        return Delivery(len(batch), False, sender.spooled_points(), spool, 0)
    return Delivery(len(batch), True, 0, spool, waiting + drain_spools(address, root, skip=spool))
