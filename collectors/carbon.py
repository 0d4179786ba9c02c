"""Carbon's plaintext protocol: the one line format, a one-shot send and a reachability probe.
With ``collectors.sender`` (the persistent, spooling connection) the only code that opens a
socket to carbon."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterable

from contracts.addresses import CarbonAddress
from contracts.labels import is_safe_path, label, tag_value


def plaintext_line(path: str, value: float, timestamp: int) -> str:
    """One carbon plaintext line; refuses unsafe paths and non-finite values."""
    if not is_safe_path(path.split(";", 1)[0]):
        raise ValueError(f"unsafe Graphite path {path!r}")
    if ";" in path:
        for tag in path.split(";")[1:]:
            key, sep, val = tag.partition("=")
            if not sep or label(key) != key or tag_value(val) != val:
                raise ValueError(f"unsafe Graphite tag {tag!r} in {path!r}")
    if not math.isfinite(value):
        raise ValueError(f"non-finite value {value!r} for {path}")
    return f"{path} {value!r} {int(timestamp)}\n"


def send_plaintext(
    address: CarbonAddress, points: Iterable[tuple[str, float, int]], timeout_s: float = 5.0
) -> int:
    """Send (path, value, timestamp) points over one connection; returns how many were sent."""
    payload = "".join(plaintext_line(p, v, t) for p, v, t in points).encode()
    with socket.create_connection((address.host, address.port), timeout=timeout_s) as sock:
        sock.sendall(payload)
    return payload.count(b"\n")


def unreachable(address: CarbonAddress, timeout_s: float = 3.0) -> str | None:
    """Why carbon's line receiver does not accept a connection now; None when it does."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout_s):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)
