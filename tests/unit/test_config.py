"""Campaign files: the shipped examples load, and every kind of bad file gives one clear line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tare.config import load_campaign, parse_campaign, program
from tare.configfile import ConfigError, format_loc
from tests.conftest import ROOT

GOOD = (ROOT / "examples" / "quickstart.toml").read_text()


def problems(text: str, label: str = "c.toml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_campaign(text, label)
    return info.value.lines()


def replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize("name", ["quickstart.toml", "nightly.toml"])
def test_shipped_examples_are_valid(name: str) -> None:
    campaign = load_campaign(ROOT / "examples" / name)
    levels = campaign.factor_levels()
    assert levels["mode"][0] == "baseline"
    assert set(levels["mode"][1:]) == {"idle", "visibility", "enforced"}


def test_nightly_is_the_published_matrix() -> None:
    spec = load_campaign(ROOT / "examples" / "nightly.toml").spec
    assert spec.load.rates == [1000, 5000, 10000, 15000]
    # adaptive rounds of short runs until every judged CI is within target (docs/nightly.md)
    assert spec.load.duration_s == 30 and spec.design.adaptive and spec.design.interleave
    assert (spec.design.min_repeats, spec.design.max_repeats) == (4, 12)
    assert spec.design.repeats >= 3  # the fixed design tare plan compares it with
    # the other loads a workload sees, and the agent's policy updates, varied alone
    assert spec.load.profile == ["connections", "requests", "throughput"]
    assert spec.factors["policy_updates_per_min"] == [0, 6, 60]
    assert spec.design.reference["profile"] == "connections"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            replace("rates = [1000, 5000]", "rates = [1000, 5000, -3]"),
            "c.toml: load.rates[2]: must be a positive integer",
        ),
        (
            replace("rates = [1000, 5000]", "rates = [1000, 1000]"),
            "c.toml: load.rates: duplicate entry 1000",
        ),
        (replace("rates = [1000, 5000]", "rates = []"), "c.toml: load.rates: must not be empty"),
        (
            replace("rates = [1000, 5000]", 'rates = ["fast"]'),
            "c.toml: load.rates[0]: must be an integer, not 'fast'",
        ),
        (
            replace("rates = [1000, 5000]", "rates = [1000.5]"),
            "c.toml: load.rates[0]: must be an integer, not 1000.5",
        ),
        (
            replace("duration_s = 14", 'duration_s = "14"'),
            "c.toml: load.duration_s: must be an integer, not '14'",
        ),
        (replace('tool = "h2load"', 'tool = "ab"'), "c.toml: load.tool: must be one of"),
        (
            replace("repeats = 3", "repeats = 0"),
            "c.toml: design.repeats: must be a positive integer",
        ),
        (
            replace("interleave = true", 'interleave = "yes"'),
            "c.toml: design.interleave: must be true or false",
        ),
        (replace('kind = "full"', 'kind = "random"'), "c.toml: design.kind: must be one of"),
        (replace("[load]", "[load]\nrate = 5"), "c.toml: load.rate: unknown key"),
        (GOOD + "\n[alerting]\nx = 1\n", "c.toml: alerting: unknown key"),
        (
            replace('name = "quickstart"', 'name = "quick start; x"'),
            "c.toml: campaign.name: must be",
        ),
        (replace("port = 8080", "port = 0"), "c.toml: workload.port: must be a positive integer"),
        (
            replace('platform = "linux"', 'platform = "windows"'),
            "c.toml: campaign.platform: no runner drives a Windows host yet; the transport and "
            "profile that exist, and what is missing, are in docs/windows.md",
        ),
        (
            replace("min_achieved_ratio = 0.98", "min_achieved_ratio = -0.5"),
            "c.toml: load.min_achieved_ratio: must be > 0",
        ),
        (replace("port = 8080", "port = 70000"), "c.toml: workload.port: must be < 65536"),
        (replace('path = "/"', 'path = "no-slash"'), "c.toml: workload.path:"),
        (
            replace('modes = ["idle", "visibility", "enforced"]', "modes = []"),
            "c.toml: agent.modes: must not be empty",
        ),
        (
            replace('modes = ["idle", "visibility", "enforced"]', 'modes = ["idle", "baseline"]'),
            "c.toml: agent.modes: 'baseline' is implicit",
        ),
        (
            replace('uninstall = ["tare-refagent"', 'uninstall = [" "'),
            "c.toml: agent.uninstall: first element (the program) must not be blank",
        ),
        (
            replace(
                'stop = ["tare-refagent", "stop", "--state-dir", "{lab_dir}/refagent"]', "stop = []"
            ),
            "c.toml: agent.stop: must be a non-empty list of strings (argv)",
        ),
        (
            replace('health = ["tare-refagent", "status"', 'health = ["tare-refagent", "{typo}"'),
            "c.toml: agent.health: unknown placeholder {typo}",
        ),
        (
            replace('"mode", "{mode}"', '"mode", "x"'),
            "c.toml: agent.set_mode: must contain the placeholder {mode}",
        ),
        (
            replace('"--allow", "{load_net}"', '"--allow", "{load_addr}"'),
            "c.toml: agent: {load_addr} is one address, but in a namespaces lab the load's "
            "connections come from lab.clients = 254 addresses: allow {load_net} (the network "
            "they come from), or set lab.clients = 1",
        ),
        (
            "[lab]\nclients = 255\n\n" + GOOD,
            "c.toml: lab.clients: must be <= 254",
        ),
        (
            replace("[workload]\n", "[workload]\ncpus = 0\n"),
            "c.toml: workload.cpus: must be >= 1",
        ),
        (
            replace("duration_s = 14", "duration_s = 4"),
            "c.toml: load.duration_s: leaves 0 s of steady window after warmup_s + cooldown_s; "
            "a run needs at least 10 s",
        ),
        (
            replace("run_timeout_s = 120", "run_timeout_s = 10"),
            "c.toml: load.run_timeout_s: must exceed load.duration_s",
        ),
        (
            replace("policy_size = [1000]", "policy_size = []"),
            "c.toml: factors.policy_size: must not be empty",
        ),
        (
            replace("policy_size = [1000]", "policy_size = [true]"),
            "c.toml: factors.policy_size[0]: each level must be",
        ),
        (replace("policy_size = [1000]", "rate = [1]"), "c.toml: factors.rate: 'rate' is built in"),
        (
            replace("policy_size = [1000]", "Policy-Size = [1]"),
            "c.toml: factors.Policy-Size: factor names are lower-case",
        ),
        (
            replace("interleave = true", "interleave = true\nreference = { speed = 1 }"),
            "c.toml: design.reference.speed: unknown factor",
        ),
        (
            replace("interleave = true", "interleave = true\nreference = { rate = 777 }"),
            "c.toml: design.reference.rate: 777 is not one of the levels [1000, 5000]",
        ),
        (
            replace("interleave = true", 'interleave = true\ncrossed = ["mode", "speed"]'),
            "c.toml: design.crossed[1]: unknown factor",
        ),
        (
            replace("interleave = true", "interleave = true\ntarget_ci = { mem_available = 1 }"),
            "c.toml: design.target_ci.mem_available: not a judged KPI (judged: cpu_cgroup,",
        ),
        (
            replace("interleave = true", "interleave = true\nmin_repeats = 6\nmax_repeats = 4"),
            "c.toml: design.max_repeats: must be at least design.min_repeats",
        ),
        (
            replace("interleave = true", "interleave = false\nadaptive = true"),
            "c.toml: design.interleave: an adaptive design runs interleaved rounds",
        ),
        (
            replace('collector = "sampler"', 'collector = "statsd"'),
            "c.toml: collect.collector: "
            "must be one of 'sampler', 'collectd' or 'auto', not 'statsd'",
        ),
        (
            replace('collector = "sampler"', 'compare_prefix = "tare"'),
            "c.toml: collect.compare_prefix: must differ from graphite.prefix",
        ),
        (replace('name = "quickstart"', 'name = "quick\\n"'), "c.toml: campaign.name: must be"),
        (
            replace('collector = "sampler"', "max_missing_s = -1"),
            "c.toml: collect.max_missing_s: ",
        ),
        ("load = 3\n" + replace("[load]", "[loadx]"), "c.toml: load: must be a table"),
        ("[campaign]\nname = 'x'\n", "c.toml: workload: required key is missing"),
        ("x = 1\n", "c.toml: x: unknown key"),
        ("[load\nrates = 1", "c.toml: not valid TOML"),
        ("a = 1\na = 2\n", "c.toml: not valid TOML"),
    ],
)
def test_bad_campaigns_name_file_and_key(text: str, expected: str) -> None:
    lines = problems(text)
    assert any(line.startswith(expected) for line in lines), lines
    assert all(line.startswith("c.toml: ") and "\n" not in line for line in lines)


def test_every_problem_is_reported_at_once() -> None:
    text = replace("rates = [1000, 5000]", "rates = [-1, 0]\nbogus = 1")
    lines = problems(text)
    assert "c.toml: load.rates[0]: must be a positive integer" in lines
    assert "c.toml: load.rates[1]: must be a positive integer" in lines
    assert "c.toml: load.bogus: unknown key" in lines


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file"):
        load_campaign(tmp_path / "nope.toml")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_campaign(tmp_path)


def test_empty_and_blank_files(tmp_path: Path) -> None:
    for content in ("", "\n  \n"):
        path = tmp_path / "e.toml"
        path.write_text(content)
        with pytest.raises(ConfigError, match=r"e\.toml: file is empty"):
            load_campaign(path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    with pytest.raises(ConfigError, match=r"b\.toml: binary content"):
        load_campaign(path)


def test_latin1_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "l.toml"
    path.write_bytes(b'[campaign]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"l\.toml: line 2: not UTF-8 text"):
        load_campaign(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "u.toml"
    path.write_text(GOOD)
    path.chmod(0)
    with pytest.raises(ConfigError, match="permission denied"):
        load_campaign(path)


def test_format_loc() -> None:
    assert format_loc(("load", "rates", 2)) == "load.rates[2]"
    assert format_loc(("factors", "policy_size", 0)) == "factors.policy_size[0]"
    assert format_loc(()) == ""


def test_campaign_objects_are_frozen() -> None:
    spec = parse_campaign(GOOD, "c.toml").spec
    with pytest.raises(ValueError, match="frozen"):
        spec.load.rates = [1]  # type: ignore[misc]


def test_load_profiles_become_a_factor_that_changes_a_baseline() -> None:
    from tare.run import design

    text = replace(
        "rates = [1000, 5000]", 'rates = [1000]\nprofile = ["connections", "throughput"]'
    )
    campaign = parse_campaign(text, "c.toml")
    levels = campaign.factor_levels()
    assert list(levels)[:3] == ["mode", "rate", "profile"]
    assert levels["profile"] == ["connections", "throughput"]
    assert "profile" in design(campaign).baseline_factors
    single = parse_campaign(
        replace("rates = [1000, 5000]", 'rates = [1000]\nprofile = "requests"'), "c.toml"
    )
    assert single.factor_levels()["profile"] == ["requests"]
    assert "profile" not in parse_campaign(GOOD, "c.toml").factor_levels()  # paths unchanged


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        (
            'profile = ["connections", "throughput"]',  # the quick start crosses everything
            "c.toml: load.profile: the throughput profile has its own target",
        ),
        ('profile = ["bulk"]', "c.toml: load.profile"),
        (
            'profile = "requests"\ntool = "httperf"',
            "c.toml: load.tool: the requests and throughput profiles need h2load",
        ),
        (
            'profile = "throughput"',
            "c.toml: load.throughput.body_kib: 1 Mbit/s is less than one 1048576 KiB body",
        ),
        ("max_error_pct = 11", "c.toml: load.max_error_pct"),
    ],
)
def test_bad_profiles_name_the_key(load: str, expected: str) -> None:
    text = GOOD.replace('tool = "h2load"\n', "", 1)
    key = load.split(" = ", 1)[0]
    text = re.sub(rf"^{key} = .*\n", "", text, flags=re.M)  # the example may set it already
    text = text.replace("rates = [1000, 5000]", f"rates = [1000, 5000]\n{load}", 1)
    if "throughput" in load and "[" not in load:
        text += "\n[load.throughput]\nmbit_per_s = 1\nbody_kib = 1048576\n"
    assert any(line.startswith(expected) for line in problems(text)), problems(text)


def test_profile_is_a_built_in_factor_name() -> None:
    text = replace("policy_size = [1000]", "policy_size = [1000]\nprofile = [1, 2]")
    assert "c.toml: factors.profile: 'profile' is built in" in problems(text)[0]


def test_the_disturbance_limit_can_be_off_and_nothing_else() -> None:
    """A number is the limit; "off" is none (measured and recorded, never a reason to leave a
    run out); any other word, or a number out of range, names the key."""
    assert parse_campaign(GOOD, "c.toml").spec.load.max_disturbance_pct == 5.0
    off = replace("[load]\n", '[load]\nmax_disturbance_pct = "off"\n')
    assert parse_campaign(off, "c.toml").spec.load.max_disturbance_pct is None
    ten = replace("[load]\n", "[load]\nmax_disturbance_pct = 10\n")
    assert parse_campaign(ten, "c.toml").spec.load.max_disturbance_pct == 10.0
    for bad in ('"none"', "0", "201"):
        found = problems(replace("[load]\n", f"[load]\nmax_disturbance_pct = {bad}\n"))
        assert found and all("load.max_disturbance_pct" in line for line in found), found


def test_the_workload_host_keeps_its_settings_unless_the_campaign_names_production_ones() -> None:
    """No [lab.sysctls]: nothing is written on the workload host, the load host gets the
    generator's tuning. A campaign's values go to the host role it names, the load's over
    tare's; a name or value that is no sysctl's names the key."""
    from harness.lab import LOAD_SYSCTLS
    from tare.run import lab_sysctls

    plain = lab_sysctls(parse_campaign(GOOD, "c.toml"))
    assert dict(plain.workload) == {} and dict(plain.load) == dict(LOAD_SYSCTLS)
    text = GOOD + (
        '\n[lab.sysctls.workload]\n"net.netfilter.nf_conntrack_max" = 1048576\n'
        '[lab.sysctls.load]\n"net.ipv4.tcp_tw_reuse" = "2"\n'
    )
    asked = lab_sysctls(parse_campaign(text, "c.toml"))
    assert dict(asked.workload) == {"net.netfilter.nf_conntrack_max": "1048576"}
    assert asked.load["net.ipv4.tcp_tw_reuse"] == "2"
    assert asked.load["net.ipv4.ip_local_port_range"] == "1024 65535"
    bad_key = problems(GOOD + '\n[lab.sysctls.workload]\n"somaxconn; reboot" = 1\n')
    assert bad_key == [
        "c.toml: lab.sysctls.workload: 'somaxconn; reboot' is not a sysctl name "
        "(dotted, like net.core.somaxconn)"
    ]
    bad_value = problems(GOOD + '\n[lab.sysctls.load]\n"net.core.somaxconn" = "1\\nx=2"\n')
    assert bad_value == [
        "c.toml: lab.sysctls.load: net.core.somaxconn: '1\\nx=2' is not a sysctl value"
    ]


def test_one_client_address_lets_an_agent_allow_the_load_by_its_address() -> None:
    text = GOOD.replace('"--allow", "{load_net}"', '"--allow", "{load_addr}"', 1)
    campaign = parse_campaign("[lab]\nclients = 1\n\n" + text, "c.toml")
    assert campaign.spec.lab.clients == 1


def test_an_agents_steps_may_name_the_labs_folders_namespace_and_a_literal_brace() -> None:
    text = replace(
        'stop = ["tare-refagent", "stop", "--state-dir", "{lab_dir}/refagent"]',
        'stop = ["sh", "-c", "nft list table inet x {{ }} > {agent_dir}/t; echo {netns} '
        '{interface} {campaign_dir}"]',
    )
    stop = parse_campaign(text, "c.toml").spec.agent.stop
    assert (
        stop[-1].format_map(
            {
                "agent_dir": "/run/tare/agent/ab",
                "netns": "n",
                "interface": "i",
                "campaign_dir": "/c",
            }
        )
        == "nft list table inet x { } > /run/tare/agent/ab/t; echo n i /c"
    )


def test_each_agent_step_has_its_own_time_limit() -> None:
    spec = parse_campaign(GOOD + "\n[agent.timeouts]\nstart = 5\nhealth = 2.5\n", "c.toml").spec
    t = spec.agent.timeouts
    assert (t.install, t.start, t.health, t.stop, t.version) == (120.0, 5.0, 2.5, 60.0, 30.0)
    assert problems(GOOD + "\n[agent.timeouts]\nstart = -1.5\n") == [
        "c.toml: agent.timeouts.start: must be > 0"
    ]
    assert problems(GOOD + "\n[agent.timeouts]\nstrat = 5\n")[0].startswith(
        "c.toml: agent.timeouts.strat: unknown key"
    )


def test_a_relative_program_is_the_campaign_folders() -> None:
    base = Path("/srv/lab/campaigns")
    assert program(["agents/wrap.sh", "start"], base) == (
        "/srv/lab/campaigns/agents/wrap.sh",
        "start",
    )
    assert program(["../bin/x"], base) == ("/srv/lab/bin/x",)
    assert program(["tare-refagent", "start"], base) == ("tare-refagent", "start")  # on PATH
    assert program(["/usr/bin/x"], base) == ("/usr/bin/x",)
    assert program(["{campaign_dir}/x"], base) == ("{campaign_dir}/x",)
