"""The campaign matrix and the order of its runs (pure: values in, values out).

Cells are factor-level combinations. ``one-factor-at-a-time`` crosses the ``crossed`` factors
(default mode x rate) at the reference levels of the others, then varies every other factor
alone around the reference cell, as the published lab did; ``full`` crosses everything. Every
contender cell is compared with the baseline cell that differs from it only in ``mode``; factors
that the workload does not use (say, the agent's policy size) do not change a baseline, so
baseline cells are shared across their levels.

Runs are ordered in blocks of one baseline and its contenders. With ``interleave`` every
repeat walks all blocks in turn, counterbalanced: odd repeats run the blocks, and the runs in
each block, forward (baseline first), even repeats run both in reverse (baseline last). Over
every pair of repeats each cell's mean position in time is the same, so a linear drift of the
machine adds nothing to any overhead (an odd number of repeats leaves the last repeat's share
of it, a third of the fixed order's with three repeats); a unit test plants one.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contracts.manifest import BASELINE
from contracts.paths import NightlyKey

Level = int | float | str


@dataclass(frozen=True, slots=True)
class Cell:
    levels: tuple[tuple[str, Level], ...]  # (factor, level) in factor order

    @property
    def mode(self) -> str:
        return str(dict(self.levels)["mode"])

    @property
    def rate(self) -> int:
        return int(dict(self.levels)["rate"])

    def get(self, factor: str) -> Level:
        return dict(self.levels)[factor]

    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.levels)


@dataclass(frozen=True, slots=True)
class PlannedRun:
    seq: int
    cell: Cell
    repeat: int
    baseline_of: tuple[Cell, ...]  # for a baseline run: the contender cells it serves


@dataclass(frozen=True, slots=True)
class Design:
    factors: Mapping[str, Sequence[Level]]  # "mode" (baseline first) and "rate" included
    kind: str  # "one-factor-at-a-time" | "full"
    crossed: Sequence[str]
    reference: Mapping[str, Level]
    repeats: int
    interleave: bool
    baseline_factors: frozenset[str]  # factors a baseline depends on (rate, workload's own)


def default_reference(factors: Mapping[str, Sequence[Level]]) -> dict[str, Level]:
    """The last agent mode (the most complete), the middle rate, the first level otherwise."""
    ref: dict[str, Level] = {}
    for name, levels in factors.items():
        if name == "mode":
            modes = [m for m in levels if m != BASELINE]
            ref[name] = modes[-1] if modes else BASELINE
        elif name == "rate":
            ref[name] = sorted(levels, key=float)[len(levels) // 2]
        else:
            ref[name] = levels[0]
    return ref


def _cell(factors: Mapping[str, Sequence[Level]], values: Mapping[str, Level]) -> Cell:
    return Cell(tuple((name, values[name]) for name in factors))


def contender_cells(d: Design) -> list[Cell]:
    """Every cell with the agent present, in a stable order."""
    ref = {**default_reference(d.factors), **d.reference}
    names = list(d.factors)
    agent_modes = [m for m in d.factors["mode"] if m != BASELINE]
    cells: list[Cell] = []

    def add(values: Mapping[str, Level]) -> None:
        cell = _cell(d.factors, values)
        if cell not in cells:
            cells.append(cell)

    if d.kind == "full":
        grids = [agent_modes if n == "mode" else list(d.factors[n]) for n in names]
        for combo in itertools.product(*grids):
            add(dict(zip(names, combo, strict=True)))
        return cells
    crossed = [n for n in names if n in d.crossed]
    grids = [agent_modes if n == "mode" else list(d.factors[n]) for n in crossed]
    for combo in itertools.product(*grids):
        add({**ref, **dict(zip(crossed, combo, strict=True))})
    contender_ref = dict(ref)
    if contender_ref["mode"] == BASELINE:
        contender_ref["mode"] = agent_modes[-1]
    for name in names:
        if name in crossed:
            continue
        for level in d.factors[name]:
            add({**contender_ref, name: level})
    return cells


def baseline_cell(d: Design, contender: Cell) -> Cell:
    """The contender's baseline: mode=baseline, and the reference level of every factor the
    baseline does not depend on (so that one baseline serves them all)."""
    ref = {**default_reference(d.factors), **d.reference}
    values: dict[str, Level] = {}
    for name, level in contender.levels:
        if name == "mode":
            values[name] = BASELINE
        elif name in d.baseline_factors:
            values[name] = level
        else:
            values[name] = ref[name]
    return _cell(d.factors, values)


def blocks(d: Design) -> list[tuple[Cell, list[Cell]]]:
    """(baseline, its contenders) in matrix order."""
    out: dict[Cell, list[Cell]] = {}
    for cell in contender_cells(d):
        out.setdefault(baseline_cell(d, cell), []).append(cell)
    return list(out.items())


def rounds(
    d: Design, first: int, count: int, bases: Sequence[Cell] | None = None, seq: int = 1
) -> list[PlannedRun]:
    """Rounds ``first`` .. ``first + count - 1`` of the blocks whose baselines are ``bases``
    (default all), interleaved and counterbalanced: odd rounds walk the blocks, and the runs
    in each, forward (baseline first), even rounds both in reverse; sequence numbers from
    ``seq``."""
    groups = [(b, c) for b, c in blocks(d) if bases is None or b in bases]
    runs: list[PlannedRun] = []
    for repeat in range(first, first + count):
        forward = repeat % 2 == 1
        for base, contenders in groups if forward else reversed(groups):
            block = [(base, tuple(contenders)), *((c, ()) for c in contenders)]
            for cell, serves in block if forward else reversed(block):
                runs.append(PlannedRun(seq + len(runs), cell, repeat, serves))
    return runs


def plan(d: Design) -> list[PlannedRun]:
    if d.interleave:
        return rounds(d, 1, d.repeats)
    runs: list[PlannedRun] = []
    for base, contenders in blocks(d):
        for repeat in range(1, d.repeats + 1):
            runs.append(PlannedRun(len(runs) + 1, base, repeat, tuple(contenders)))
        for cell in contenders:
            for repeat in range(1, d.repeats + 1):
                runs.append(PlannedRun(len(runs) + 1, cell, repeat, ()))
    return runs


def cell_of(d: Design, levels: Mapping[str, Level]) -> Cell:
    return _cell(d.factors, levels)


def replanned(d: Design, seq: int, levels: Mapping[str, Level], repeat: int) -> PlannedRun:
    """A planned run rebuilt from what the ledger kept of it (a round added by an adaptive
    night, on resume)."""
    cell = cell_of(d, levels)
    serves = next((tuple(c) for b, c in blocks(d) if b == cell), ())
    return PlannedRun(seq, cell, repeat, serves)


def wall_time_s(
    runs: Sequence[PlannedRun], duration_s: float, setup_s: float, agent_setup_s: float
) -> float:
    """Estimated campaign length: every run's load plus its lab and agent set-up."""
    total = 0.0
    for run in runs:
        total += duration_s + setup_s + (0.0 if run.cell.mode == BASELINE else agent_setup_s)
    return total


def path_collisions(cells: Sequence[Cell]) -> list[tuple[Cell, Cell]]:
    """Pairs of distinct cells whose nightly series would share one Graphite path."""
    seen: dict[str, Cell] = {}
    out: list[tuple[Cell, Cell]] = []
    for cell in cells:
        path = NightlyKey.of("p", "c", dict(cell.levels), "k").cell
        other = seen.setdefault(path, cell)
        if other != cell:
            out.append((other, cell))
    return out
