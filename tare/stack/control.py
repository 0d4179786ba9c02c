"""``tare stack up|down|status``: the local Graphite (+ collectd) as plain subprocesses.

``up`` is idempotent and returns only once a canary point written to carbon reads back through
``/render``; ``down`` stops only the processes tare started (pid files) and is idempotent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import json
import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from collectors.carbon import send_plaintext, unreachable
from contracts.addresses import CarbonAddress
from contracts.errors import ServiceUnavailable, UsageError
from contracts.paths import DEFAULT_PREFIX, canary_path
from contracts.processes import log_tail
from pipeline.graphite import GraphiteBadResponse, GraphiteClient, GraphiteUnavailable
from tare.stack import cluster, collectd, graphite, procs
from tare.stack.settings import StackSettings

log = logging.getLogger(__name__)

CANARY_PATH = canary_path(DEFAULT_PREFIX)


def process_order(caches: int) -> tuple[str, ...]:
    """Start order; stop order is the reverse: collectd first so it does not log send errors
    while carbon stops, the relay before the caches so it can hand them its queue."""
    if caches == 1:
        return ("carbon-cache", "graphite-web", "collectd")
    stores = tuple(f"carbon-cache-{cluster.instance_name(k)}" for k in range(caches))
    return (*stores, cluster.RELAY, "graphite-web", "collectd")


def _stack_caches(s: StackSettings) -> int:
    """The cache count of the stack that runs from this state directory (its stack file), else
    the one asked for."""
    info = _read_stack_file(s) or {}
    caches = info.get("caches", s.caches if not info else 1)
    return caches if isinstance(caches, int) and 1 <= caches <= cluster.MAX_CACHES else s.caches


@contextlib.contextmanager
def _locked(s: StackSettings) -> Iterator[None]:
    s.pid_dir.mkdir(parents=True, exist_ok=True)
    with (s.pid_dir / "stack.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _read_stack_file(s: StackSettings) -> dict[str, Any] | None:
    try:
        data = json.loads(s.stack_file.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _running(s: StackSettings, caches: int | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in process_order(s.caches if caches is None else caches):
        pid = procs.running_pid(s.pid_dir, name)
        if pid is not None:
            out[name] = pid
    return out


def _secret_key(s: StackSettings) -> str:
    path = s.graphite_dir / "conf" / ".secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _web_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_listening(
    s: StackSettings, name: str, port: int, ready: Callable[[], bool], timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    log_file = s.log_dir / f"{name}.log"
    while time.monotonic() < deadline:
        if procs.running_pid(s.pid_dir, name) is None:
            raise ServiceUnavailable(
                f"{name} exited during start-up (log {log_file}): {log_tail(log_file, 2)}"
            )
        if ready():
            return
        time.sleep(0.1)
    raise ServiceUnavailable(f"{name} did not listen on {s.host}:{port} within {timeout_s:.0f} s")


def canary(s: StackSettings, timeout_s: float = 60.0) -> float:
    """Write a point to carbon and poll ``/render`` until it reads back; returns seconds taken."""
    client = GraphiteClient(s.render_url, timeout_s=5.0)
    value = float(secrets.randbelow(1_000_000))
    started = time.monotonic()
    ts = int(time.time())
    try:
        send_plaintext(s.carbon, [(CANARY_PATH, value, ts)])
    except OSError as exc:
        raise ServiceUnavailable(f"carbon at {s.carbon}: {exc}") from exc
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        try:
            for series in client.render([CANARY_PATH], ts - 5, ts + 5):
                if any(t == ts and v == value for t, v in series.values()):
                    return time.monotonic() - started
        except (GraphiteUnavailable, GraphiteBadResponse):
            pass
        time.sleep(0.1)
    raise ServiceUnavailable(
        f"canary point written to carbon at {s.carbon} did not read back from "
        f"{s.render_url}/render within {timeout_s:.0f} s"
    )


def _check_ports(s: StackSettings) -> None:
    for role, port in cluster.ports(s).items():
        where = s.listen if port == s.carbon_port else s.host
        holder = procs.port_holder(where, port)
        if holder is not None:
            raise ServiceUnavailable(
                f"port {port} ({role}) on {where} is already in use by {holder}; "
                "choose other ports (--carbon-port, --pickle-port, --cache-query-port, "
                "--web-port) or stop that process"
            )


def _topology(s: StackSettings) -> dict[str, Any]:
    return {"ports": s.port_map(), "caches": s.caches, "listen": s.listen}


def _start_carbon(s: StackSettings) -> None:
    """The caches, then (in a cluster) the relay in front of them; each listening before the
    next starts."""
    specs = graphite.carbon_specs(s)
    for spec, cache in zip(specs, cluster.caches(s), strict=True):
        procs.start(spec, s.pid_dir)
        line = s.carbon if s.caches == 1 else CarbonAddress(s.host, cache.line_port)
        _wait_listening(s, spec.name, cache.line_port, functools.partial(_accepts, line), 30.0)
    if s.caches > 1:
        procs.start(cluster.relay_spec(s, cluster.relay_binary()), s.pid_dir)
        relay_up = functools.partial(_accepts, s.carbon)
        _wait_listening(s, cluster.RELAY, s.carbon_port, relay_up, 30.0)


def _accepts(address: CarbonAddress) -> bool:
    return unreachable(address, timeout_s=0.5) is None


def _collectd_wanted(s: StackSettings) -> Path | None:
    if s.collectd == "off":
        return None
    return collectd.require_binary() if s.collectd == "on" else collectd.binary()


def up(s: StackSettings) -> dict[str, Any]:
    cluster.validate(s)
    with _locked(s):
        previous = _read_stack_file(s)
        running = _running(s, _stack_caches(s))
        if previous and running and set(running) >= set(process_order(_stack_caches(s))[:-1]):
            was = {"listen": "127.0.0.1", **{k: previous[k] for k in _topology(s) if k in previous}}
            if was != _topology(s):
                raise UsageError(
                    f"a stack already runs from {s.state_dir} with {_stack_caches(s)} cache(s) "
                    f"on ports {previous.get('ports')} (carbon on {was['listen']}); "
                    "run 'tare stack down' first"
                )
            canary(s, timeout_s=30.0)
            log.info("stack already running from %s", s.state_dir)
            return status(s)
        leftovers = _leftovers(s)
        if leftovers:
            log.warning("stopping leftovers of a partial stack: %s", ", ".join(leftovers))
            _stop_all(s)
        _check_ports(s)
        graphite.ensure_venv(s.graphite_venv)
        graphite.write_config(s, _secret_key(s))
        graphite.migrate(s)
        try:
            _start_carbon(s)
            procs.start(graphite.web_spec(s), s.pid_dir)
            web_up = lambda: _web_listening(s.host, s.web_port)  # noqa: E731
            _wait_listening(s, "graphite-web", s.web_port, web_up, 30.0)
            exe = _collectd_wanted(s)
            if exe is not None:
                conf = collectd.write_config(s)
                collectd.preflight(exe, conf)
                procs.start(collectd.spec(s, exe), s.pid_dir)
            took = canary(s)
        except BaseException:
            _stop_all(s)
            raise
        s.stack_file.write_text(
            json.dumps({**_topology(s), "host": s.host, "started": time.time()}) + "\n"
        )
        log.info("stack up from %s; canary read back in %.2f s", s.state_dir, took)
        return status(s)


def _leftovers(s: StackSettings) -> list[str]:
    """Every process of ours still running from this state directory, whatever topology
    started it (pid files name them)."""
    return [name for name in _names_on_disk(s) if procs.running_pid(s.pid_dir, name)]


def _names_on_disk(s: StackSettings) -> list[str]:
    """Names with a pid file here, in stop order (collectd, web, relay, caches)."""
    names = {p.name[len("tare-") : -len(".pid")] for p in s.pid_dir.glob("tare-*.pid")}
    order = (*process_order(cluster.MAX_CACHES)[::-1], "carbon-cache")
    return [n for n in order if n in names] + sorted(names - set(order))


def _stop_all(s: StackSettings) -> list[str]:
    stopped = []
    for name in _names_on_disk(s):
        if procs.stop(s.pid_dir, name):
            stopped.append(name)
    return stopped


def down(s: StackSettings) -> list[str]:
    """Stop what tare started from this state directory; returns the names stopped."""
    with _locked(s):
        stopped = _stop_all(s)
        s.stack_file.unlink(missing_ok=True)
        return stopped


def status(s: StackSettings) -> dict[str, Any]:
    info = _read_stack_file(s) or {}
    caches = _stack_caches(s)
    running = _running(s, caches)
    ports = info.get("ports") or s.port_map()
    host = info.get("host") or s.host
    render_url = f"http://{host}:{ports['web_port']}"
    order = process_order(caches)
    graphite_up = set(running) >= set(order[:-1])
    exe = collectd.binary()
    shape = dataclasses.replace(s, caches=caches, listen=info.get("listen", s.listen), **ports)
    return {
        "state_dir": str(s.state_dir),
        "running": graphite_up,
        "graphite": {
            "render_url": render_url,
            "carbon": str(shape.carbon),
            # the relay speaks the line protocol only; a cluster has no single pickle port
            "carbon_pickle": (
                str(CarbonAddress(host, ports["pickle_port"])) if caches == 1 else None
            ),
            "cache_query": f"{host}:{ports['cache_query_port']}",
            "responding": graphite_up and GraphiteClient(render_url, timeout_s=3.0).ping(),
            "venv": str(s.graphite_venv),
        },
        "collectd": {
            "installed": exe is not None,
            "running": "collectd" in running,
            "pid": running.get("collectd"),
            "config": str(collectd.config_path(s)) if "collectd" in running else None,
        },
        "topology": _describe_topology(shape, running),
        "processes": {
            name: {"pid": running.get(name), "running": name in running} for name in order
        },
    }


def _describe_topology(s: StackSettings, running: dict[str, int]) -> dict[str, Any]:
    """Who receives what: the relay (in a cluster), its hash, and every cache."""
    names = process_order(s.caches)
    relay = s.caches > 1
    return {
        "caches": s.caches,
        "relay": (
            {
                "address": str(s.carbon),
                "hash": cluster.HASH,
                "pid": running.get(cluster.RELAY),
                "config": str(cluster.relay_conf_path(s)),
                "queue_per_cache": cluster.RELAY_QUEUE,
            }
            if relay
            else None
        ),
        "writers_send_to": str(s.carbon),
        "members": [
            {
                "instance": c.instance,
                "process": name,
                "pid": running.get(name),
                "line": f"{s.host}:{c.line_port}",
                "pickle": f"{s.host}:{c.pickle_port}",
                "cache_query": f"{s.host}:{c.query_port}",
                "whisper_dir": str(c.whisper_dir),
            }
            for c, name in zip(cluster.caches(s), names, strict=False)
        ],
    }
