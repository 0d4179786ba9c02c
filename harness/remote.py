"""How a command reaches a host that is not this one: OpenSSH, to a Linux shell or to Windows'
PowerShell.

A ``Transport`` turns the argv a lab step would run into the argv that runs it there. Every
step goes through ``harness.lab.Host``; a host with a transport runs there, one without runs
here. SSH connections are shared (``ControlMaster``/``ControlPersist``), so after the first
handshake a step costs one round trip, not a key exchange. ``BatchMode`` means a missing key or
an unknown host fails at once with ssh's own words instead of waiting for a password nobody
types.

Pure command building; the only I/O is ``Ssh.close``, which ends the shared connection.
"""

from __future__ import annotations

import base64
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SSH_FAILED = 255  # ssh's own exit code when the connection (not the command) failed
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Transport(Protocol):
    @property
    def describe(self) -> str: ...

    def wrap(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        dedicated: bool = False,
    ) -> list[str]: ...


def _env_names(env: Mapping[str, str] | None) -> list[tuple[str, str]]:
    items = sorted((env or {}).items())
    for name, _ in items:
        if not _ENV_NAME.match(name):
            raise ValueError(f"environment variable name {name!r} cannot be passed to a host")
    return items


@dataclass(frozen=True, slots=True)
class Ssh:
    """OpenSSH to a Linux host: the remote command is one shell-quoted string."""

    destination: str
    user: str | None = None
    port: int = 22
    key: Path | None = None
    control_dir: Path = Path("/tmp")
    connect_timeout_s: int = 10
    known_hosts: Path | None = None  # None: the user's own known_hosts, strictly checked
    persist_s: int = 300

    def __post_init__(self) -> None:
        if not self.destination or self.destination.startswith("-") or " " in self.destination:
            raise ValueError(f"ssh destination {self.destination!r} is not a host name")
        if self.user is not None and (not self.user or not re.match(r"^[\w.-]+$", self.user)):
            raise ValueError(f"ssh user {self.user!r} is not a user name")
        if not 0 < self.port < 65536:
            raise ValueError(f"ssh port {self.port} is out of range 1-65535")

    @property
    def target(self) -> str:
        return f"{self.user}@{self.destination}" if self.user else self.destination

    @property
    def describe(self) -> str:
        return f"ssh {self.target}:{self.port}"

    def options(self, *, dedicated: bool = False) -> list[str]:
        """ssh and its options, up to the destination. ``dedicated``: a connection of its own
        (for a long-lived command: when its ssh ends, sshd ends its session there; a shared
        master would keep the session open)."""
        sharing = (
            ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
            if dedicated
            else [
                "-o", "ControlMaster=auto",
                # %C: a hash of host, port and user, short enough for a socket's 108 bytes
                "-o", f"ControlPath={self.control_dir}/tare-ssh-%C",
                "-o", f"ControlPersist={self.persist_s}",
            ]
        )  # fmt: skip
        argv = [
            "ssh",
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={self.connect_timeout_s}",
            *sharing,
            # a dead peer is noticed in ~6 s, so a dropped link fails the step, never hangs it
            "-o", "ServerAliveInterval=2",
            "-o", "ServerAliveCountMax=3",
            "-o", "LogLevel=ERROR",
            "-p", str(self.port),
        ]  # fmt: skip
        if self.key is not None:
            argv += ["-i", str(self.key), "-o", "IdentitiesOnly=yes"]
        if self.known_hosts is not None:
            argv += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
            argv += ["-o", "StrictHostKeyChecking=yes"]
        return argv

    def wrap(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        dedicated: bool = False,
    ) -> list[str]:
        remote = [f"{k}={v}" for k, v in _env_names(env)]
        remote = (["env", *remote] if remote else []) + list(argv)
        return [*self.options(dedicated=dedicated), self.target, "--", shlex.join(remote)]

    def to_record(self) -> dict[str, Any]:
        """What a lab record keeps to reach the host again (``tare lab down``)."""
        return {
            "destination": self.destination,
            "user": self.user,
            "port": self.port,
            "key": str(self.key) if self.key else None,
            "known_hosts": str(self.known_hosts) if self.known_hosts else None,
            "control_dir": str(self.control_dir),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Ssh:
        return cls(
            str(record["destination"]),
            user=record.get("user"),
            port=int(record.get("port", 22)),
            key=Path(record["key"]) if record.get("key") else None,
            known_hosts=Path(record["known_hosts"]) if record.get("known_hosts") else None,
            control_dir=Path(record.get("control_dir", "/tmp")),
        )

    def close(self) -> None:
        """End the shared connection (idempotent: nothing to end is fine)."""
        subprocess.run(
            [*self.options(), "-O", "exit", self.target],
            capture_output=True,
            check=False,
            timeout=15,
            stdin=subprocess.DEVNULL,
        )


def ps_quote(text: str) -> str:
    """A PowerShell single-quoted string literal: nothing inside is expanded."""
    return "'" + text.replace("'", "''") + "'"


def powershell_script(
    argv: Sequence[str], env: Mapping[str, str] | None = None, affinity: int | None = None
) -> str:
    """The PowerShell that runs ``argv`` with ``env`` set, on the cores of ``affinity`` (a
    bit mask) when given, and exits with its exit code."""
    if not argv:
        raise ValueError("no command to run")
    lines = ["$ErrorActionPreference = 'Stop'"]
    lines += [f"$env:{k} = {ps_quote(v)}" for k, v in _env_names(env)]
    exe, args = ps_quote(argv[0]), [ps_quote(a) for a in argv[1:]]
    if affinity is None:
        lines += [f"& {exe} {' '.join(args)}".rstrip(), "exit $LASTEXITCODE"]
    else:
        arglist = f" -ArgumentList @({', '.join(args)})" if args else ""
        lines += [
            f"$p = Start-Process -FilePath {exe}{arglist} -NoNewWindow -PassThru",
            f"$p.ProcessorAffinity = [IntPtr]{affinity}",
            "$p.WaitForExit()",
            "exit $p.ExitCode",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class WindowsSsh:
    """Windows' OpenSSH server, each step a PowerShell script passed as ``-EncodedCommand``
    (base64 of UTF-16LE), so no quoting of cmd.exe or PowerShell can split an argument."""

    ssh: Ssh
    affinity: int | None = None

    @property
    def describe(self) -> str:
        return f"{self.ssh.describe} (PowerShell)"

    def wrap(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        dedicated: bool = False,
    ) -> list[str]:
        script = powershell_script(argv, env, self.affinity)
        encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
        return [
            *self.ssh.options(dedicated=dedicated),
            self.ssh.target,
            "--",
            "powershell.exe",
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-EncodedCommand",
            encoded,
        ]


def connection_lost(returncode: int, stderr: str) -> str | None:
    """ssh's reason when the connection, not the command, failed; None otherwise."""
    if returncode != SSH_FAILED:
        return None
    words = " ".join(stderr.strip().splitlines()[-1:]) or "exit 255"
    return f"ssh: {words}"


def teardown_remote(record: Mapping[str, Any]) -> list[str]:
    """Stop what is left in a hosts lab's remote cgroups and remove them (idempotent). A host
    that cannot be reached is reported, not raised: the record is the only trace."""
    ssh = Ssh.from_record(record["ssh"])
    done: list[str] = []
    for d in record.get("remote_cgroups", []):
        q = shlex.quote(str(d))
        script = (
            f"[ -d {q} ] || exit 0; for i in 1 2 3 4 5 6 7 8 9 10; do "
            f"for p in $(cat {q}/cgroup.procs); do kill -9 $p 2>/dev/null; done; "
            f"rmdir {q} 2>/dev/null && exit 0; sleep 0.2; done; exit 1"
        )
        try:
            res = subprocess.run(
                ssh.wrap(["sh", "-c", script]),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            done.append(f"could not reach {ssh.target} to remove {d} (timed out)")
            continue
        lost = connection_lost(res.returncode, res.stderr)
        if lost is not None:
            done.append(f"could not reach {ssh.target} to remove {d}: {lost}")
        else:
            done.append(f"cgroup {d} on {ssh.target}" + ("" if res.returncode == 0 else ": busy"))
    return done
