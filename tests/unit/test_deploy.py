"""The deploy files call tare as documented: systemd checks the units (with the checkout in
place of /opt/tare), the Jenkinsfile and compose run `tare nightly`/`tare schedule` with gating
and the JUnit file, and every tare command they name exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_tare

DEPLOY = ROOT / "deploy"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    for name in ("tare-scheduler.service", "tare-nightly.service", "tare-nightly.timer"):
        text = (DEPLOY / name).read_text().replace("/opt/tare", str(ROOT))
        (tmp_path / name).write_text(text)
    proc = subprocess.run(
        ["systemd-analyze", "verify", *(str(p) for p in sorted(tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def tare_commands(text: str) -> list[list[str]]:
    return [m.split() for m in re.findall(r"tare (?:nightly|schedule) [^\n\"']+", text)]


def test_every_deploy_file_runs_a_gated_night_with_a_junit_file() -> None:
    files = [
        DEPLOY / "tare-scheduler.service",
        DEPLOY / "tare-nightly.service",
        DEPLOY / "Jenkinsfile",
        DEPLOY / "Jenkinsfile.labs",
        ROOT / "Dockerfile",
    ]
    for path in files:
        text = path.read_text()
        assert "--fail-on-regression" in text and "--junit" in text, path
    jenkins = (DEPLOY / "Jenkinsfile").read_text()
    assert "junit " in jenkins and "archiveArtifacts" in jenkins and "report.html" in jenkins
    for words in tare_commands((DEPLOY / "tare-nightly.service").read_text()):
        config = ROOT / words[2]
        assert config.exists(), words
    res = run_tare("nightly", "--help")
    assert res.code == 0 and "--fail-on-regression" in res.out and "--junit" in res.out
    res = run_tare("schedule", "--help")
    assert res.code == 0 and "--fail-on-regression" in res.out


def test_compose_has_the_scheduler() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"^  tare:\n    build: \.\n", compose, re.M)
    assert "stop_grace_period: 5m" in compose
    assert '"schedule", "examples/nightly.toml"' in (ROOT / "Dockerfile").read_text()


def test_the_labs_matrix_runs_several_campaigns_per_platform_on_a_cluster() -> None:
    text = (DEPLOY / "Jenkinsfile.labs").read_text()
    assert "axis { name 'PLATFORM'" in text
    assert "tare nightly labs/${PLATFORM}/*.toml" in text  # several campaigns, one night
    assert "junit-${PLATFORM}-*.xml" in text  # one JUnit file per campaign
    assert "tare stack up --settings deploy/stack.toml" in text
    from tare.stack.settings import resolve

    s = resolve({}, state_dir=ROOT / "var", settings_file=DEPLOY / "stack.toml")
    assert s.caches == 2 and s.listen == "0.0.0.0"


@pytest.mark.parametrize(("name", "out"), [("Jenkinsfile", "night"), ("Jenkinsfile.labs", "labs")])
def test_the_night_step_of_each_jenkinsfile_runs_in_an_empty_workspace(
    tmp_path: Path, name: str, out: str
) -> None:
    """The night's shell step, as Jenkins runs it, in a fresh workspace, with a stub tare that
    ends as a clean night does: it must not fail before tare (a missing folder for its output
    was exit 1, which the pipeline reports as a regression)."""
    text = (DEPLOY / name).read_text()
    found = re.search(r'script: "([^"]*)" \+\s*\n\s*"([^"]*)"', text)
    assert found is not None, name
    step = (found.group(1) + found.group(2)).replace("${PLATFORM}", "linux")
    stub = tmp_path / ".venv" / "bin" / "tare"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\necho '{\"exit\": 0}'\n")
    stub.chmod(0o755)
    proc = subprocess.run(
        ["sh", "-c", step], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "var" / "nightly" / f"{out}-linux.json").read_text() == '{"exit": 0}\n'
