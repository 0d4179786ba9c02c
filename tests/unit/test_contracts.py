"""The contracts round-trip: every path type parses back to what formatted it, whatever the
labels; manifests, addresses and events survive their JSON form; bad values are refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.addresses import CarbonAddress, RenderUrl
from contracts.events import RunEvent
from contracts.labels import is_safe_path, label
from contracts.manifest import RunManifest
from contracts.paths import (
    CapacitySeries,
    NightlyKey,
    NightlySeries,
    NightlyStat,
    RunSeries,
    Source,
)
from contracts.states import RunState
from tests.records import manifest

labels = st.text(min_size=0, max_size=40)
prefixes = st.sampled_from(["tare", "a.b", "lab-1.tare_x"])
levels_value = st.one_of(st.integers(1, 10**6), st.text(min_size=1, max_size=20))


@given(prefixes, labels, labels, st.sampled_from(list(Source)), st.lists(labels, min_size=1))
def test_run_series_round_trip(
    prefix: str, run_id: str, host: str, source: Source, metric: list[str]
) -> None:
    s = RunSeries.of(prefix, run_id, host, source, *metric)
    path = s.format()
    assert is_safe_path(path)
    assert path.count(".") == prefix.count(".") + 4 + len(metric)
    assert RunSeries.parse(prefix, path) == s


@given(
    prefixes,
    labels,
    labels,
    st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), levels_value),
    st.sampled_from(list(NightlyStat)),
    labels,
    levels_value,
)
def test_nightly_series_round_trip(
    prefix: str,
    platform: str,
    campaign: str,
    factors: dict[str, object],
    stat: NightlyStat,
    mode: str,
    rate: object,
) -> None:
    factors = {k: v for k, v in factors.items() if k not in ("mode", "rate")}
    key = NightlyKey.of(platform, campaign, {"mode": mode, "rate": rate, **factors}, "cpu_cgroup")
    s = NightlySeries(prefix, key, stat.value)
    path = s.format()
    assert is_safe_path(path)
    assert NightlySeries.parse(prefix, path) == s
    assert len(key.factors) == len(factors)


@given(prefixes, labels, labels, labels, labels)
def test_capacity_series_round_trip(
    prefix: str, campaign: str, host: str, mode: str, metric: str
) -> None:
    s = CapacitySeries.of(prefix, campaign, host, mode, metric)
    assert CapacitySeries.parse(prefix, s.format()) == s


def test_paths_of_other_kinds_do_not_parse() -> None:
    assert NightlySeries.parse("tare", "tare.runs.r.h.tare.cgroup.cpu_pct") is None
    assert RunSeries.parse("tare", "tare.nightly.linux.c.idle.rate_1.k.overhead") is None
    assert RunSeries.parse("tare", "other.runs.r.h.tare.x") is None
    assert NightlySeries.parse("tare", "tare.nightly.linux.c.idle.5000.k.overhead") is None


def test_types_refuse_unsanitized_labels() -> None:
    with pytest.raises(ValueError, match="run_id"):
        RunSeries("tare", "a b", "h", "tare", "x")
    with pytest.raises(ValueError, match="metric"):
        RunSeries("tare", "r", "h", "tare", "x..y")
    with pytest.raises(ValueError, match="prefix"):
        RunSeries("ta re", "r", "h", "tare", "x")


@given(st.text(max_size=30))
def test_a_label_never_adds_a_line_a_level_or_a_tag(text: str) -> None:
    path = RunSeries.of("tare", text, text, Source.TARE, text).format()
    assert "\n" not in path and ";" not in path and " " not in path
    assert path.count(".") == 5


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [("127.0.0.1:2003", "127.0.0.1", 2003), ("[::1]:2004", "::1", 2004), ("carbon:1", "carbon", 1)],
)
def test_carbon_address_round_trip(text: str, host: str, port: int) -> None:
    a = CarbonAddress.parse(text)
    assert (a.host, a.port) == (host, port)
    assert CarbonAddress.parse(str(a)) == a


@pytest.mark.parametrize("text", ["127.0.0.1", "127.0.0.1:99999", ":2003", "h:0", "h:x", "a b:1"])
def test_bad_carbon_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        CarbonAddress.parse(text)


@pytest.mark.parametrize(
    "text", ["ftp://h", "http://", "h:8080", "http://h:99999", "http://h/?q=1", "http://h/#x"]
)
def test_bad_render_urls_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        RenderUrl.parse(text)


def test_render_url_loses_its_trailing_slash() -> None:
    assert str(RenderUrl.parse("https://graphite.example:8443/")) == "https://graphite.example:8443"


def test_manifest_round_trip_through_json() -> None:
    m = manifest("r1", (("mode", "enforced"), ("rate", 5000), ("policy_size", 1000)))
    assert RunManifest.from_json(json.loads(json.dumps(m.to_json()))) == m


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "manifest version 2"),
        ({"version": None}, "manifest version None"),
        ({"campaign": None}, "manifest"),
        ({"levels": {"rate": 1}}, "a run has a mode"),
        ({"levels": {"mode": True}}, "level True"),
    ],
)
def test_a_manifest_that_cannot_be_read_is_refused(change: dict[str, object], message: str) -> None:
    d = {**manifest("r1", (("mode", "idle"), ("rate", 1))).to_json(), **change}
    with pytest.raises(ValueError, match=message):
        RunManifest.from_json(d)


def test_run_event_round_trip() -> None:
    e = RunEvent(
        "r1", "quick start", "c1", (("mode", "idle"), ("rate", 1000)), RunState.DONE, None, 5
    )
    assert e.tags() == ["tare", "run", label("quick start"), "idle", "rate-1000", "done", "r1"]
    back = RunEvent.from_graphite({"what": e.what, "when": e.when, "data": e.data()})
    assert back == e


def test_run_states_know_which_are_finished() -> None:
    left_out = {RunState.INVALID, RunState.FAILED, RunState.DISTURBED, RunState.SKIPPED}
    assert {s for s in RunState if s.finished} == {RunState.DONE, *left_out}
    assert {s for s in RunState if s.not_valid} == left_out
