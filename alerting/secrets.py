"""Slack secrets: from the environment or a file only the user can read; never shown.

Environment: ``SLACK_WEBHOOK_URL``, or ``SLACK_BOT_TOKEN`` (+ ``SLACK_CHANNEL`` unless the alerts
config names one); ``SLACK_API_URL`` points the bot client elsewhere (a proxy, a test server).
A secrets file (``--slack-secrets FILE`` or ``TARE_SLACK_SECRETS``) holds the same names as
``NAME=value`` lines and must not be readable by group or others. Every secret loaded is
registered with :func:`redact`, which the command's log handlers and error output apply.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alerting.errors import AlertingError
from contracts.errors import ErrorKind

NAMES = ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "SLACK_CHANNEL", "SLACK_API_URL")
SECRET_NAMES = ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN")
_known: set[str] = set()


class SecretsError(AlertingError):
    """A secrets file cannot be used (missing, unreadable, readable by others, malformed)."""

    kind = ErrorKind.BAD_INPUT
    names_its_file = True


@dataclass(frozen=True, slots=True)
class SlackSecrets:
    webhook_url: str | None = None
    token: str | None = None
    channel: str | None = None
    api_url: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url or (self.token and self.channel))

    def describe(self) -> str:
        """Where alerts go, without the secret itself."""
        if self.token and self.channel:
            return f"Slack bot, channel {self.channel}"
        return "Slack incoming webhook" if self.webhook_url else "nowhere"


def redact(text: str) -> str:
    for secret in _known:
        text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _known:
            record.msg = redact(record.getMessage())
            record.args = None
        return True


def _register(value: str | None) -> None:
    if value and len(value) >= 8:
        _known.add(value)


def read_file(path: Path) -> dict[str, str]:
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsError(f"{path}: cannot read: {exc.__class__.__name__}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(f"{path}: readable by group or others; chmod 600 {path}")
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip().removeprefix("export ").strip()
        if not sep or name not in NAMES:
            raise SecretsError(
                f"{path}: line {n}: expected NAME=value with NAME one of {', '.join(NAMES)}"
            )
        out[name] = value.strip().strip("'\"")
    return out


def load(
    env: Mapping[str, str], secrets_file: Path | None, channel: str | None = None
) -> SlackSecrets:
    values = {k: env[k] for k in NAMES if env.get(k)}
    path = secrets_file or (
        Path(env["TARE_SLACK_SECRETS"]) if env.get("TARE_SLACK_SECRETS") else None
    )
    if path is not None:
        values.update(read_file(path))
    for name in SECRET_NAMES:
        _register(values.get(name))
    return SlackSecrets(
        webhook_url=values.get("SLACK_WEBHOOK_URL"),
        token=values.get("SLACK_BOT_TOKEN"),
        channel=values.get("SLACK_CHANNEL") or channel,
        api_url=values.get("SLACK_API_URL"),
    )


def from_environment(secrets_file: Path | None = None, channel: str | None = None) -> SlackSecrets:
    return load(os.environ, secrets_file, channel)
