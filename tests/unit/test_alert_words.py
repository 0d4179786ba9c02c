"""An alert on the conntrack table or on failed requests says in words what the server lives."""

from __future__ import annotations

from alerting.evaluate import Item
from alerting.messages import in_words, item_line


def item(kpi: str, after: float, cell: str = "enforced.rate-10000") -> Item:
    return Item(f"x.{kpi}", kpi, "overhead", 0.0, after, None, None, None, cell=cell)


def test_conntrack_and_failure_alerts_say_it_in_words() -> None:
    assert in_words(item("conntrack_fill_pct", 100.0)) == "the conntrack table full"
    assert in_words(item("conntrack_fill_pct", 58.8)) == "the conntrack table 59 % full"
    assert (
        in_words(item("conntrack_drops_per_s", 184.5))
        == "conntrack dropping 184 packets of new connections a second"
    )
    assert in_words(item("error_pct", 10.99)) == "10.99 % of requests failed beyond the baseline's"
    line = item_line(item("conntrack_fill_pct", 100.0))
    assert line.endswith("; in words: the conntrack table full")
    assert in_words(item("cpu_cgroup", 3.0)) is None  # a figure needs no words
    assert in_words(item("error_pct", 0.0)) is None
    assert in_words(item("conntrack_fill_pct", 50.0, cell="baseline.rate-10000")) is None
