"""Stack settings: options win over environment variables, which win over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.errors import UsageError
from tare.stack.settings import resolve


def test_defaults() -> None:
    s = resolve({"HOME": "/home/u"})
    assert s.state_dir == Path("var").absolute()
    assert s.graphite_venv == Path("/home/u/.local/share/tare/graphite-venv")
    assert (s.carbon_port, s.pickle_port, s.cache_query_port, s.web_port) == (
        2003,
        2004,
        7002,
        8080,
    )
    assert s.render_url == "http://127.0.0.1:8080"
    assert str(s.carbon) == "127.0.0.1:2003"
    assert s.collectd == "auto"


def test_environment_then_options() -> None:
    env = {"TARE_STATE_DIR": "/srv/tare", "TARE_WEB_PORT": "9000", "TARE_COLLECTD": "off"}
    s = resolve(env)
    assert s.state_dir == Path("/srv/tare")
    assert s.web_port == 9000
    assert s.collectd == "off"
    s = resolve(env, state_dir=Path("/tmp/x"), web_port=9100, collectd="on")
    assert (s.state_dir, s.web_port, s.collectd) == (Path("/tmp/x"), 9100, "on")


def test_bad_environment_port() -> None:
    with pytest.raises(UsageError, match="TARE_CARBON_PORT='x' is not a port number"):
        resolve({"TARE_CARBON_PORT": "x"})


def test_port_clash_and_range() -> None:
    with pytest.raises(UsageError, match="both use port 2003"):
        resolve({}, web_port=2003)
    with pytest.raises(UsageError, match="out of range"):
        resolve({}, carbon_port=70000)


def test_bad_collectd_choice() -> None:
    with pytest.raises(UsageError, match="TARE_COLLECTD='maybe'"):
        resolve({"TARE_COLLECTD": "maybe"})
