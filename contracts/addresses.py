"""Where the services are: carbon's line receiver and graphite-web's render API, validated once
when a config is loaded, then passed around typed (never as ``"host:port"`` strings)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class CarbonAddress:
    host: str
    port: int

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host) or "/" in self.host:
            raise ValueError(f"carbon host {self.host!r}: expected a host name or address")
        if isinstance(self.port, bool) or not 0 < self.port < 65536:
            raise ValueError(f"carbon port {self.port!r}: expected 1-65535")

    @classmethod
    def parse(cls, text: str) -> CarbonAddress:
        """``HOST:PORT`` (an IPv6 host in brackets: ``[::1]:2003``)."""
        host, sep, port = text.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"{text!r}: expected HOST:PORT")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RenderUrl:
    """graphite-web's base URL (``/render``, ``/metrics``, ``/events`` are under it)."""

    url: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{self.url!r}: expected an http:// or https:// URL with a host")
        if parts.query or parts.fragment:
            raise ValueError(f"{self.url!r}: a base URL has no query or fragment")
        try:
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError:
            raise ValueError(f"{self.url!r}: port out of range") from None

    @classmethod
    def parse(cls, text: str) -> RenderUrl:
        return cls(text.strip().rstrip("/"))

    def __str__(self) -> str:
        return self.url
