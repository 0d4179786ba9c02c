"""Test hosts made by the tests themselves: a network namespace and a cgroup (as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.lab import cgroup_dirs

# Inside the namespace: a TCP server and a client opening ~50 connections per second to it.
TRAFFIC = r"""
import socket, threading, time, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 8099)); srv.listen(128)
def serve():
    while True:
        c, _ = srv.accept(); c.recv(16); c.sendall(b"ok"); c.close()
threading.Thread(target=serve, daemon=True).start()
end = time.time() + float(sys.argv[1])
while time.time() < end:
    s = socket.create_connection(("127.0.0.1", 8099)); s.sendall(b"hi"); s.recv(16); s.close()
    time.sleep(0.02)
"""


def is_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class Sandbox:
    netns: str
    cgroup: str
    traffic: subprocess.Popen[bytes]
    sleeper: subprocess.Popen[bytes]
    sleeper_name: str
    pid_file: Path


@contextmanager
def sandbox(tmp_path: Path, seconds: float) -> Iterator[Sandbox]:
    uid = uuid.uuid4().hex[:6]
    netns = f"tare-t{uid}"
    cgroup = f"tare-test-{uid}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    dirs = cgroup_dirs(cgroup)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        for d in dirs:
            d.mkdir()
        sleeper_name = "tare-sleeper"
        sleeper_bin = tmp_path / sleeper_name
        shutil.copy("/bin/sleep", sleeper_bin)
        traffic = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-c", TRAFFIC, str(seconds)]
        )
        sleeper = subprocess.Popen(["ip", "netns", "exec", netns, str(sleeper_bin), str(seconds)])
        procs += [traffic, sleeper]
        pid_file = tmp_path / "traffic.pid"
        pid_file.write_text(f"{traffic.pid}\n")
        for d in dirs:
            for p in procs:
                (d / "cgroup.procs").write_text(f"{p.pid}\n")
        yield Sandbox(netns, cgroup, traffic, sleeper, sleeper_name, pid_file)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for d in dirs:
            if d.exists():
                d.rmdir()
        subprocess.run(["ip", "netns", "del", netns], check=False)
