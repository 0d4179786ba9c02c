"""The stack's collectd: host metrics into the local Graphite, where collectd is installed."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from collectors.collectd_conf import GraphiteTarget, HostConfig, render_host_config
from tare.errors import ServiceUnavailable
from tare.stack.procs import ProcSpec
from tare.stack.settings import StackSettings

SEARCH_PATH = "/usr/sbin:/usr/local/sbin:/sbin"


def binary() -> Path | None:
    found = shutil.which("collectd") or shutil.which("collectd", path=SEARCH_PATH)
    return Path(found) if found else None


def config_path(s: StackSettings) -> Path:
    return s.state_dir / "collectd" / "collectd.conf"


def write_config(s: StackSettings, prefix: str = "tare.hosts.") -> Path:
    base = s.state_dir / "collectd"
    base.mkdir(parents=True, exist_ok=True)
    cfg = HostConfig(
        hostname=socket.gethostname(),
        interval_s=1.0,
        base_dir=base,
        log_file=s.log_dir / "collectd.log",
        target=GraphiteTarget(host=s.host, port=s.carbon_port, prefix=prefix),
    )
    path = config_path(s)
    path.write_text(render_host_config(cfg))
    return path


def preflight(exe: Path, conf: Path) -> None:
    """``collectd -T`` loads plugins and runs one read cycle; ``-t`` passes configs it rejects."""
    proc = subprocess.run(
        [str(exe), "-T", "-C", str(conf)], capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        text = (proc.stderr + proc.stdout).strip().splitlines()
        raise ServiceUnavailable(f"collectd rejected {conf}: {text[-1] if text else 'no output'}")


def spec(s: StackSettings, exe: Path) -> ProcSpec:
    return ProcSpec(
        name="collectd",
        argv=(str(exe), "-f", "-C", str(config_path(s))),
        env={},
        cwd=s.state_dir,
        log_file=s.log_dir / "collectd.out",
    )
