"""How a campaign offers each load profile (``[load.requests]``, ``[load.throughput]``): the
load of one run from its cell, and the cell's load in words (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.load import Profile
from harness import nginx
from harness.load import LoadSpec


@dataclass(frozen=True, slots=True)
class Profiles:
    """How each load profile is offered (``[load.requests]``, ``[load.throughput]``)."""

    requests_clients: int = 50
    throughput_clients: int = 4
    throughput_mbit: int = 400  # the throughput profile's target, whatever the cell's rate
    body_bytes: int = 1 << 20
    bulk_path: str = nginx.BULK_PATH

    def describe(self, levels: dict[str, Any]) -> str:
        """A cell's load in words: ``5000 conn/s``, ``requests 5000 req/s``,
        ``throughput 400 Mbit/s``."""
        profile = Profile.of(levels)
        rate = self.throughput_mbit if profile is Profile.THROUGHPUT else int(levels["rate"])
        words = f"{rate} {profile.unit}"
        return words if profile is Profile.CONNECTIONS else f"{profile} {words}"

    def spec(
        self,
        tool: str,
        address: str,
        port: int,
        path: str,
        cell_rate: int,
        duration_s: int,
        profile: Profile,
    ) -> LoadSpec:
        """The load of one run of ``profile`` (the cell's rate is the target of the connections
        and requests profiles; throughput has its own)."""
        if profile is Profile.REQUESTS:
            return LoadSpec(
                tool, address, port, path, cell_rate, duration_s, profile, self.requests_clients
            )
        if profile is Profile.THROUGHPUT:
            return LoadSpec(
                tool,
                address,
                port,
                self.bulk_path,
                self.throughput_mbit,
                duration_s,
                profile,
                self.throughput_clients,
                self.body_bytes,
            )
        return LoadSpec(tool, address, port, path, cell_rate, duration_s)
