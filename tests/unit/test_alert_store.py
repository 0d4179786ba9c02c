"""The alert store and its outbox, and Slack through slack_sdk's real clients against a local
HTTP server: retries, Retry-After, an outage, exactly-once delivery, edits in threads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerting.cycle import change_state
from alerting.evaluate import Alert, Item
from alerting.messages import Context, Message, build
from alerting.notify import ConsoleNotifier, flush
from alerting.slack import DeliveryDeferred, DeliveryRejected, RetryPolicy, SlackNotifier
from alerting.store import AlertStore, UnknownAlert, alert_id
from tests.slackfake import FakeSlack, Scripted


def alert(
    night: str = "2026-10-05", kpi: str = "cpu_cgroup", cell: str = "enforced.rate_5000"
) -> Alert:
    item = Item(
        f"linux.qs.{cell}.{kpi}", kpi, "overhead", 1.5, 2.7, 80.0, 1e-6, (2.3, 3.1), cell=cell
    )
    return Alert("regression", "linux", "qs", cell, night, (item,))


def record(store: AlertStore, a: Alert) -> str | None:
    ctx = Context(alert_id(a.key))
    return store.record(a, {"alert_id": ctx.alert_id}, build(a, ctx).payload())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AlertStore]:
    with AlertStore(tmp_path / "alerts.db") as s:
        yield s


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def test_an_alert_is_recorded_once_and_a_settling_night_is_the_same_alert(
    store: AlertStore,
) -> None:
    aid = record(store, alert())
    assert aid == alert_id(alert().key)
    assert record(store, alert()) is None
    assert record(store, alert(night="2026-10-06")) is None  # the estimate moved a night
    assert record(store, alert(night="2026-10-06", kpi="mem_cgroup")) is not None
    assert record(store, alert(night="2026-10-09")) is not None
    assert [e.action for e in store.outbox()] == ["post", "post", "post"]
    assert [a.state for a in store.alerts()] == ["new", "new", "new"]


def test_state_changes_queue_an_update_and_ids_resolve_by_prefix(store: AlertStore) -> None:
    aid = record(store, alert())
    assert aid is not None
    assert store.resolve_id(aid[:4]) == aid
    with pytest.raises(UnknownAlert):
        store.resolve_id("zzzz")
    updated, result = change_state(store, aid[:6], "acknowledged", "looking", None)
    assert (updated.state, updated.note, result) == ("acknowledged", "looking", None)
    assert [e.action for e in store.outbox()] == ["post", "update"]
    assert store.alerts("acknowledged")[0].id == aid


def test_the_console_notifier_prints_and_empties_the_outbox(
    store: AlertStore, capsys: pytest.CaptureFixture[str]
) -> None:
    record(store, alert())
    import sys

    result = flush(store, ConsoleNotifier(sys.stdout))
    assert (result.sent, result.kept, result.error) == (1, 0, None)
    assert (
        "Overhead regression: linux / qs / mode enforced / 5000 conn/s" in capsys.readouterr().out
    )
    assert store.outbox() == []


def test_webhook_retries_honour_retry_after_and_back_off_on_5xx(slack: FakeSlack) -> None:
    waits: list[float] = []
    n = SlackNotifier(webhook_url=slack.webhook_url, sleep=waits.append)
    slack.script = [Scripted(429, {"Retry-After": "7"}), Scripted(503), Scripted(502)]
    assert n.post(Message("hello", ())) is None
    assert waits == [7.0, 2.0, 4.0]
    delivered = slack.delivered()
    assert len(delivered) == 1 and delivered[0].path == "/services/T000/B000/secretwebhookpart"
    assert delivered[0].body == {"text": "hello", "blocks": []}


def test_what_still_fails_is_deferred_and_a_refusal_is_rejected(slack: FakeSlack) -> None:
    waits: list[float] = []
    n = SlackNotifier(
        webhook_url=slack.webhook_url, policy=RetryPolicy(attempts=3), sleep=waits.append
    )
    slack.script = [Scripted(500)] * 3
    with pytest.raises(DeliveryDeferred, match="HTTP 500"):
        n.post(Message("x", ()))
    assert waits == [1.0, 2.0]
    slack.script = [Scripted(404, {}, "no_service")]
    with pytest.raises(DeliveryRejected, match="HTTP 404 no_service"):
        n.post(Message("x", ()))
    # A Retry-After longer than the policy allows in total is not waited for here.
    slack.script = [Scripted(429, {"Retry-After": "3600"})] * 3
    waits.clear()
    with pytest.raises(DeliveryDeferred):
        SlackNotifier(webhook_url=slack.webhook_url, sleep=waits.append).post(Message("x", ()))
    assert waits == [30.0, 30.0]


def test_bot_posts_with_its_token_then_edits_and_replies_in_the_thread(
    slack: FakeSlack, store: AlertStore
) -> None:
    token = "xoxb-1234-5678-abcdefgh"
    bot = SlackNotifier(token=token, channel="C42", base_url=slack.api_url, sleep=lambda s: None)
    aid = record(store, alert())
    assert aid is not None
    assert flush(store, bot).sent == 1
    post = slack.delivered()[0]
    assert post.path == "/api/chat.postMessage"
    assert post.headers["authorization"] == f"Bearer {token}"
    assert post.body["channel"] == "C42" and post.body["blocks"][0]["type"] == "header"
    ts = store.get(aid).delivery
    assert ts is not None and ts["channel"] == "C42"
    _, result = change_state(store, aid, "resolved", "fixed in 1.1.1", bot)
    assert result is not None and result.sent == 1
    edit, reply = slack.delivered()[1:]
    assert edit.path == "/api/chat.update" and edit.body["ts"] == ts["ts"]
    assert "[resolved]" in edit.body["text"]
    assert reply.body["thread_ts"] == ts["ts"]
    assert reply.body["text"] == f"Alert {aid} is now resolved: fixed in 1.1.1"
    slack.script = [Scripted(429, {"Retry-After": "1"}, '{"ok":false,"error":"ratelimited"}')]
    assert bot.post(Message("again", ())) is not None
    assert len(slack.delivered()) == 4


def test_an_outage_loses_nothing_and_recovery_sends_each_message_once(
    slack: FakeSlack, store: AlertStore
) -> None:
    n = SlackNotifier(
        webhook_url=slack.webhook_url, policy=RetryPolicy(attempts=2), sleep=lambda s: None
    )
    record(store, alert())
    record(store, alert(night="2026-10-20"))
    port = slack.port
    slack.stop()
    result = flush(store, n)
    assert (result.sent, result.kept) == (0, 2) and "no answer" in (result.error or "")
    # A restart (a new store object on the same file) still has both.
    reopened = AlertStore(store.path)
    assert len(reopened.outbox()) == 2
    back = FakeSlack(port).start()
    try:
        assert flush(reopened, n).sent == 2
        assert flush(reopened, n).sent == 0
        assert len(back.delivered()) == 2
    finally:
        back.stop()
        reopened.close()
