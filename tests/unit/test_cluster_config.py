"""The cluster's topology as files: the relay's config, carbon's instances, graphite-web's view,
and the settings that choose it."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from contracts.errors import UsageError
from tare.configfile import ConfigError
from tare.stack import cluster, graphite
from tare.stack.control import process_order
from tare.stack.settings import StackSettings, resolve


def two(tmp_path: Path, **kw: int) -> StackSettings:
    ports = {
        "carbon_port": 12003,
        "pickle_port": 12004,
        "cache_query_port": 17002,
        "web_port": 18080,
        **kw,
    }
    return resolve({}, state_dir=tmp_path, graphite_venv=tmp_path / "v", caches=2, **ports)


def test_caches_take_carbons_multi_instance_ports(tmp_path: Path) -> None:
    a, b = cluster.caches(two(tmp_path))
    assert (a.instance, a.line_port, a.pickle_port, a.query_port) == ("a", 12103, 12104, 17002)
    assert (b.instance, b.line_port, b.pickle_port, b.query_port) == ("b", 12203, 12204, 17102)
    # cache a keeps the single cache's directory, so a stack grown into a cluster keeps its data
    assert a.whisper_dir == tmp_path / "graphite" / "storage" / "whisper"
    assert b.whisper_dir == tmp_path / "graphite" / "storage" / "whisper-b"


def test_one_cache_is_the_stack_as_before(tmp_path: Path) -> None:
    s = resolve({}, state_dir=tmp_path, graphite_venv=tmp_path / "v")
    (only,) = cluster.caches(s)
    assert (only.line_port, only.query_port) == (2003, 7002)
    assert process_order(1) == ("carbon-cache", "graphite-web", "collectd")
    assert "[cache:" not in graphite.render_carbon_conf(s)
    assert [spec.name for spec in graphite.carbon_specs(s)] == ["carbon-cache"]


def test_relay_conf_hashes_over_every_cache_by_instance(tmp_path: Path) -> None:
    text = cluster.render_relay_conf(two(tmp_path))
    assert "127.0.0.1:12003 proto tcp" in text  # the relay takes the writers' port
    assert "carbon_ch replication 1" in text
    assert "127.0.0.1:12103=a" in text and "127.0.0.1:12203=b" in text
    assert "match *\n    send to tare\n    stop" in text


def test_carbon_conf_gives_each_instance_its_ports_and_directory(tmp_path: Path) -> None:
    s = two(tmp_path)
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(graphite.render_carbon_conf(s))
    assert parser["cache:b"]["LINE_RECEIVER_PORT"] == "12203"
    assert parser["cache:b"]["CACHE_QUERY_PORT"] == "17102"
    assert parser["cache:b"]["LOCAL_DATA_DIR"].endswith("whisper-b/")
    specs = graphite.carbon_specs(s)
    assert [sp.name for sp in specs] == ["carbon-cache-a", "carbon-cache-b"]
    assert "--instance=b" in specs[1].argv
    assert process_order(2) == (
        "carbon-cache-a",
        "carbon-cache-b",
        "carbon-relay",
        "graphite-web",
        "collectd",
    )


def test_graphite_web_reads_every_cache_and_hashes_like_the_relay(tmp_path: Path) -> None:
    s = two(tmp_path)
    (tmp_path / "graphite" / "storage" / "whisper-c").mkdir(parents=True)  # left by 3 caches
    scope: dict[str, object] = {}
    exec(compile(graphite.render_web_settings(s, "k"), "settings", "exec"), scope)
    assert scope["CARBONLINK_HOSTS"] == ["127.0.0.1:17002:a", "127.0.0.1:17102:b"]
    assert scope["CARBONLINK_HASHING_TYPE"] == "carbon_ch"
    dirs = [Path(str(d)).name for d in scope["STANDARD_DIRS"]]  # type: ignore[attr-defined]
    assert dirs == ["whisper", "whisper-b", "whisper-c"]


@pytest.mark.parametrize(
    ("caches", "ports", "needle"),
    [
        (2, {"web_port": 2103}, "cache a line and graphite-web both use port 2103"),
        (16, {"carbon_port": 64000}, "out of range"),
        (2, {"cache_query_port": 2104}, "cache a query and cache a pickle both use port 2104"),
    ],
)
def test_clashing_derived_ports_are_refused_naming_both(
    tmp_path: Path, caches: int, ports: dict[str, int], needle: str
) -> None:
    s = resolve({}, state_dir=tmp_path, graphite_venv=tmp_path, caches=caches, **ports)
    with pytest.raises(UsageError, match=needle):
        cluster.validate(s)


def test_cache_count_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="caches = 0: must be between 1 and 16"):
        resolve({}, state_dir=tmp_path, caches=0)
    with pytest.raises(UsageError, match="TARE_CACHES='two' is not a cache count"):
        resolve({"TARE_CACHES": "two"}, state_dir=tmp_path)


def test_settings_file_sits_between_environment_and_defaults(tmp_path: Path) -> None:
    f = tmp_path / "tare.toml"
    f.write_text("[stack]\ncaches = 3\nweb_port = 18081\n")
    s = resolve({}, state_dir=tmp_path, settings_file=f)
    assert (s.caches, s.web_port, s.carbon_port) == (3, 18081, 2003)
    s = resolve({"TARE_CACHES": "2", "TARE_SETTINGS": str(f)}, state_dir=tmp_path)
    assert (s.caches, s.web_port) == (2, 18081)
    s = resolve({"TARE_CACHES": "2"}, state_dir=tmp_path, settings_file=f, caches=4)
    assert s.caches == 4


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[stack]\ncaches = 0\n", "stack.caches: must be >= 1"),
        ("[stack]\ncache = 2\n", "stack.cache: unknown key"),
        ("[stack]\ncollectd = 'maybe'\n", "stack.collectd: must be one of"),
        ("[stak]\n", "stak: unknown key"),
    ],
)
def test_bad_settings_file_names_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "tare.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=needle) as err:
        resolve({}, state_dir=tmp_path, settings_file=f)
    assert str(f) in str(err.value)


def test_only_the_relay_listens_where_other_hosts_reach_it(tmp_path: Path) -> None:
    s = resolve({}, state_dir=tmp_path, graphite_venv=tmp_path, caches=2, listen="10.0.0.1")
    assert "10.0.0.1:2003 proto tcp" in cluster.render_relay_conf(s)
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(graphite.render_carbon_conf(s))
    assert parser["cache"]["LINE_RECEIVER_INTERFACE"] == "127.0.0.1"  # the caches stay local
    assert str(s.carbon) == "10.0.0.1:2003"
    one = resolve({}, state_dir=tmp_path, graphite_venv=tmp_path, listen="0.0.0.0")
    parser.read_string(graphite.render_carbon_conf(one))
    assert parser["cache"]["LINE_RECEIVER_INTERFACE"] == "0.0.0.0"
    assert str(one.carbon) == "127.0.0.1:2003"  # a wildcard is reached here on loopback
    with pytest.raises(UsageError, match="'here' is not an IP address"):
        resolve({}, state_dir=tmp_path, listen="here")
