"""The psutil backend (for hosts without /proc) writes documented series only."""

from __future__ import annotations

import os
import time

from collectors.psutil_sampler import PsutilSampler
from collectors.sampler import ProcMatch
from collectors.series import GROUPS, group_template


def test_psutil_backend_series_are_documented() -> None:
    sampler = PsutilSampler(
        processes=(ProcMatch("me", pid_file=None, name="pytest"),), interfaces=("lo",)
    )
    sampler.sample()
    time.sleep(0.3)
    values = sampler.sample()
    names = {(g, m) for g, m, _ in values}
    assert ("memory", "available_bytes") in names
    assert ("cpu_all", "busy_pct") in names
    assert ("net_lo", "rx_bytes_per_s") in names
    assert ("proc_me", "rss_bytes") in names  # this test process, found by its script name
    documented = {t: {m.name for m in ms} for t, ms in GROUPS.items()}
    for group, metric in names:
        assert metric in documented[group_template(group)], (group, metric)
    busy = next(v for g, m, v in values if (g, m) == ("cpu_all", "busy_pct"))
    assert 0 <= busy <= 100 * (os.cpu_count() or 1)
