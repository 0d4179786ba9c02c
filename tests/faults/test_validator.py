"""The validator refuses what cannot work, naming the file and the key; every finding of the
review is one case here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tare.config import parse_campaign
from tare.configfile import ConfigError
from tests.conftest import ROOT, run_tare

GOOD = (ROOT / "examples" / "quickstart.toml").read_text()


def replaced(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            replaced("rates = [1000, 5000]", "rates = [1000000000000]"),
            "load.rates[0]: at most 100000",
        ),
        (replaced('carbon = "127.0.0.1:2003"', 'carbon = "127.0.0.1:99999"'), "graphite.carbon"),
        (replaced('carbon = "127.0.0.1:2003"', 'carbon = "127.0.0.1"'), "graphite.carbon"),
        (
            replaced('render_url = "http://127.0.0.1:8080"', 'render_url = "ftp://127.0.0.1/"'),
            "graphite.render_url",
        ),
        (replaced('prefix = "tare"', f'prefix = "{"p" * 10_000}"'), "graphite.prefix"),
        (replaced('output_dir = "../var/campaigns"', 'output_dir = "/etc"'), "output_dir"),
        (replaced('output_dir = "../var/campaigns"', 'output_dir = "/proc/x"'), "output_dir"),
        (replaced('output_dir = "../var/campaigns"', 'output_dir = ""'), "output_dir"),
        (replaced('output_dir = "../var/campaigns"', 'output_dir = "/"'), "output_dir"),
        (replaced("duration_s = 14", "duration_s = 7"), "load.duration_s: leaves 3 s"),
        (replaced("policy_size = [1000]", f'policy_size = ["{"x" * 65}"]'), "factors.policy_size"),
    ],
    ids=[
        "rate-1e12",
        "port-99999",
        "no-port",
        "ftp-url",
        "prefix-10k",
        "etc",
        "proc",
        "empty-dir",
        "root-dir",
        "steady-3s",
        "long-level",
    ],
)
def test_what_cannot_work_is_refused_naming_file_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_campaign(text, "c.toml", Path("c.toml"))
    assert any(line.startswith("c.toml: ") and expected in line for line in caught.value.lines())


def test_the_cli_gives_exit_3_and_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(replaced("rates = [1000, 5000]", "rates = [1000000000000]"))
    res = run_tare("plan", str(bad))
    assert res.code == 3
    assert res.err.startswith(f"{bad}: load.rates[0]: ") and "Traceback" not in res.err


def test_a_relative_output_dir_is_relative_to_the_campaign_file(tmp_path: Path) -> None:
    where = tmp_path / "conf" / "c.toml"
    where.parent.mkdir()
    text = replaced('output_dir = "../var/campaigns"', 'output_dir = "../../out"')
    here = os.getcwd()
    try:
        os.chdir("/")  # where the command runs must not matter
        campaign = parse_campaign(text, str(where), where)
    finally:
        os.chdir(here)
    assert campaign.output_dir == tmp_path.parent / "out"


def test_a_mistyped_alert_verb_is_answered_with_the_verb_not_an_internal_value(
    tmp_path: Path,
) -> None:
    res = run_tare("alerts", "resolve", "a1", "--state-dir", str(tmp_path))
    assert res.code == 2
    assert "No such command 'resolve'. Did you mean 'resolved'?" in res.err
    assert "AlertState" not in res.err
