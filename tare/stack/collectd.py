"""The stack's collectd: host metrics into the local Graphite, where collectd is installed."""

from __future__ import annotations

import socket
from pathlib import Path

from collectors.collectd import binary, daemon_argv, preflight, require_binary
from collectors.collectd_conf import GraphiteTarget, HostConfig, render_host_config
from contracts.paths import DEFAULT_PREFIX, hosts_prefix
from tare.stack.procs import ProcSpec
from tare.stack.settings import StackSettings

__all__ = ["binary", "config_path", "preflight", "require_binary", "spec", "write_config"]


def config_path(s: StackSettings) -> Path:
    return s.state_dir / "collectd" / "collectd.conf"


def write_config(s: StackSettings, prefix: str = hosts_prefix(DEFAULT_PREFIX)) -> Path:
    base = s.state_dir / "collectd"
    base.mkdir(parents=True, exist_ok=True)
    cfg = HostConfig(
        hostname=socket.gethostname(),
        interval_s=1.0,
        base_dir=base,
        log_file=s.log_dir / "collectd.log",
        target=GraphiteTarget(host=s.carbon.host, port=s.carbon_port, prefix=prefix),
    )
    path = config_path(s)
    path.write_text(render_host_config(cfg))
    return path


def spec(s: StackSettings, exe: Path) -> ProcSpec:
    return ProcSpec(
        name="collectd",
        argv=daemon_argv(exe, config_path(s)),
        env={},
        cwd=s.state_dir,
        log_file=s.log_dir / "collectd.out",
    )
