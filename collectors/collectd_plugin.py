"""collectd Python plugin: tare's exact CPU, cgroup, TCP, conntrack and process series.

collectd imports this module (``Import "collectors.collectd_plugin"``) and the module registers
its callbacks. ``collectd`` itself is imported only when running inside the daemon, so the logic
(configuration parsing, dispatching) is unit-tested without it. Values are dispatched as
``plugin=tare, plugin_instance=<group>, type=<metric>`` with the types from
``collectors/series.py``; write_graphite turns them into ``<prefix><host>.tare.<group>.<metric>``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from collectors.errors import CollectorError
from collectors.sampler import ProcMatch, Sampler, Targets
from contracts.errors import ErrorKind

log = logging.getLogger(__name__)


class ConfigNode(Protocol):
    key: str
    values: Sequence[Any]
    children: Sequence[ConfigNode]


class PluginConfigError(CollectorError, ValueError):
    """A key of the <Module> block is wrong; the message names it."""

    kind = ErrorKind.BAD_INPUT


def targets_from_config(node: ConfigNode) -> Targets:
    """Read the ``<Module "tare">`` block into Targets; unknown keys are errors."""
    netns: str | None = None
    netns_pid: int | None = None
    interfaces: list[str] = []
    cgroup: str | None = None
    processes: list[ProcMatch] = []
    for child in node.children:
        key = child.key.lower()
        vals = [str(v) for v in child.values]
        if key == "netns" and len(vals) == 1:
            netns = vals[0]
        elif key == "netnspid" and len(vals) == 1:
            netns_pid = int(float(vals[0]))
        elif key == "interface" and vals:
            interfaces.extend(vals)
        elif key == "cgroup" and len(vals) == 1:
            cgroup = vals[0]
        elif key == "process" and len(vals) == 2:
            processes.append(ProcMatch(label=vals[0], name=vals[1]))
        elif key == "processpidfile" and len(vals) == 2:
            processes.append(ProcMatch(label=vals[0], pid_file=Path(vals[1])))
        else:
            raise PluginConfigError(f"tare plugin: bad or unknown option {child.key} {vals}")
    return Targets(
        netns=netns,
        netns_pid=netns_pid,
        interfaces=tuple(interfaces),
        cgroup=cgroup,
        processes=tuple(processes),
    )


@dataclass
class Plugin:
    """The plugin's state; ``dispatch`` is collectd's (or a test's) value sink, given the group,
    the metric, the value and the whole second it is for.

    collectd calls ``read`` at its own phase of each second; the plugin waits for the next whole
    second and samples then, as tare's sampler does, so the two read the same windows (a burst
    at a second's edge lands in the same second for both) and every value has an exact time."""

    dispatch: Callable[[str, str, float, int], None]
    targets: Targets = field(default_factory=Targets)
    sampler: Sampler | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def configure(self, node: ConfigNode) -> None:
        self.targets = targets_from_config(node)

    def init(self) -> None:
        self.sampler = Sampler(self.targets)

    def read(self) -> int:
        if self.sampler is None:
            self.init()
        assert self.sampler is not None
        now = self.clock()
        tick = math.ceil(now)
        if tick - now > 0:
            self.sleep(tick - now)
        values = self.sampler.sample()
        for group, metric, value in values:
            self.dispatch(group, metric, value, tick)
        return len(values)

    def shutdown(self) -> None:
        if self.sampler is not None:
            self.sampler.close()
            self.sampler = None


class _CollectdLog(logging.Handler):
    def __init__(self, collectd: Any) -> None:
        super().__init__()
        self.collectd = collectd

    def emit(self, record: logging.LogRecord) -> None:
        text = f"tare plugin: {record.getMessage()}"
        if record.levelno >= logging.ERROR:
            self.collectd.error(text)
        elif record.levelno >= logging.WARNING:
            self.collectd.warning(text)
        else:
            self.collectd.info(text)


def _register() -> None:
    try:
        import collectd  # only inside collectd's embedded interpreter
    except ImportError:
        return

    template = collectd.Values(plugin="tare")  # one object, its fields overridden per value

    def dispatch(group: str, metric: str, value: float, when: int) -> None:
        template.dispatch(plugin_instance=group, type=metric, values=[value], time=when)

    plugin = Plugin(dispatch=dispatch)
    handler = _CollectdLog(collectd)
    logging.getLogger("collectors").addHandler(handler)
    logging.getLogger("collectors").setLevel(logging.INFO)
    collectd.register_config(plugin.configure, name="tare")
    collectd.register_init(plugin.init)
    collectd.register_read(plugin.read)
    collectd.register_shutdown(plugin.shutdown)


_register()
