"""Labels from config files, hosts and processes never split a carbon line or inject a metric."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.carbon import plaintext_line
from contracts.labels import MAX_LABEL, is_safe_path, join, label, tag_value


@given(st.text())
def test_label_is_one_safe_path_component(text: str) -> None:
    out = label(text)
    assert out
    assert is_safe_path(out)
    assert "." not in out


@given(st.text())
def test_tag_value_has_no_reserved_character(text: str) -> None:
    out = tag_value(text)
    assert out
    assert not set(out) & set(";~=! \t\r\n^")


@given(
    st.lists(st.text(), min_size=1, max_size=5), st.floats(allow_nan=False, allow_infinity=False)
)
def test_a_line_built_from_any_labels_is_exactly_one_line(parts: list[str], value: float) -> None:
    path = join("tare", *[label(p) for p in parts])
    line = plaintext_line(path, value, 1_700_000_000)
    assert line.count("\n") == 1
    assert line.endswith("\n")
    name, val, ts = line.split(" ")
    assert name == path
    assert float(val) == value
    assert ts == "1700000000\n"


@given(st.text(), st.text())
def test_labels_are_injective(a: str, b: str) -> None:
    if a != b:
        assert label(a) != label(b)
        assert tag_value(a) != tag_value(b)


@given(st.text())
def test_labels_are_idempotent(text: str) -> None:
    assert label(label(text)) == label(text)
    assert tag_value(tag_value(text)) == tag_value(text)


def test_labels_that_sanitize_alike_stay_apart() -> None:
    """The finding: factor levels `a b` and `a.b` both became `a_b`, one overwrote the other."""
    found = {label(x) for x in ("a b", "a.b", "a_b", "a__b", " a b ")}
    assert len(found) == 5
    assert "a_b" in found  # a safe label is used as written


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("web_server-1", "web_server-1"),
        ("web server 1", "web_server_1_x"),
        ("evil\ntare.injected 1 0", "evil_tare_injected_1_0_x"),
        ("a;run=x", "a_run_x_x"),
        ("", "x"),
        ("...", "x"),
        ("nginx-1.22", "nginx-1_22_x"),
    ],
)
def test_label_examples(raw: str, expected: str) -> None:
    out = label(raw)
    assert out.startswith(expected)
    assert len(out) == len(expected) + (10 if expected.endswith("x") else 0)


def test_long_labels_are_cut_and_still_distinct() -> None:
    a, b = "x" * 200 + "a", "x" * 200 + "b"
    assert label(a) != label(b)
    assert len(label(a)) == MAX_LABEL


def test_join_keeps_safe_dotted_parts_and_sanitizes_others() -> None:
    assert join("tare.runs", "host a", 3) == f"tare.runs.{label('host a')}.3"


@pytest.mark.parametrize(
    "path",
    ["tare.a b", "tare..a", "tare.a\nx 1 2", "tare.a;run=x y", "tare.a;=x", ""],
)
def test_plaintext_line_refuses_unsafe_paths(path: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        plaintext_line(path, 1.0, 1)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_plaintext_line_refuses_non_finite_values(value: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        plaintext_line("tare.a", value, 1)


def test_plaintext_line_uses_integer_timestamps() -> None:
    assert plaintext_line("tare.a;run=r1", 2.5, 1_700_000_000.9) == "tare.a;run=r1 2.5 1700000000\n"  # type: ignore[arg-type]


def test_a_trailing_newline_is_never_kept() -> None:
    """``$`` matches before a final newline: every check is a full match (found by Hypothesis:
    the mode ``"0\\n"`` once went into a nightly path as it was)."""
    assert "\n" not in label("0\n") and label("0\n") != label("0")
    assert not is_safe_path("tare.a\n")
    assert "\n" not in tag_value("v\n")
