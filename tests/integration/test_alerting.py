"""``tare alert`` end to end: a nightly history in a real Graphite with one injected regression,
Slack's real client posting to a local endpoint that goes down and comes back."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from collectors.carbon import send_plaintext
from contracts.addresses import CarbonAddress
from tests.conftest import Stack, free_ports, run_tare
from tests.poll import wait_for
from tests.slackfake import FakeSlack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("alerting"),  # one worker sends the nightly history, once
]

NIGHTS = 30
JUMP_AT = 24  # the regression's first night (6 nights at the new level: confirmed)
MODES = ("idle", "visibility", "enforced")
RATES = (1000, 5000)


def history(prefix: str) -> tuple[list[tuple[str, float, int]], list[str]]:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    nights = [today - dt.timedelta(days=NIGHTS - i) for i in range(NIGHTS)]
    rng = np.random.default_rng(42)
    points: list[tuple[str, float, int]] = []
    for mode in MODES:
        for rate in RATES:
            base = f"{prefix}.nightly.linux.quickstart.{mode}.rate_{rate}.policy_size_1000"
            cpu_level = {"idle": 0.3, "visibility": 1.2, "enforced": 1.5}[mode] * rate / 5000
            for k, night in enumerate(nights):
                ts = int(night.timestamp())
                jump = mode == "enforced" and rate == 5000 and k >= JUMP_AT
                cpu = cpu_level + 0.1 * rng.normal() + (1.5 if jump else 0.0)
                mem = 11.0 + 0.3 * rng.normal() + (3.0 if jump else 0.0)
                points += [
                    (f"{base}.cpu_cgroup.overhead", cpu, ts),
                    (f"{base}.cpu_cgroup.ci_low", cpu - 0.4, ts),
                    (f"{base}.cpu_cgroup.ci_high", cpu + 0.4, ts),
                    (f"{base}.cpu_cgroup.baseline", 12.0 * rate / 5000 + 0.2 * rng.normal(), ts),
                    (f"{base}.mem_cgroup.overhead", mem, ts),
                ]
    return points, [n.strftime("%Y-%m-%d") for n in nights]


@pytest.fixture(scope="module")
def nightly(graphite_stack: Stack) -> tuple[str, list[str]]:
    prefix = f"tare_alert_{uuid.uuid4().hex[:8]}"
    points, nights = history(prefix)
    send_plaintext(CarbonAddress(graphite_stack.carbon_host, graphite_stack.carbon_port), points)
    expected = len(points)

    def all_there() -> bool:
        res = run_tare(
            "alert",
            "--prefix",
            prefix,
            "--render-url",
            graphite_stack.render_url,
            "--dry-run",
            "--json",
            "--state-dir",
            str(graphite_stack.state_dir),
        )
        if res.code != 0:
            return False
        out = json.loads(res.out)
        series = 3 * len(MODES) * len(RATES)  # cpu overhead + baseline, mem overhead
        return bool(out["series"] == series and out["latest_night"] == nights[-1])

    wait_for(all_there, timeout_s=60, what=f"{expected} nightly points readable")
    return prefix, nights


def alert_args(stack: Stack, prefix: str, state: Path, *extra: str) -> list[str]:
    return [
        "alert",
        "--prefix",
        prefix,
        "--render-url",
        stack.render_url,
        "--state-dir",
        str(state),
        *extra,
    ]


def test_one_regression_one_slack_message_through_an_outage_and_never_again(
    graphite_stack: Stack, nightly: tuple[str, list[str]], tmp_path: Path
) -> None:
    prefix, nights = nightly
    port = free_ports(1)[0]
    slack = FakeSlack(port)  # not started: Slack is down
    env = {"SLACK_WEBHOOK_URL": slack.webhook_url}
    state = tmp_path / "state"

    down = run_tare(*alert_args(graphite_stack, prefix, state, "--notify", "slack"), env=env)
    assert down.code == 4, down.err
    assert "1 message(s) kept in the outbox" in down.err
    assert "1 new, 0 already known" in down.out
    listed = json.loads(run_tare("alerts", "list", "--state-dir", str(state), "--json").out)
    assert listed["outbox"] == 1
    [a] = listed["alerts"]
    assert (a["kind"], a["cell"], a["night"], a["state"]) == (
        "regression",
        "enforced.rate_5000.policy_size_1000",
        nights[JUMP_AT],
        "new",
    )
    assert sorted(i["kpi"] for i in a["items"]) == ["cpu_cgroup", "mem_cgroup"]

    slack.start()
    try:
        up = run_tare(*alert_args(graphite_stack, prefix, state, "--notify", "slack"), env=env)
        assert up.code == 0, up.err
        assert "0 new, 1 already known" in up.out and "1 message(s) delivered" in up.out
        [msg] = slack.delivered()
        assert msg.path.startswith("/services/")
        text = msg.body["text"]
        assert f"mode enforced / 5000 conn/s / policy_size_1000, night {nights[JUMP_AT]}" in text
        assert "cpu_cgroup (overhead)" in text and "mem_cgroup (overhead)" in text
        assert msg.body["blocks"][0]["text"]["text"] == "Overhead regression"

        again = run_tare(
            *alert_args(graphite_stack, prefix, state, "--notify", "slack", "--fail-on-regression"),
            env=env,
        )
        assert again.code == 0, again.err
        assert len(slack.delivered()) == 1

        ack = run_tare(
            "alerts",
            "ack",
            a["id"][:6],
            "--note",
            "agent 1.1 rule cache",
            "--state-dir",
            str(state),
            "--notify",
            "slack",
            env=env,
        )
        assert ack.code == 0, ack.err
        reply = slack.delivered()[-1]
        assert reply.body["text"] == f"Alert {a['id']} is now acknowledged: agent 1.1 rule cache"
    finally:
        slack.stop()


def test_gating_exits_1_on_a_new_regression_and_the_console_shows_it(
    graphite_stack: Stack, nightly: tuple[str, list[str]], tmp_path: Path
) -> None:
    prefix, _ = nightly
    res = run_tare(
        *alert_args(
            graphite_stack, prefix, tmp_path / "s", "--notify", "console", "--fail-on-regression"
        )
    )
    assert res.code == 1
    assert "Overhead regression: linux / quickstart / mode enforced / 5000 conn/s" in res.out
    assert res.err.startswith("tare: 1 new regression(s): ")
    dry = run_tare(*alert_args(graphite_stack, prefix, tmp_path / "d", "--dry-run", "--json"))
    out = json.loads(dry.out)
    assert dry.code == 0 and out["dry_run"] is True and len(out["regressions"]) == 1
    assert not (tmp_path / "d" / "alerts.db").exists()


def test_secrets_never_reach_output_or_logs(
    graphite_stack: Stack, nightly: tuple[str, list[str]], tmp_path: Path
) -> None:
    prefix, _ = nightly
    token = "xoxb-999-888-secrettokenvalue"
    slack = FakeSlack().start()
    try:
        env = {"SLACK_BOT_TOKEN": token, "SLACK_CHANNEL": "C1", "SLACK_API_URL": slack.api_url}
        state = tmp_path / "state"
        res = run_tare(
            "--debug",
            "-v",
            *alert_args(graphite_stack, prefix, state, "--notify", "slack"),
            env=env,
        )
        assert res.code == 0, res.err
        assert slack.delivered()[0].headers["authorization"] == f"Bearer {token}"
    finally:
        slack.stop()
    hook = FakeSlack()  # never started: every attempt fails and is logged
    env = {"SLACK_WEBHOOK_URL": hook.webhook_url}
    res2 = run_tare("--debug", "-v", *alert_args(graphite_stack, prefix, tmp_path / "s2"), env=env)
    assert res2.code == 4
    logs = "".join(p.read_text() for p in tmp_path.rglob("*.log"))
    for text in (res.out, res.err, res2.out, res2.err, logs):
        assert token not in text and "secretwebhookpart" not in text


def test_secrets_file_must_be_private(
    graphite_stack: Stack, nightly: tuple[str, list[str]], tmp_path: Path
) -> None:
    prefix, _ = nightly
    secrets = tmp_path / "slack.env"
    secrets.write_text("SLACK_WEBHOOK_URL=http://127.0.0.1:9/services/x\n")
    secrets.chmod(0o644)
    res = run_tare(
        *alert_args(graphite_stack, prefix, tmp_path / "s", "--slack-secrets", str(secrets))
    )
    assert res.code == 3
    assert res.err.strip() == f"{secrets}: readable by group or others; chmod 600 {secrets}"
