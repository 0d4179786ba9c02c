"""Send points to carbon's plaintext receiver (the only module here that opens that socket)."""

from __future__ import annotations

import socket
from collections.abc import Iterable

from collectors.names import plaintext_line


def send_plaintext(
    host: str, port: int, points: Iterable[tuple[str, float, int]], timeout_s: float = 5.0
) -> int:
    """Send (path, value, timestamp) points over one connection; returns how many were sent."""
    payload = "".join(plaintext_line(p, v, t) for p, v, t in points).encode()
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(payload)
    return payload.count(b"\n")
