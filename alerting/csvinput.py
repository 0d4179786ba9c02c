"""Any performance history as CSV (pure: lines in, columns out).

First column: a time or night label; then one or more numeric columns. An empty cell (or
``nan``) is a missing night, never filled. Blank lines and lines starting with ``#`` are skipped.
Comma-separated; a header without commas may use tabs or semicolons instead.

The first column must be in time order: ISO dates or times (``2026-12-01``,
``2026-12-01T02:00Z``) or numbers (epoch seconds, night numbers) are compared as such; any other
text is taken in the order of the file. A time that repeats is refused (two values for one
night would make one of them silently win); one out of order is refused too, unless the caller
asks for ``order="sort"``. Values must be finite and within ``MAX_ABS`` (a measurement beyond it
is a unit or parsing mistake, and its square overflows). At most ``MAX_ROWS`` data rows are read
(a nightly history of 137 years; the detector is exact and quadratic in the rows): beyond it the
file is refused at that line, without reading the rest.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from alerting.errors import AlertingError
from contracts.errors import ErrorKind

MAX_ROWS = 50_000
MAX_ABS = 1e15
Order = Literal["strict", "sort"]


class CsvError(AlertingError):
    """Malformed input; ``line`` is the 1-based line of the file."""

    kind = ErrorKind.BAD_INPUT

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class History:
    time_column: str
    times: tuple[str, ...]
    columns: dict[str, tuple[float | None, ...]]


def _delimiter(header: str) -> str:
    if "," in header:
        return ","
    return "\t" if "\t" in header else ";" if ";" in header else ","


def _body(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for n, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield n, line.rstrip("\r\n")


TimeKey = tuple[int, float]


def time_key(text: str) -> TimeKey:
    """(kind, value): 0 a number, 1 an ISO date or time (as epoch seconds; UTC unless it names
    a zone), 2 text (value 0: the file's order)."""
    try:
        value = float(text)
        if math.isfinite(value):
            return (0, value)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return (2, 0.0)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (1, when.timestamp())


KINDS = ("a number", "an ISO date or time", "text")


def parse(lines: Iterable[str], order: Order = "strict", max_rows: int = MAX_ROWS) -> History:
    body = _body(lines)
    first = next(body, None)
    if first is None:
        raise CsvError(1, "no header: expected a time column and at least one numeric column")
    header_no, header_line = first
    delim = _delimiter(header_line)
    header = [h.strip() for h in next(csv.reader([header_line], delimiter=delim))]
    if len(header) < 2:
        raise CsvError(header_no, "the header needs a time column and at least one numeric column")
    for i, name in enumerate(header):
        if not name:
            raise CsvError(header_no, f"column {i + 1} has no name")
        if name in header[:i]:
            raise CsvError(header_no, f"column name {name!r} appears twice")
    rows: list[tuple[TimeKey, int, str, list[float | None]]] = []
    seen: dict[object, int] = {}
    for line_no, line in body:
        if len(rows) >= max_rows:
            raise CsvError(
                line_no,
                f"more than {max_rows} rows; tare changepoints reads at most {max_rows} "
                "(keep the newest rows)",
            )
        row = next(csv.reader([line], delimiter=delim))
        if len(row) != len(header):
            raise CsvError(line_no, f"expected {len(header)} fields, found {len(row)}")
        when = row[0].strip()
        if not when:
            raise CsvError(line_no, f"empty {header[0]!r}")
        key = time_key(when)
        same = when if key[0] == 2 else key
        if same in seen:
            raise CsvError(line_no, f"{header[0]} {when!r} repeats line {seen[same]}")
        seen[same] = line_no
        if rows and key[0] != rows[0][0][0]:
            raise CsvError(
                line_no,
                f"{header[0]} {when!r} is not {KINDS[rows[0][0][0]]} like line {rows[0][1]}",
            )
        if rows and order == "strict" and key[0] != 2 and key[1] <= rows[-1][0][1]:
            raise CsvError(
                line_no,
                f"{header[0]} {when!r} is not after {rows[-1][2]!r} (line {rows[-1][1]}); "
                "sort the file or pass --sort",
            )
        values = [_number(cell, line_no, header[j + 1]) for j, cell in enumerate(row[1:])]
        rows.append((key, line_no, when, values))
    if not rows:
        raise CsvError(header_no, "no data rows after the header")
    if order == "sort" and rows[0][0][0] != 2:
        rows.sort(key=lambda r: r[0][1])
    return History(
        header[0],
        tuple(r[2] for r in rows),
        {name: tuple(r[3][j] for r in rows) for j, name in enumerate(header[1:])},
    )


def _number(cell: str, line_no: int, column: str) -> float | None:
    cell = cell.strip()
    if not cell or cell.lower() == "nan":
        return None
    try:
        value = float(cell)
    except ValueError:
        raise CsvError(line_no, f"column {column!r}: {cell[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise CsvError(line_no, f"column {column!r}: {cell[:40]!r} is not a finite number")
    if abs(value) > MAX_ABS:
        raise CsvError(
            line_no, f"column {column!r}: {cell[:40]!r} is beyond +-{MAX_ABS:g}; check its unit"
        )
    return value
