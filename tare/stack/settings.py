"""Where the local stack lives and which addresses it uses.

Every value comes from a command-line option, else an environment variable, else a default:
``TARE_STATE_DIR`` (./var), ``TARE_GRAPHITE_VENV`` (~/.local/share/tare/graphite-venv),
``TARE_CARBON_PORT`` (2003), ``TARE_PICKLE_PORT`` (2004), ``TARE_CACHE_QUERY_PORT`` (7002),
``TARE_WEB_PORT`` (8080), ``TARE_COLLECTD`` (auto|on|off), ``TARE_CACHES`` (1: one carbon-cache;
N > 1: carbon-c-relay in front of N caches, see ``tare.stack.cluster``). A settings file's
``[stack]`` table (``--settings``, env ``TARE_SETTINGS``) sits between the environment and the
defaults. ``TARE_LISTEN`` (127.0.0.1) is where the carbon port listens: an address other hosts
reach lets their collectors push to it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from contracts.addresses import CarbonAddress
from contracts.errors import UsageError

CollectdChoice = Literal["auto", "on", "off"]

PORT_ENV = {
    "carbon_port": ("TARE_CARBON_PORT", 2003),
    "pickle_port": ("TARE_PICKLE_PORT", 2004),
    "cache_query_port": ("TARE_CACHE_QUERY_PORT", 7002),
    "web_port": ("TARE_WEB_PORT", 8080),
}
PORT_ROLES = {
    "carbon_port": "carbon line receiver",
    "pickle_port": "carbon pickle receiver",
    "cache_query_port": "carbon cache query",
    "web_port": "graphite-web",
}


def default_state_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("TARE_STATE_DIR", "var"))


def default_graphite_venv(env: Mapping[str, str]) -> Path:
    if "TARE_GRAPHITE_VENV" in env:
        return Path(env["TARE_GRAPHITE_VENV"])
    home = env.get("HOME") or str(Path.home())
    data_home = env.get("XDG_DATA_HOME") or str(Path(home) / ".local" / "share")
    return Path(data_home) / "tare" / "graphite-venv"


@dataclass(frozen=True, slots=True)
class StackSettings:
    state_dir: Path
    graphite_venv: Path
    host: str = "127.0.0.1"
    carbon_port: int = 2003
    pickle_port: int = 2004
    cache_query_port: int = 7002
    web_port: int = 8080
    collectd: CollectdChoice = "auto"
    caches: int = 1
    # where the carbon port (the relay, in a cluster) listens: 127.0.0.1, or an address other
    # hosts reach, so that their collectors push to it themselves; everything else stays local
    listen: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if not 1 <= self.caches <= 16:
            raise UsageError(f"caches = {self.caches}: must be between 1 and 16")
        seen: dict[int, str] = {}
        for name, role in PORT_ROLES.items():
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise UsageError(f"{role} port {port} is out of range 1-65535")
            if port in seen:
                raise UsageError(f"{role} and {seen[port]} both use port {port}")
            seen[port] = role

    @property
    def render_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def carbon(self) -> CarbonAddress:
        """Where writers send: the listening address (this machine's own, for a wildcard)."""
        wildcard = self.listen in ("0.0.0.0", "::")
        return CarbonAddress(self.host if wildcard else self.listen, self.carbon_port)

    @property
    def graphite_dir(self) -> Path:
        return self.state_dir / "graphite"

    @property
    def pid_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    @property
    def stack_file(self) -> Path:
        return self.state_dir / "run" / "stack.json"

    def port_map(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in PORT_ROLES}


def _env_int(env: Mapping[str, str], key: str, default: int, what: str = "a port number") -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"environment variable {key}={raw!r} is not {what}") from None


def resolve(
    env: Mapping[str, str] | None = None,
    *,
    state_dir: Path | None = None,
    graphite_venv: Path | None = None,
    collectd: CollectdChoice | None = None,
    caches: int | None = None,
    settings_file: Path | None = None,
    listen: str | None = None,
    **ports: int | None,
) -> StackSettings:
    """Options win over environment variables, which win over a settings file's ``[stack]``,
    which wins over defaults."""
    env = os.environ if env is None else env
    unknown = set(ports) - set(PORT_ENV)
    if unknown:
        raise UsageError(f"unknown port setting(s): {', '.join(sorted(unknown))}")
    if settings_file is None and env.get("TARE_SETTINGS"):
        settings_file = Path(env["TARE_SETTINGS"])
    filed = read_stack_table(settings_file) if settings_file is not None else {}
    values: dict[str, int] = {}
    for name, (key, default) in PORT_ENV.items():
        given = ports.get(name)
        fallback = int(filed.get(name, default))
        values[name] = given if given is not None else _env_int(env, key, fallback)
    if caches is None:
        caches = _env_int(env, "TARE_CACHES", int(filed.get("caches", 1)), "a cache count")
    listen = listen or env.get("TARE_LISTEN") or str(filed.get("listen", "127.0.0.1"))
    try:
        ipaddress.ip_address(listen)
    except ValueError:
        raise UsageError(f"listen address {listen!r} is not an IP address") from None
    choice = collectd or env.get("TARE_COLLECTD") or str(filed.get("collectd", "auto"))
    if choice not in ("auto", "on", "off"):
        raise UsageError(f"TARE_COLLECTD={choice!r}: must be auto, on or off")
    return StackSettings(
        state_dir=(state_dir or default_state_dir(env)).absolute(),
        graphite_venv=(graphite_venv or default_graphite_venv(env)).absolute(),
        carbon_port=values["carbon_port"],
        pickle_port=values["pickle_port"],
        cache_query_port=values["cache_query_port"],
        web_port=values["web_port"],
        collectd=choice,  # type: ignore[arg-type]
        caches=caches,
        listen=listen,
    )


def read_stack_table(path: Path) -> dict[str, Any]:
    """The ``[stack]`` table of a settings file, validated; a ConfigError naming file and key."""
    from tare.configfile import parse_model, read_text
    from tare.stack.settings_file import SettingsFile

    label = str(path)
    model = parse_model(read_text(path, label, "settings file"), label, SettingsFile)
    return model.stack.model_dump(exclude_none=True) if model.stack else {}
