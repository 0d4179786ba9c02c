"""docs/testing.md names every promise the service and lab tiers check: each of their tests is
listed there, and each test listed there exists (a renamed or dropped test fails here)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)")


def functions_in(folder: str) -> set[str]:
    found: set[str] = set()
    for path in sorted((ROOT / folder).glob("test_*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.add(f"{path.relative_to(ROOT).as_posix()}::{node.name}")
    return found


def test_every_real_server_test_is_listed_and_every_listed_test_exists() -> None:
    named = {f"{m.group(1)}::{m.group(2)}" for m in NAMED.finditer(DOC.read_text())}
    suite = functions_in("tests/integration") | functions_in("tests/faults")
    assert sorted(suite - named) == [], "tests missing from docs/testing.md"
    unit = functions_in("tests/unit")
    assert sorted(named - suite - unit) == [], "docs/testing.md names tests that do not exist"
