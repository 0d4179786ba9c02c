"""``[design] adaptive``: the rounds of a night decided as it goes. After every look
(``pipeline.adaptive.looks_at``) each open block is analysed as ``tare analyze`` would (its
runs so far, read back from Graphite) and either stops (every judged KPI within its target),
ends ``too noisy tonight`` (the budget spent) or gets two more rounds. Wiring only: the rule is
``pipeline.adaptive``, the order of the rounds ``harness.matrix.rounds``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from contracts.kpis import BY_NAME
from contracts.manifest import BASELINE, CampaignRecord, RunRecord
from contracts.states import RunState
from harness import matrix
from harness.matrix import Cell, Design, PlannedRun
from pipeline.adaptive import BlockCost, Short, block_short, looks_at
from pipeline.campaign import analyze, run_ref
from pipeline.fetch import wait_readable
from pipeline.graphite import GraphiteClient, GraphiteUnavailable

SETTLE_S = 20.0  # how long a look waits for the last run's series to be readable


def block_of(d: Design, levels: Mapping[str, matrix.Level]) -> Cell:
    cell = matrix.cell_of(d, levels)
    return cell if cell.mode == BASELINE else matrix.baseline_cell(d, cell)


def describe(base: Cell) -> str:
    return " ".join(f"{k}={v}" for k, v in base.levels if k != "mode") or "the block"


class Rounds:
    """The harness's ``more``: given the campaign's runs, the next rounds (none: the night is
    done). What each look decided is told through ``say``."""

    def __init__(
        self,
        d: Design,
        lo: int,
        hi: int,
        goal: Mapping[str, float],
        record: Callable[[], CampaignRecord],
        client: GraphiteClient,
        say: Callable[[str], None],
    ) -> None:
        self.d, self.lo, self.hi, self.goal = d, lo, hi, goal
        self.record, self.client, self.say = record, client, say

    def __call__(self, rows: list[RunRecord]) -> list[PlannedRun]:
        by_block: dict[Cell, list[RunRecord]] = {}
        for r in rows:
            by_block.setdefault(block_of(self.d, dict(r.levels)), []).append(r)
        done = {b: max(r.repeat for r in rs) for b, rs in by_block.items()}
        latest = max(done.values(), default=0)
        if not looks_at(latest, self.lo) and latest < self.hi:
            # not a look: the planned rounds are always whole looks, so this is a ledger
            # written by another design; judging it anyway ends nothing early
            self.say(f"adaptive: round {latest} is not a look; judged anyway")
        self.settle(rows)
        going = []
        more = min(2, self.hi - latest)
        for base, rs in by_block.items():
            if done[base] < latest:
                continue  # stopped at an earlier look
            where = f"adaptive: {describe(base)}: after {latest} round(s)"
            if not any(r.status is RunState.DONE for r in rs if r.repeat == latest):
                self.say(f"{where} no run of round {latest} is valid; more would not help")
                continue
            short = self.short(base, rs)
            if not short:
                self.say(f"{where} every judged KPI is within its target; block done")
            elif latest >= self.hi:
                self.say(
                    f"{where} the budget is spent; too noisy tonight: "
                    + "; ".join(s.describe() for s in short)
                )
            else:
                going.append(base)
                self.say(
                    f"{where} {len(short)} short, e.g. {short[0].describe()}; {more} more round(s)"
                )
        if not going:
            return []
        seq = max(r.seq for r in rows) + 1
        return matrix.rounds(self.d, latest + 1, more, going, seq)

    def short(self, base: Cell, rows: Sequence[RunRecord]) -> list[Short]:
        try:
            found = analyze(self.record(), rows, self.client).overheads
        except GraphiteUnavailable as exc:
            self.say(f"adaptive: {describe(base)}: not judged ({exc}); the rounds go on")
            return [Short(base.levels, "every KPI", None, 0.0, "")]
        return block_short(found, [r.levels for r in rows if r.mode != BASELINE], self.goal)

    def settle(self, rows: Sequence[RunRecord]) -> None:
        done = [r for r in rows if r.status is RunState.DONE and r.steady and r.manifest]
        if done:
            last = max(done, key=lambda r: r.seq)
            wait_readable(self.client, run_ref(last), BY_NAME["cpu_cgroup"], SETTLE_S)


def block_costs(d: Design, seconds_of: Callable[[Sequence[PlannedRun]], float]) -> list[BlockCost]:
    return [
        BlockCost(describe(base), base.rate, seconds_of(matrix.rounds(d, 1, 1, [base])))
        for base, _ in matrix.blocks(d)
    ]
