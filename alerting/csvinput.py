"""Any performance history as CSV (pure: text in, columns out).

First column: a time or night label (kept as written); then one or more numeric columns. An empty
cell (or ``nan``) is a missing night, never filled. Blank lines and lines starting with ``#`` are
skipped. Comma-separated; a header without commas may use tabs or semicolons instead.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from alerting.errors import AlertingError
from contracts.errors import ErrorKind


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


def parse(text: str) -> History:
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)]
    body = [(n, line) for n, line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not body:
        raise CsvError(1, "no header: expected a time column and at least one numeric column")
    header_no, header_line = body[0]
    delim = _delimiter(header_line)
    rows = list(csv.reader(io.StringIO("\n".join(line for _, line in body)), delimiter=delim))
    header = [h.strip() for h in rows[0]]
    if len(header) < 2:
        raise CsvError(header_no, "the header needs a time column and at least one numeric column")
    for i, name in enumerate(header):
        if not name:
            raise CsvError(header_no, f"column {i + 1} has no name")
        if name in header[:i]:
            raise CsvError(header_no, f"column name {name!r} appears twice")
    times: list[str] = []
    values: list[list[float | None]] = [[] for _ in header[1:]]
    for (line_no, _), row in zip(body[1:], rows[1:], strict=True):
        if len(row) != len(header):
            raise CsvError(line_no, f"expected {len(header)} fields, found {len(row)}")
        when = row[0].strip()
        if not when:
            raise CsvError(line_no, f"empty {header[0]!r}")
        times.append(when)
        for j, cell in enumerate(row[1:]):
            values[j].append(_number(cell, line_no, header[j + 1]))
    if not times:
        raise CsvError(header_no, "no data rows after the header")
    return History(
        header[0],
        tuple(times),
        {name: tuple(v) for name, v in zip(header[1:], values, strict=True)},
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
    return value
