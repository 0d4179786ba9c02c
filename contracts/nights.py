"""A night (``YYYY-MM-DD``, UTC) and the epoch seconds its nightly points and events carry."""

from __future__ import annotations

import calendar
import datetime as dt
import time


def night_timestamp(night: str) -> int:
    return calendar.timegm(time.strptime(night, "%Y-%m-%d"))


def night_of(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")
