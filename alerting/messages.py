"""Alert messages: Block Kit for Slack and plain text for the console (pure: no I/O).

Every message carries ``text`` (Slack's notification and fallback text, and the console form)
and ``blocks`` (the rich form).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerting.evaluate import Alert, Item
from contracts.paths import RATE_LEVEL, NightlyStat
from contracts.states import AlertKind, AlertState

TITLES = {
    AlertKind.REGRESSION: "Overhead regression",
    AlertKind.IMPROVEMENT: "Overhead improvement",
    AlertKind.ENVIRONMENT: "Environment change (baseline moved; overheads unaffected)",
    AlertKind.THRESHOLD: "Overhead threshold crossed",
    AlertKind.DRIFT: "Overhead drift (a slow trend, no step)",
}
UNITS = {
    "cpu_cgroup": "pp",
    "cpu_workload_core": "pp",
    "cpu_all": "pp",
    "softirq_all": "pp",
    "mem_cgroup": "MB",
    "mem_available": "MB",
}


@dataclass(frozen=True, slots=True)
class Context:
    """What the message needs beyond the alert itself."""

    alert_id: str
    state: str = AlertState.NEW.value
    versions_before: tuple[str, ...] = ()
    versions_after: tuple[str, ...] = ()
    dashboard_url: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    blocks: tuple[dict[str, Any], ...]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": list(self.blocks)}


def _num(v: float | None, unit: str) -> str:
    if v is None:
        return "n/a"
    return f"{v:+.2f} {unit}".rstrip() if unit != "%" else f"{v:+.2f} %"


def _unit(item: Item) -> str:
    return "%" if item.stat == "overhead_pct" else UNITS.get(item.kpi, "")


def describe_cell(alert: Alert) -> str:
    if alert.cell == "*":
        return f"{alert.platform} / {alert.campaign} / baseline"
    parts = alert.cell.split(".")
    mode = parts[0]
    rate = parts[1].removeprefix(RATE_LEVEL) if len(parts) > 1 else "?"
    extra = ", ".join(parts[2:])
    text = f"{alert.platform} / {alert.campaign} / mode {mode} / {rate} conn/s"
    return f"{text} / {extra}" if extra else text


FULL_AT_PCT = 99.0  # a conntrack table this full takes no new connection


def in_words(item: Item) -> str | None:
    """What the newest night's overhead of a conntrack or failure KPI means for the server
    (these KPIs are 0 without the agent: the overhead is the agent's figure); None: no words."""
    if item.stat != NightlyStat.OVERHEAD.value or item.cell.startswith("baseline."):
        return None
    v = item.after
    if item.kpi == "conntrack_fill_pct":
        return (
            "the conntrack table full"
            if v >= FULL_AT_PCT
            else f"the conntrack table {v:.0f} % full"
        )
    if item.kpi == "conntrack_drops_per_s" and v > 0:
        return f"conntrack dropping {v:.0f} packets of new connections a second"
    if item.kpi == "error_pct" and v > 0:
        return f"{v:.2f} % of requests failed beyond the baseline's"
    return None


def item_line(item: Item) -> str:
    unit = _unit(item)
    what = f"{item.kpi} ({item.stat})"
    if item.cell.startswith("baseline."):
        what = f"{item.kpi} baseline at {item.cell.removeprefix('baseline.')}"
    line = f"{what}: {_num(item.before, unit)} -> {_num(item.after, unit)}"
    if item.change_pct is not None:
        line += f" ({item.change_pct:+.0f} %)"
    if item.ci is not None:
        line += f", newest night 95 % CI [{item.ci[0]:+.2f}, {item.ci[1]:+.2f}]"
    if item.pvalue is not None:
        line += f", p={item.pvalue:.2g}"
    if item.rule:
        line += f", rule: {item.rule}"
    words = in_words(item)
    return f"{line}; in words: {words}" if words else line


def _versions(ctx: Context) -> str | None:
    if not ctx.versions_before and not ctx.versions_after:
        return None
    before = ", ".join(ctx.versions_before) or "unknown"
    after = ", ".join(ctx.versions_after) or "unknown"
    return f"agent {before} -> {after}" if before != after else f"agent {after} (unchanged)"


def build(alert: Alert, ctx: Context) -> Message:
    title = TITLES[alert.kind]
    state = "" if ctx.state == AlertState.NEW else f" [{ctx.state}]"
    head = f"{title}{state}: {describe_cell(alert)}, night {alert.night} (alert {ctx.alert_id})"
    lines = [item_line(i) for i in alert.items]
    versions = _versions(ctx)
    text_lines = [head, *(f"- {line}" for line in lines)]
    if versions:
        text_lines.append(versions)
    if ctx.dashboard_url:
        text_lines.append(f"dashboard: {ctx.dashboard_url}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{title}{state}"[:150]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Configuration*\n{describe_cell(alert)}"},
                {"type": "mrkdwn", "text": f"*Night*\n{alert.night}"},
            ],
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "\n".join(f"• {x}" for x in lines)[:3000]},
        },
    ]
    context = [f"alert `{ctx.alert_id}`", f"state *{ctx.state}*"]
    if versions:
        context.append(versions)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in context]})
    if ctx.dashboard_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open dashboard"},
                        "url": ctx.dashboard_url,
                    }
                ],
            }
        )
    return Message("\n".join(text_lines), tuple(blocks))


def state_change(alert_id: str, state: str, note: str | None) -> Message:
    """The reply in the alert's thread (after it, for a webhook) when its state changes."""
    text = f"Alert {alert_id} is now {state}" + (f": {note}" if note else "")
    return Message(text, ({"type": "section", "text": {"type": "mrkdwn", "text": text}},))
