"""The files the stack writes for carbon, graphite-web and collectd."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from collectors.collectd_conf import GraphiteTarget, HostConfig, quote, render_host_config
from contracts.labels import label
from tare.stack import graphite
from tare.stack.settings import resolve


def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return resolve(
        {},
        state_dir=tmp_path,
        graphite_venv=tmp_path / "venv",
        carbon_port=12003,
        pickle_port=12004,
        cache_query_port=17002,
        web_port=18080,
    )


def test_carbon_conf_has_our_ports_tags_and_no_create_limit(tmp_path: Path) -> None:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(graphite.render_carbon_conf(settings(tmp_path)))
    cache = parser["cache"]
    assert cache["LINE_RECEIVER_PORT"] == "12003"
    assert cache["PICKLE_RECEIVER_PORT"] == "12004"
    assert cache["CACHE_QUERY_PORT"] == "17002"
    assert cache["MAX_CREATES_PER_MINUTE"] == "inf"
    assert cache["ENABLE_TAGS"] == "True"
    # carbon sends tags to graphite-web through GRAPHITE_URL; a wrong URL drops tagged series
    assert cache["GRAPHITE_URL"] == "http://127.0.0.1:18080"
    assert cache["LOCAL_DATA_DIR"].startswith(str(tmp_path))


def test_storage_schemas_give_run_data_one_second_and_nightly_hourly() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(graphite.STORAGE_SCHEMAS)
    assert parser["default"]["retentions"].startswith("1s:")
    assert parser["tare_nightly"]["retentions"] == "1h:10y"
    assert list(parser.sections())[-1] == "default"


def test_web_settings_point_at_our_storage_and_cache(tmp_path: Path) -> None:
    text = graphite.render_web_settings(settings(tmp_path), "k'ey")
    scope: dict[str, object] = {}
    exec(compile(text, "settings", "exec"), scope)
    assert scope["SECRET_KEY"] == "k'ey"
    assert scope["CARBONLINK_HOSTS"] == ["127.0.0.1:17002"]
    assert str(scope["WHISPER_DIR"]).startswith(str(tmp_path))


def test_collectd_quote_escapes_and_refuses_newlines() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(ValueError, match="one line"):
        quote("a\nLoadPlugin exec")


def test_collectd_host_config(tmp_path: Path) -> None:
    text = render_host_config(
        HostConfig(
            hostname="my host.example",
            interval_s=1,
            base_dir=tmp_path,
            log_file=tmp_path / "c.log",
            target=GraphiteTarget("127.0.0.1", 12003, "tare.hosts."),
            interfaces=("veth0",),
        )
    )
    assert f'Hostname "{label("my host.example")}"' in text
    assert 'Port "12003"' in text
    assert "StoreRates true" in text
    assert 'Interface "veth0"' in text
    assert "Interval 1\n" in text


def test_docker_compose_graphite_uses_the_same_retention() -> None:
    from tests.conftest import ROOT

    docker = ROOT / "docker" / "graphite"
    assert (docker / "storage-schemas.conf").read_text() == graphite.STORAGE_SCHEMAS
    assert (docker / "storage-aggregation.conf").read_text() == graphite.STORAGE_AGGREGATION
    compose = (ROOT / "docker-compose.yml").read_text()
    assert (
        "./docker/graphite/storage-schemas.conf:/opt/graphite/conf/storage-schemas.conf" in compose
    )
