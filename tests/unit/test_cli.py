"""The command line as a subprocess: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT, run_tare


def test_validate_ok() -> None:
    res = run_tare("validate", str(ROOT / "examples" / "quickstart.toml"))
    assert res.code == 0, res.err
    assert "ok: campaign 'quickstart'" in res.out


def test_validate_json() -> None:
    res = run_tare("validate", str(ROOT / "examples" / "nightly.toml"), "--json")
    assert res.code == 0
    data = json.loads(res.out)
    assert data["valid"] is True
    assert data["factors"]["rate"] == [1000, 5000, 10000, 15000]
    assert data["factors"]["mode"] == ["baseline", "idle", "visibility", "enforced"]


def test_validate_bad_file_prints_one_line_per_problem_and_exits_3(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "quickstart.toml").read_text()
    text = text.replace("rates = [1000, 5000]", "rates = [1000, 5000, -3]\ncolour = 1")
    bad = tmp_path / "quickstart.toml"
    bad.write_text(text)
    res = run_tare("validate", str(bad))
    assert res.code == 3
    assert res.out == ""
    assert res.err.splitlines() == [
        f"{bad}: load.rates[2]: must be a positive integer",
        f"{bad}: load.colour: unknown key",
    ]
    assert "Traceback" not in res.err


def test_validate_bad_file_json_lists_problems(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text("[campaign]\n")
    res = run_tare("validate", str(bad), "--json")
    assert res.code == 3
    data = json.loads(res.out)
    assert data["valid"] is False
    assert f"{bad}: campaign.name: required key is missing" in data["problems"]


def test_missing_file_exits_3_without_traceback() -> None:
    res = run_tare("validate", "/nonexistent/c.toml")
    assert res.code == 3
    assert res.err.strip() == "/nonexistent/c.toml: no such file"


def test_debug_shows_the_traceback() -> None:
    res = run_tare("--debug", "validate", "/nonexistent/c.toml")
    assert res.code == 3
    assert "Traceback" in res.err


def test_usage_errors_exit_2() -> None:
    assert run_tare("no-such-verb").code == 2
    assert run_tare("validate").code == 2
    res = run_tare("stack", "status", "--web-port", "2003")
    assert res.code == 2
    assert "both use port 2003" in res.err


def test_version_and_help() -> None:
    res = run_tare("--version")
    assert res.code == 0 and "tare" in res.out
    res = run_tare("--help")
    assert res.code == 0
    for verb in ("validate", "stack"):
        assert verb in res.out


def test_stack_status_of_a_stopped_stack(tmp_path: Path) -> None:
    res = run_tare("stack", "status", "--state-dir", str(tmp_path), "--json")
    assert res.code == 0
    data = json.loads(res.out)
    assert data["running"] is False
    assert data["processes"]["carbon-cache"]["running"] is False


CRASH = """
import sys
import click
from tare import cli

@cli.cli.command("crash")
@click.option("--state-dir")
def crash(state_dir: str) -> None:
    raise ZeroDivisionError("a bug")

sys.exit(cli.main(sys.argv[1:]))
"""


def test_an_internal_error_exits_70_names_the_log_and_logs_the_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", CRASH, "crash", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    log = tmp_path / "log" / "tare.log"
    assert proc.returncode == 70, proc.stderr  # never 1, the code of "regression found"
    assert proc.stderr.strip() == f"tare: internal error, see {log}: ZeroDivisionError: a bug"
    text = log.read_text()
    assert "Traceback" in text and ", in crash" in text and text.endswith("a bug\n")


def test_every_verb_logs_to_the_state_directory(tmp_path: Path) -> None:
    res = run_tare(
        "validate", str(tmp_path / "missing.toml"), env={"TARE_STATE_DIR": str(tmp_path)}
    )
    assert res.code == 3
    assert (tmp_path / "log" / "tare.log").exists()
