"""`tare changepoints` on extreme or disordered input: refused naming the line, or handled;
its JSON is always strict JSON; a file beyond the row limit is refused without reading it all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alerting.csvinput import MAX_ROWS
from tests.conftest import run_tare


def strict_json(text: str) -> dict[str, object]:
    def refuse(name: str) -> object:
        raise AssertionError(f"not strict JSON: {name}")

    data = json.loads(text, parse_constant=refuse)
    assert isinstance(data, dict)
    return data


def history(path: Path, values: list[float], nights: list[str] | None = None) -> Path:
    nights = nights or [f"{i}" for i in range(len(values))]
    path.write_text(
        "night,v\n" + "".join(f"{n},{v!r}\n" for n, v in zip(nights, values, strict=True))
    )
    return path


def stepped(level: float, sd: float, n: int = 60, at: int = 40) -> list[float]:
    y = np.random.default_rng(3).normal(level, sd, n)
    y[at:] += 6 * sd
    return [float(v) for v in y]


def test_values_beyond_the_bound_are_refused_with_the_line(tmp_path: Path) -> None:
    values = [1.0] * 10 + [1e308] * 10
    res = run_tare("changepoints", str(history(tmp_path / "h.csv", values)), "--json")
    assert res.code == 3
    assert res.err.strip().startswith(f"{tmp_path / 'h.csv'}: line 12: column 'v': '1e+308'")
    assert "Warning" not in res.err and "Traceback" not in res.err


def test_large_levels_keep_their_step_and_give_strict_json(tmp_path: Path) -> None:
    values = stepped(1e12, 1e3)
    res = run_tare("changepoints", str(history(tmp_path / "h.csv", values)), "--json")
    assert res.code == 0, res.err
    assert "Warning" not in res.err
    (series,) = strict_json(res.out)["series"]  # type: ignore[misc]
    assert [c["index"] for c in series["change_points"]] == [40]
    assert series["outliers"] == []


def test_a_zero_level_gives_null_not_infinity(tmp_path: Path) -> None:
    values = [0.0] * 40 + [5.0] * 20
    res = run_tare("changepoints", str(history(tmp_path / "h.csv", values)), "--json")
    assert res.code == 0, res.err
    (series,) = strict_json(res.out)["series"]  # type: ignore[misc]
    assert series["change_points"][0]["change_pct"] is None


def test_nights_out_of_order_are_refused_or_sorted_on_request(tmp_path: Path) -> None:
    values = stepped(100.0, 1.0)
    nights = [f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(len(values))]
    path = history(tmp_path / "rev.csv", values[::-1], nights[::-1])
    res = run_tare("changepoints", str(path))
    assert res.code == 3
    assert f"{path}: line 3: night '{nights[-2]}' is not after '{nights[-1]}' (line 2)" in res.err
    assert "--sort" in res.err
    ok = run_tare("changepoints", str(path), "--sort", "--json")
    assert ok.code == 0, ok.err
    (series,) = strict_json(ok.out)["series"]  # type: ignore[misc]
    (change,) = series["change_points"]
    assert change["time"] == nights[40] and change["after"] > change["before"]  # a rise


@pytest.mark.parametrize("sort", [False, True])
def test_a_repeated_night_is_refused_naming_both_lines(tmp_path: Path, sort: bool) -> None:
    nights = ["2026-12-01", "2026-12-02", "2026-12-02T00:00:00", "2026-12-03"]
    path = history(tmp_path / "dup.csv", [1.0, 2.0, 3.0, 4.0], nights)
    res = run_tare("changepoints", str(path), *(["--sort"] if sort else []))
    assert res.code == 3
    assert "line 4: night '2026-12-02T00:00:00' repeats line 3" in res.err


def test_beyond_the_row_limit_is_refused_at_that_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("w") as fh:
        fh.write("night,v\n")
        fh.writelines(f"{i},{i % 7}\n" for i in range(1_000_000))
    res = run_tare("changepoints", str(path))
    assert res.code == 3
    assert res.err.strip() == (
        f"{path}: line {MAX_ROWS + 2}: more than {MAX_ROWS} rows; tare changepoints reads at most "
        f"{MAX_ROWS} (keep the newest rows)"
    )
