"""The report's numbers, axes and page: rounded to their uncertainty, nights as dates, axes that
fit the data, the verdict first; opened in headless Chromium (tests/browser.py)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import matplotlib.image
import pytest

from contracts.manifest import levels_of
from pipeline import report as rp
from pipeline import report_text as fmt
from pipeline.analysis import Overhead
from pipeline.stats import Comparison
from tests.browser import LAPTOP, open_page


@pytest.mark.parametrize(
    ("value", "low", "high", "unit", "text"),
    [
        (1.23456, 0.4012, 2.0678, "pp", "+1.23 [+0.40, +2.07] pp"),
        (64.2013, 63.6421, 64.7519, "MB", "+64.20 [+63.64, +64.75] MB"),
        (-0.0312, -0.0751, 0.0127, "%", "-0.031 [-0.075, +0.013] %"),
        (1234.5, 1000.0, 1469.0, "", "+1234 [+1000, +1469]"),
        (2.5, None, None, "pp", "+2.50 pp (no interval)"),
    ],
)
def test_a_number_is_rounded_to_its_interval(
    value: float, low: float | None, high: float | None, unit: str, text: str
) -> None:
    assert fmt.with_ci(value, low, high, unit) == text


def test_pvalues_dates_and_rates_read_as_people_write_them() -> None:
    assert fmt.pvalue(4.685e-13) == "< 0.001"
    assert fmt.pvalue(0.0312) == "0.031" and fmt.pvalue(0.4567) == "0.46"
    assert fmt.pvalue(float("nan")) == "-"
    assert fmt.night(1796083200) == "2026-12-01"
    assert [fmt.rate(r) for r in (1000, 5000, 15000, 1500, 800)] == [
        "1K/s",
        "5K/s",
        "15K/s",
        "1.5K/s",
        "800/s",
    ]
    assert fmt.number(0.000123) == "0.000123" and fmt.number(12345.6) == "12346"


def _overhead(mode: str, rate: int, kpi: str, delta: float, half: float, p: float) -> Overhead:
    comp = Comparison(delta, delta - half, delta + half, p, half * 1.4, 3, 3, "welch")
    cell = levels_of({"mode": mode, "rate": rate, "policy_size": 1000})
    base = levels_of({"mode": "baseline", "rate": rate, "policy_size": 1000})
    unit = "MB" if kpi.startswith("mem") else "pp of a core"
    return Overhead(
        cell, base, kpi, unit, 10, 10 + delta, comp, None, None, p, p < 0.01, comp.mde, "welch"
    )


def _relative(mode: str, rate: int) -> Overhead:
    cell = levels_of({"mode": mode, "rate": rate, "policy_size": 1000})
    base = levels_of({"mode": "baseline", "rate": rate, "policy_size": 1000})
    return Overhead(
        cell, base, "conn_rate", "%", 1000, 999, None, -0.1, (-0.3, 0.1), 0.3, False, 0.4, "welch"
    )


OVERHEADS = [
    _overhead("enforced", 1000, "cpu_cgroup", 2.345678, 0.81234, 4.685e-13),
    _overhead("enforced", 5000, "cpu_cgroup", 6.5, 1.9, 0.002),
    _overhead("idle", 1000, "cpu_cgroup", 0.12, 0.9, 0.7),
    _overhead("enforced", 1000, "mem_cgroup", -3.2, 0.5, 0.0001),
    _overhead("enforced", 5000, "mem_cgroup", 40.0, 1.0, 0.0001),
    _overhead("idle", 1000, "mem_cgroup", 0.1, 0.4, 0.6),
    _relative("enforced", 1000),
    _relative("enforced", 5000),
]


def test_the_summary_says_the_verdict_per_cell_rounded() -> None:
    html = rp.summary_section(OVERHEADS)
    assert html.index("idle 1K/s") < html.index("enforced 1K/s") < html.index("enforced 5K/s")
    assert "+2.35 [+1.53, +3.16] pp of a core (cost; MDE 1.14)" in html
    assert "(cheaper: check" in html  # memory went down at enforced 1K/s: suspect, not praise
    assert 'class="gain"' in html and 'class="cost"' in html
    assert "-0.10 [-0.30, +0.10] % (no change" in html
    assert "e-13" not in html


def _decode(b64: str) -> object:
    return matplotlib.image.imread(io.BytesIO(base64.b64decode(b64)))


def test_axes_fit_the_data() -> None:
    section = rp.overhead_section(OVERHEADS, "cpu_cgroup", "overhead-cpu_cgroup")
    assert '<td data-value="5000">5K/s</td>' in section
    trend = [rp.TrendPoint("enforced rate=1000", "cpu_cgroup", 1796083200, 2.3, 1.5, 3.1)]
    text = rp.trend_section(trend, "cpu_cgroup", "pp of a core", "trend-cpu_cgroup")
    assert '<td data-value="1796083200">2026-12-01</td>' in text  # a night is a date
    assert "1796083200<" not in text


def test_the_page_loads_in_chromium_without_errors(tmp_path: Path) -> None:
    trend = [
        rp.TrendPoint("enforced rate=1000", "cpu_cgroup", 1796083200 + d * 86400, 2 + d / 10, 1, 3)
        for d in range(5)
    ]
    sections = [
        ("cpu_cgroup", rp.overhead_section(OVERHEADS, "cpu_cgroup", "overhead-cpu_cgroup")),
        ("conn_rate", rp.overhead_section(OVERHEADS, "conn_rate", "overhead-conn_rate")),
        ("trend", rp.trend_section(trend, "cpu_cgroup", "pp of a core", "trend-cpu_cgroup")),
    ]
    summary = rp.summary_section(OVERHEADS) + rp.facts_section({"night": "2026-12-01"}, {})
    page = tmp_path / "report.html"
    page.write_text(rp.page("tare report: t", "sub", summary, sections))
    opened = open_page(page, tmp_path / "browser")
    assert opened.errors == [] and opened.undecoded == []
    assert opened.images == 3 and all(w > 300 and h > 100 for _, w, h in opened.sizes)
    assert opened.width <= LAPTOP[0]  # nothing wider than a laptop's window
    shot = matplotlib.image.imread(opened.screenshot)
    assert shot.shape[1] == LAPTOP[0] and float(shot.std()) > 0.01
    for b64 in re.findall(r'src="data:image/png;base64,([^"]+)"', page.read_text()):
        assert float(_decode(b64).std()) > 0.01  # type: ignore[attr-defined]


def test_the_report_lists_each_hosts_settings_and_whose_they_are() -> None:
    from contracts.manifest import LabFacts
    from pipeline.reporting import host_settings

    lab = LabFacts(
        "lab1",
        "namespaces",
        (
            ("workload:net.netfilter.nf_conntrack_tcp_timeout_time_wait", "120"),
            ("workload:net.core.somaxconn", "8192"),
            ("workload:rps_cpus", "2"),
            ("load:net.ipv4.tcp_tw_reuse", "1"),
        ),
        workload_cpus="1",
        load_cpus="0",
        set_by_lab=("workload:net.core.somaxconn", "load:net.ipv4.tcp_tw_reuse"),
    )
    assert host_settings(lab) == [
        "workload:cores = 1 (pinned by the lab)",
        "load:cores = 0 (pinned by the lab)",
        "workload:net.netfilter.nf_conntrack_tcp_timeout_time_wait = 120 (the host's own)",
        "workload:net.core.somaxconn = 8192 (set by the lab)",
        "load:net.ipv4.tcp_tw_reuse = 1 (set by the lab)",
    ]
    assert host_settings(None) == []
