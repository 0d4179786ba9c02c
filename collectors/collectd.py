"""Find collectd and check a config with it (the only module that runs the collectd binary)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SEARCH_PATH = "/usr/sbin:/usr/local/sbin:/sbin"


class CollectdUnavailable(Exception):
    """collectd is missing, or rejected a config."""


def binary() -> Path | None:
    found = shutil.which("collectd") or shutil.which("collectd", path=SEARCH_PATH)
    return Path(found) if found else None


def require_binary() -> Path:
    exe = binary()
    if exe is None:
        raise CollectdUnavailable(
            "collectd is not installed (apt-get install collectd-core libpython3.11)"
        )
    return exe


def preflight(exe: Path, conf: Path, timeout_s: float = 60.0) -> None:
    """``collectd -T`` loads plugins and runs one read cycle; ``-t`` passes configs it rejects."""
    proc = subprocess.run(
        [str(exe), "-T", "-C", str(conf)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    text = (proc.stderr + proc.stdout).strip().splitlines()
    errors = [line for line in text if "error" in line.lower() or "failed" in line.lower()]
    if proc.returncode != 0:
        detail = (errors or text or ["no output"])[-1]
        raise CollectdUnavailable(f"collectd rejected {conf}: {detail}")
