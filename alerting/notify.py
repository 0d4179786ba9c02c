"""Delivering the outbox: oldest message first, stopping at the first one that cannot go now
(so a thread reply never overtakes the message it answers). The console notifier prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from alerting.messages import Message
from alerting.slack import DeliveryDeferred, DeliveryRejected
from alerting.store import AlertStore


class Notifier(Protocol):
    name: str

    def post(self, message: Message) -> dict[str, Any] | None: ...

    def update(self, delivery: dict[str, Any] | None, edited: Message, reply: Message) -> None: ...


class ConsoleNotifier:
    """Prints each message's text, for local use and dry runs."""

    name = "console"

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def post(self, message: Message) -> dict[str, Any] | None:
        print(message.text, file=self.out)
        print(file=self.out)
        return None

    def update(self, delivery: dict[str, Any] | None, edited: Message, reply: Message) -> None:
        print(reply.text, file=self.out)


@dataclass
class FlushResult:
    sent: int = 0
    kept: int = 0
    error: str | None = None
    rejected: bool = False
    sent_ids: list[str] = field(default_factory=list)


def _message(d: dict[str, Any]) -> Message:
    return Message(str(d["text"]), tuple(d.get("blocks") or ()))


def flush(store: AlertStore, notifier: Notifier) -> FlushResult:
    result = FlushResult()
    entries = store.outbox()
    for k, entry in enumerate(entries):
        try:
            if entry.action == "post":
                delivery = notifier.post(_message(entry.message))
            else:
                current = store.get(entry.alert_id).delivery
                notifier.update(
                    current, _message(entry.message["edited"]), _message(entry.message["reply"])
                )
                delivery = None
        except (DeliveryDeferred, DeliveryRejected) as exc:
            store.mark_failed(entry.seq, str(exc))
            result.kept = len(entries) - k
            result.error = str(exc)
            result.rejected = isinstance(exc, DeliveryRejected)
            return result
        store.mark_sent(entry.seq, delivery)
        result.sent += 1
        result.sent_ids.append(entry.alert_id)
    return result
