"""The [alerts] table, in a campaign file or an alerts file of its own."""

from __future__ import annotations

from pathlib import Path

from tare.config import load_campaign
from tests.conftest import ROOT, run_tare


def test_the_examples_load() -> None:
    section = load_campaign(ROOT / "examples" / "nightly.toml").spec.alerts
    assert section.confirm_nights == 2
    assert [(t.kpi, t.limit, t.rate) for t in section.thresholds] == [("cpu_cgroup", 3.0, 10000)]


def test_an_alerts_file_error_names_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "alerts.toml"
    bad.write_text('[alerts]\nconfirm_nights = 0\n[[alerts.thresholds]]\nkpi = "cpu"\nlimit = 1\n')
    res = run_tare("alert", "--rules", str(bad), "--dry-run", "--render-url", "http://127.0.0.1:9")
    assert res.code == 3
    lines = res.err.strip().splitlines()
    assert lines[0].startswith(f"{bad}: alerts.confirm_nights: ")
    assert lines[1].startswith(f"{bad}: alerts.thresholds[0].kpi: ")
    assert "unknown KPI 'cpu'" in lines[1]
