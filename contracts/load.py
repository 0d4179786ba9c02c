"""Load profiles: the kinds of load a run can offer the workload, and the unit of each one's
rate (shared by the campaign file, the harness, the collectors' results and the analysis).

- ``connections``: new TCP connections per second, one small request each (connection
  tracking, the firewall's per-connection path);
- ``requests``: requests per second on kept-alive connections (per-packet work on established
  flows, without connection set-up);
- ``throughput``: bulk transfer at a target Mbit/s (per-packet and per-byte work on a few
  long-lived flows).
"""

from __future__ import annotations

from enum import StrEnum

PROFILE_FACTOR = "profile"  # the factor's name in a campaign's cells, when it varies


class Profile(StrEnum):
    CONNECTIONS = "connections"
    REQUESTS = "requests"
    THROUGHPUT = "throughput"

    @property
    def unit(self) -> str:
        """The unit of this profile's target and achieved rate."""
        return _UNITS[self]

    @classmethod
    def of(cls, levels: dict[str, object] | None) -> Profile:
        """A cell's profile: its ``profile`` level, else connections (campaigns without the
        factor offer new connections only)."""
        value = (levels or {}).get(PROFILE_FACTOR, cls.CONNECTIONS.value)
        return cls(str(value))


_UNITS = {
    Profile.CONNECTIONS: "conn/s",
    Profile.REQUESTS: "req/s",
    Profile.THROUGHPUT: "Mbit/s",
}
