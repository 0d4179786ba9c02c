"""Numbers as a reader should see them: rounded to their uncertainty (two significant digits of
the CI's half-width, the estimate to the same place), p-values as "< 0.001" rather than
4.685e-13, nights as dates, connection rates as "5K/s". Pure."""

from __future__ import annotations

import datetime as dt
import math

P_FLOOR = 0.001


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def decimals_for(uncertainty: float) -> int:
    """Decimal places that keep two significant digits of ``uncertainty`` (at least 0)."""
    if not _finite(uncertainty) or uncertainty <= 0:
        return 2
    return max(0, 1 - math.floor(math.log10(uncertainty)))


def number(v: float | None, uncertainty: float | None = None, signed: bool = False) -> str:
    """``v`` to the place its uncertainty allows (three significant digits without one)."""
    if v is None or not math.isfinite(v):
        return "-"
    sign = "+" if signed else ""
    if uncertainty is not None and _finite(uncertainty) and uncertainty > 0:
        return f"{v:{sign}.{decimals_for(uncertainty)}f}"
    if v == 0:
        return "0"
    places = max(0, 2 - math.floor(math.log10(abs(v))))
    return f"{v:{sign}.{places}f}"


def with_ci(v: float | None, low: float | None, high: float | None, unit: str = "") -> str:
    """``+1.23 [+0.40, +2.06] pp``: the estimate and its interval to the interval's precision."""
    tail = f" {unit}" if unit else ""
    if not (_finite(low) and _finite(high)):
        return f"{number(v, signed=True)}{tail} (no interval)"
    assert low is not None and high is not None
    half = (high - low) / 2
    a, lo, hi = (number(x, half, signed=True) for x in (v, low, high))
    return f"{a} [{lo}, {hi}]{tail}"


def pvalue(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "-"
    if p < P_FLOOR:
        return f"< {P_FLOOR:g}"
    return f"{p:.2g}" if p < 0.1 else f"{p:.2f}"


def night(ts: int | float) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%d")


def rate(r: float | int | str) -> str:
    """``5000`` -> ``5K/s``; ``1500`` -> ``1.5K/s``; ``800`` -> ``800/s``."""
    v = float(r)
    if v >= 1000:
        k = v / 1000
        return f"{k:g}K/s"
    return f"{v:g}/s"
