"""The stack's topology: one carbon-cache, or carbon-c-relay in front of N of them.

With ``caches = 1`` carbon-cache itself listens on the carbon port, as it always has. With
``caches = N > 1``, carbon-c-relay listens there instead and sends each series to one of N
carbon-caches on 127.0.0.1 by a ``carbon_ch`` consistent hash over ``(host, instance)``.
graphite-web reads every cache's whisper directory and asks the cache that holds a series for its
unflushed points through ``CARBONLINK_HOSTS``, hashed the same way (``CARBONLINK_HASHING_TYPE =
'carbon_ch'``): the relay and graphite-web must name the same cache for every series, and a test
checks that they do. Writers (collectors, collectd, the harness) see one address either way.

Rendering here is pure; ``tare.stack.control`` starts the processes.
"""

from __future__ import annotations

import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from contracts.errors import ServiceUnavailable, UsageError
from tare.stack.procs import ProcSpec
from tare.stack.settings import StackSettings

HASH = "carbon_ch"
MAX_CACHES = 16
RELAY = "carbon-relay"
RELAY_BINARY = "carbon-c-relay"
# Points the relay holds per cache while that cache is away (about 100 bytes each): a
# 30-second outage of a cache taking 10K points/s fits in a third of it.
RELAY_QUEUE = 1_000_000
# The relay's own counters, as series, every 10 s (carbon.relays.<name>.*).
RELAY_STATS_S = 10


@dataclass(frozen=True, slots=True)
class Cache:
    """One carbon-cache instance of the stack."""

    instance: str  # carbon's instance name; part of the hash key
    line_port: int
    pickle_port: int
    query_port: int
    whisper_dir: Path

    @property
    def process(self) -> str:
        return f"carbon-cache-{self.instance}"


def instance_name(index: int) -> str:
    return string.ascii_lowercase[index]


def caches(s: StackSettings) -> tuple[Cache, ...]:
    """The caches of this topology, in hash-ring order (instance a, b, c, ...).

    A single cache keeps the historic ports. In a cluster the relay takes the carbon port and
    cache ``k`` (0-based) listens on carbon_port + 100(k+1) for lines, pickle_port + 100(k+1) for
    pickles and cache_query_port + 100k for queries: 2103/2104/7002, 2203/2204/7102, ...
    carbon's own multi-instance convention. Cache a keeps ``storage/whisper``, so data written
    before the stack became a cluster stays where graphite-web reads it.
    """
    storage = s.graphite_dir / "storage"
    if s.caches == 1:
        return (Cache("a", s.carbon_port, s.pickle_port, s.cache_query_port, storage / "whisper"),)
    out = []
    for k in range(s.caches):
        name = instance_name(k)
        out.append(
            Cache(
                instance=name,
                line_port=s.carbon_port + 100 * (k + 1),
                pickle_port=s.pickle_port + 100 * (k + 1),
                query_port=s.cache_query_port + 100 * k,
                whisper_dir=storage / ("whisper" if k == 0 else f"whisper-{name}"),
            )
        )
    return tuple(out)


def validate(s: StackSettings) -> None:
    """Refuse a cache count or derived ports that cannot work, naming the clash."""
    if not 1 <= s.caches <= MAX_CACHES:
        raise UsageError(f"caches = {s.caches}: must be between 1 and {MAX_CACHES}")
    if s.caches == 1:
        return
    seen = {s.carbon_port: "the relay", s.web_port: "graphite-web"}
    for c in caches(s):
        for role, port in (("line", c.line_port), ("pickle", c.pickle_port)):
            _claim(seen, port, f"cache {c.instance} {role}")
        _claim(seen, c.query_port, f"cache {c.instance} query")


def _claim(seen: dict[int, str], port: int, role: str) -> None:
    if not 0 < port < 65536:
        raise UsageError(f"{role} port {port} is out of range 1-65535; use fewer caches")
    if port in seen:
        raise UsageError(f"{role} and {seen[port]} both use port {port}; choose other base ports")
    seen[port] = role


def ports(s: StackSettings) -> dict[str, int]:
    """Every port this topology listens on, by role (for the free-port check)."""
    if s.caches == 1:
        return {
            "carbon line receiver": s.carbon_port,
            "carbon pickle receiver": s.pickle_port,
            "carbon cache query": s.cache_query_port,
            "graphite-web": s.web_port,
        }
    out = {"carbon-c-relay": s.carbon_port, "graphite-web": s.web_port}
    for c in caches(s):
        out[f"cache {c.instance} line"] = c.line_port
        out[f"cache {c.instance} pickle"] = c.pickle_port
        out[f"cache {c.instance} query"] = c.query_port
    return out


def carbonlink_hosts(s: StackSettings) -> list[str]:
    """graphite-web's CARBONLINK_HOSTS: ``host:query_port:instance``, instance as the relay's."""
    return [f"{s.host}:{c.query_port}:{c.instance}" for c in caches(s)]


def whisper_dirs(s: StackSettings) -> list[Path]:
    """Every cache directory graphite-web reads: this topology's, and any left by a larger one
    (a stack shrunk from 3 caches to 2 still shows what cache c wrote)."""
    dirs = [c.whisper_dir for c in caches(s)]
    storage = s.graphite_dir / "storage"
    if storage.is_dir():
        dirs += sorted(p for p in storage.glob("whisper-*") if p.is_dir() and p not in dirs)
    return dirs


def render_relay_conf(s: StackSettings) -> str:
    members = "\n".join(f"        {s.host}:{c.line_port}={c.instance}" for c in caches(s))
    return f"""\
# Generated by tare: one consistent-hash cluster over the stack's carbon-caches.
# graphite-web hashes CARBONLINK_HOSTS the same way ({HASH} on (host, instance)).
listen
    type linemode
        {s.listen}:{s.carbon_port} proto tcp
    ;

cluster tare
    {HASH} replication 1
{members}
    ;

statistics
    submit every {RELAY_STATS_S} seconds
    prefix with carbon.relays.tare
    ;

match *
    send to tare
    stop
    ;
"""


def relay_conf_path(s: StackSettings) -> Path:
    return s.graphite_dir / "conf" / "carbon-c-relay.conf"


def relay_binary() -> str:
    exe = shutil.which(RELAY_BINARY) or (
        f"/usr/bin/{RELAY_BINARY}" if Path(f"/usr/bin/{RELAY_BINARY}").exists() else None
    )
    if exe is None:
        raise ServiceUnavailable(
            f"{RELAY_BINARY} is not installed; a stack with caches > 1 needs it "
            "(apt-get install carbon-c-relay, or scripts/bootstrap.sh)"
        )
    return exe


def relay_spec(s: StackSettings, exe: str) -> ProcSpec:
    return ProcSpec(
        name=RELAY,
        argv=(
            exe,
            "-f",
            str(relay_conf_path(s)),
            "-q",
            str(RELAY_QUEUE),
            "-w",
            "2",
            "-B",
            "128",
            "-H",
            "tare",
        ),
        env={},
        cwd=s.graphite_dir,
        log_file=s.log_dir / "carbon-c-relay.log",
    )
