"""Slack, through slack_sdk: an incoming webhook, or a bot token and a channel.

The only module that talks to Slack. Retries are ours, not slack_sdk's (its handlers sleep where
we cannot inject the clock and skip 502/504): 429 waits for ``Retry-After``, 5xx and connection
errors back off exponentially, all within a total wait; what still fails is *deferred* (the
outbox keeps it for the next run). Anything else Slack refuses (bad token, unknown channel,
revoked webhook) is *rejected*, also kept, with Slack's reason. Tokens and webhook URLs are
never put in a message, an exception or a log line: slack_sdk's own debug logging (which prints
the webhook URL) is silenced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from alerting.errors import AlertingError
from alerting.messages import Message
from contracts.errors import ErrorKind

log = logging.getLogger(__name__)
_quiet = logging.getLogger("tare.slack_sdk")
_quiet.setLevel(logging.WARNING)
_quiet.propagate = False
_quiet.addHandler(logging.NullHandler())


class DeliveryDeferred(AlertingError):
    """Slack could not take the message now (outage, rate limit); it stays in the outbox."""

    kind = ErrorKind.SERVICE_UNAVAILABLE


class DeliveryRejected(AlertingError):
    """Slack refused the message; it stays in the outbox until the configuration is fixed."""

    kind = ErrorKind.SERVICE_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 1.0
    max_wait_s: float = 30.0  # one wait
    max_total_s: float = 60.0  # all waits of one message

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait_s)
        return min(self.base_s * 2.0**attempt, self.max_wait_s)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None  # None: no HTTP answer
    ok: bool
    error: str
    retry_after: float | None = None
    data: Mapping[str, Any] | None = None

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    if not headers:
        return None
    for k, v in headers.items():
        if str(k).lower() == "retry-after":
            value = v[0] if isinstance(v, list | tuple) else v
            try:
                return float(str(value))
            except (TypeError, ValueError):
                return None
    return None


class SlackNotifier:
    """``post`` a message (returns where it landed, for later edits) and ``update`` it."""

    name = "slack"

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        token: str | None = None,
        channel: str | None = None,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: int = 10,
    ) -> None:
        if not webhook_url and not (token and channel):
            raise ValueError("Slack needs a webhook URL, or a bot token and a channel")
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._webhook = (
            WebhookClient(webhook_url, timeout=timeout_s, logger=_quiet, retry_handlers=[])
            if webhook_url
            else None
        )
        self._web = None
        if token and channel:
            kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
            self._web = WebClient(
                token=token, timeout=timeout_s, logger=_quiet, retry_handlers=[], **kwargs
            )
        self.channel = channel

    @property
    def can_edit(self) -> bool:
        return self._web is not None

    def _call(self, what: str, attempt: Callable[[], Outcome]) -> Outcome:
        waited = 0.0
        last: Outcome | None = None
        for n in range(self.policy.attempts):
            last = attempt()
            if last.ok:
                return last
            if not last.retryable:
                raise DeliveryRejected(f"Slack refused {what}: {last.error}")
            if n + 1 == self.policy.attempts:
                break
            pause = self.policy.wait(n, last.retry_after)
            if waited + pause > self.policy.max_total_s:
                break
            log.info("Slack %s: %s; retrying in %.1f s", what, last.error, pause)
            self._sleep(pause)
            waited += pause
        assert last is not None
        raise DeliveryDeferred(f"Slack unavailable for {what}: {last.error}")

    def _webhook_send(self, payload: dict[str, Any]) -> Outcome:
        assert self._webhook is not None
        try:
            resp = self._webhook.send_dict(payload)
        except (URLError, OSError) as exc:
            return Outcome(None, False, f"no answer ({type(exc).__name__})")
        if resp.status_code == 200:
            return Outcome(200, True, "")
        body = (resp.body or "").strip()[:80]
        return Outcome(
            resp.status_code,
            False,
            f"HTTP {resp.status_code} {body}".strip(),
            _retry_after(resp.headers),
        )

    def _web_call(self, method: str, **kwargs: Any) -> Outcome:
        assert self._web is not None
        try:
            resp = self._web.api_call(method, json=kwargs)
        except SlackApiError as exc:
            r = exc.response
            status = int(r.status_code)
            err = r.get("error", "") if isinstance(r.data, dict) else ""
            return Outcome(
                status, False, f"HTTP {status} {err}".strip(), _retry_after(dict(r.headers))
            )
        except (URLError, OSError) as exc:
            return Outcome(None, False, f"no answer ({type(exc).__name__})")
        except ValueError as exc:  # a proxy's HTML error page instead of Slack's JSON
            return Outcome(502, False, f"unreadable answer ({exc.__class__.__name__})")
        return Outcome(
            int(resp.status_code),
            True,
            "",
            data=dict(resp.data) if isinstance(resp.data, dict) else {},
        )

    def _api(self, method: str, **kwargs: Any) -> Outcome:
        """A Web API method, with the retry policy."""
        return self._call(method, lambda: self._web_call(method, **kwargs))

    def post(self, message: Message) -> dict[str, Any] | None:
        """Send a new message; for a bot, where it landed (channel, ts) so it can be edited."""
        if self._web is not None:
            out = self._api(
                "chat.postMessage",
                channel=self.channel,
                text=message.text,
                blocks=list(message.blocks),
            )
            data = out.data or {}
            return {
                "channel": str(data.get("channel", self.channel)),
                "ts": str(data.get("ts", "")),
            }
        self._call("the webhook", lambda: self._webhook_send(message.payload()))
        return None

    def update(self, delivery: Mapping[str, Any] | None, edited: Message, reply: Message) -> None:
        """Edit the original message and reply in its thread (bot); a webhook cannot edit, so
        it posts the reply as a new message."""
        if self._web is not None and delivery and delivery.get("ts"):
            channel, ts = str(delivery["channel"]), str(delivery["ts"])
            text, blocks = edited.text, list(edited.blocks)
            self._api("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)
            text, blocks = reply.text, list(reply.blocks)
            self._api("chat.postMessage", channel=channel, thread_ts=ts, text=text, blocks=blocks)
            return
        if self._web is not None:
            self.post(reply)
        else:
            self._call("the webhook", lambda: self._webhook_send(reply.payload()))
