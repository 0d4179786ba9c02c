"""The carbon sender against a real loopback TCP server that goes away and comes back."""

from __future__ import annotations

import contextlib
import logging
import pickle
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.sender import CarbonSender, SpoolLocked
from contracts.addresses import CarbonAddress
from tests.poll import wait_for


class LineServer:
    """A minimal carbon: accepts connections, records plaintext lines or pickle batches."""

    def __init__(self, port: int = 0, protocol: str = "plaintext") -> None:
        self.protocol = protocol
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self.connections = 0
        self._stop = False
        self._conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            if self.protocol == "plaintext":
                *done, buf = buf.split(b"\n")
                self.lines.extend(d.decode() for d in done)
            else:
                while len(buf) >= 4:
                    (size,) = struct.unpack("!L", buf[:4])
                    if len(buf) < 4 + size:
                        break
                    batch = pickle.loads(buf[4 : 4 + size])
                    buf = buf[4 + size :]
                    self.lines.extend(f"{p} {v!r} {t}" for p, (t, v) in batch)

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):  # shutdown wakes the thread blocked in accept()
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def points(self) -> set[tuple[str, int]]:
        return {(line.split()[0], int(line.split()[2])) for line in self.lines if line}


@pytest.fixture
def server() -> Iterator[LineServer]:
    srv = LineServer()
    yield srv
    srv.close()


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_one_connection_batches_and_one_point_per_second(
    server: LineServer, tmp_path: Path
) -> None:
    sender = CarbonSender(CarbonAddress("127.0.0.1", server.port), tmp_path / "spool")
    sender.add([("tare.a", 1.0, 100), ("tare.a", 2.0, 100), ("tare.b", 3.0, 100)])
    assert sender.flush()
    sender.add([("tare.a", 4.0, 101)])
    assert sender.flush()
    sender.close()
    wait_for(lambda: len(server.lines) == 3, what="3 lines")
    assert server.lines == ["tare.a 2.0 100", "tare.b 3.0 100", "tare.a 4.0 101"]
    assert server.connections == 1


def test_pickle_protocol(tmp_path: Path) -> None:
    srv = LineServer(protocol="pickle")
    try:
        sender = CarbonSender(
            CarbonAddress("127.0.0.1", srv.port), tmp_path / "spool", protocol="pickle"
        )
        sender.add([("tare.p;run=r1", 1.5, 200), ("tare.q", 2.5, 200)])
        assert sender.flush()
        sender.close()
        wait_for(lambda: len(srv.lines) == 2, what="pickled points")
        assert sorted(srv.lines) == ["tare.p;run=r1 1.5 200", "tare.q 2.5 200"]
    finally:
        srv.close()


def test_outage_spools_and_replays_in_order(tmp_path: Path) -> None:
    srv = LineServer()
    port = srv.port
    clock = Clock()
    sender = CarbonSender(CarbonAddress("127.0.0.1", port), tmp_path / "spool", clock=clock)
    for ts in range(10):
        sender.add([("tare.s", float(ts), 1000 + ts)])
        sender.flush()
        clock.t += 1
    wait_for(lambda: len(srv.lines) >= 10, what="first points")
    srv.close()
    for ts in range(10, 40):  # carbon is away
        sender.add([("tare.s", float(ts), 1000 + ts)])
        sender.flush()
        clock.t += 1
    assert sender.spooled_bytes() > 0
    srv2 = LineServer(port=port)
    try:
        for ts in range(40, 50):
            sender.add([("tare.s", float(ts), 1000 + ts)])
            sender.flush()
            clock.t += 1
        sender.close()
        wait_for(
            lambda: {1000 + t for t in range(10, 50)} <= {t for _, t in srv2.points()},
            what="every point after the outage",
        )
        got = [int(line.split()[2]) for line in srv2.lines if line]
        # the spooled seconds arrive in order, before the live ones
        spooled = [t for t in got if 1010 <= t < 1040]
        assert spooled == sorted(spooled)
        assert got.index(1039) < got.index(1040)
        assert sender.spooled_bytes() == 0
    finally:
        srv2.close()


def test_spool_survives_a_restart_of_the_sender(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    dead_port = LineServer()
    port = dead_port.port
    dead_port.close()
    sender = CarbonSender(CarbonAddress("127.0.0.1", port), spool)
    sender.add([("tare.k", 1.0, 500), ("tare.k", 2.0, 501)])
    assert not sender.flush()
    sender.close()
    srv = LineServer(port=port)
    try:
        again = CarbonSender(CarbonAddress("127.0.0.1", port), spool)
        assert again.flush()
        again.close()
        wait_for(lambda: {("tare.k", 500), ("tare.k", 501)} <= srv.points(), what="replay")
    finally:
        srv.close()


def test_bounded_spool_drops_oldest_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = LineServer()
    port = dead.port
    dead.close()
    sender = CarbonSender(CarbonAddress("127.0.0.1", port), tmp_path / "spool", max_spool_bytes=200)
    with caplog.at_level(logging.ERROR):
        for ts in range(20):
            sender.add([("tare.bounded.series", float(ts), 2000 + ts)])
            sender.flush()
    assert sender.spooled_bytes() <= 200
    assert sender.dropped_points > 0
    assert "dropped the oldest" in caplog.text
    assert "timestamps 2000-" in caplog.text
    sender.close()


def test_one_sender_per_spool(tmp_path: Path, server: LineServer) -> None:
    first = CarbonSender(CarbonAddress("127.0.0.1", server.port), tmp_path / "spool")
    with pytest.raises(SpoolLocked, match="in use"):
        CarbonSender(CarbonAddress("127.0.0.1", server.port), tmp_path / "spool")
    first.close()


def test_unsafe_points_are_refused_before_sending(tmp_path: Path, server: LineServer) -> None:
    sender = CarbonSender(CarbonAddress("127.0.0.1", server.port), tmp_path / "spool")
    with pytest.raises(ValueError, match="unsafe"):
        sender.add([("tare.a b\ntare.injected", 1.0, 1)])
    sender.close()
