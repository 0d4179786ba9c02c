"""CPU lists as Linux writes them (``"0-2,5"``): the cores a lab pins a host to, and the
per-core series that add up to the workload's CPU."""

from __future__ import annotations

from collections.abc import Iterable


def expand(cpus: str) -> tuple[int, ...]:
    """``"0-2,5"`` -> (0, 1, 2, 5); ValueError naming the list when it is not one."""
    cores: list[int] = []
    for part in cpus.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(f"{cpus!r} is not a CPU list (like 0-2,5)")
        first, last = int(lo), int(hi) if dash else int(lo)
        if last < first:
            raise ValueError(f"{cpus!r} is not a CPU list (like 0-2,5)")
        cores.extend(range(first, last + 1))
    return tuple(sorted(set(cores)))


def compact(cores: Iterable[int]) -> str:
    """(0, 1, 2, 5) -> ``"0-2,5"``."""
    ordered = sorted(set(cores))
    if not ordered:
        raise ValueError("no cores")
    runs: list[tuple[int, int]] = []
    for c in ordered:
        if runs and c == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], c)
        else:
            runs.append((c, c))
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def bits(cpus: str) -> int:
    """A CPU list as an affinity bit mask (bit n: core n)."""
    return sum(1 << core for core in expand(cpus))


def mask(cpus: str) -> str:
    """The hexadecimal mask of a CPU list (what ``rps_cpus`` takes)."""
    return f"{bits(cpus):x}"


def labels(cpus: str) -> tuple[str, ...]:
    """The cores of a CPU list as the per-core series name them (``"1-2"`` -> ("1", "2"))."""
    return tuple(str(core) for core in expand(cpus))
