"""Durations for people: ``4m05s``, ``1h02m03s``."""

from __future__ import annotations


def fmt_duration(seconds: float) -> str:
    h, rem = divmod(max(0, int(seconds)), 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
