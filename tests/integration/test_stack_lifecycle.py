"""``tare stack up|status|down`` on their own state directory and ports, twice in a row."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from tare.stack.procs import pid_file
from tests.conftest import free_ports, run_tare, stack_args


def _status(args: tuple[str, ...]) -> dict[str, object]:
    res = run_tare("stack", "status", *args, "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert isinstance(data, dict)
    return data


def test_up_status_down_twice_in_a_row(tmp_path: Path) -> None:
    args = stack_args(tmp_path / "state")
    try:
        for _ in range(2):
            res = run_tare("stack", "up", *args, "--json")
            assert res.code == 0, res.err
            first = json.loads(res.out)
            assert first["running"] is True
            assert first["graphite"]["responding"] is True
            web_port = args[args.index("--web-port") + 1]
            assert first["graphite"]["render_url"] == f"http://127.0.0.1:{web_port}"
            # up again is idempotent: same processes, canary checked again
            res = run_tare("stack", "up", *args, "--json")
            assert res.code == 0, res.err
            again = json.loads(res.out)
            assert again["processes"] == first["processes"]
            status = _status(args)
            assert status["processes"] == first["processes"]
            res = run_tare("stack", "down", *args)
            assert res.code == 0, res.err
            assert "stopped" in res.out and "carbon-cache" in res.out
            for proc in first["processes"].values():
                if proc["pid"]:
                    assert not _alive(proc["pid"])
            res = run_tare("stack", "down", *args)
            assert res.code == 0
            assert "nothing was running" in res.out
            assert _status(args)["running"] is False
    finally:
        run_tare("stack", "down", *args)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_port_held_by_another_process_is_exit_4(tmp_path: Path) -> None:
    args = list(stack_args(tmp_path / "state"))
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    args[args.index("--web-port") + 1] = str(port)
    try:
        res = run_tare("stack", "up", *args)
        assert res.code == 4, res.err
        assert f"port {port} (graphite-web)" in res.err
        assert "already in use" in res.err
        assert len(res.err.strip().splitlines()) == 1
        assert "Traceback" not in res.err
        assert _status(tuple(args))["running"] is False
    finally:
        holder.close()
        run_tare("stack", "down", *args)


def test_up_on_other_ports_while_running_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = stack_args(state)
    try:
        assert run_tare("stack", "up", *args, "--collectd", "off").code == 0
        other = stack_args(state)
        res = run_tare("stack", "up", *other)
        assert res.code == 2
        assert "already runs" in res.err
    finally:
        run_tare("stack", "down", *args)


def test_down_never_stops_a_process_tare_did_not_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        run_dir = state / "run"
        run_dir.mkdir(parents=True)
        # a stale pid file naming a live process that is not ours (its start time differs)
        pid_file(run_dir, "carbon-cache").write_text(f"{stranger.pid}\n12345.0\n")
        res = run_tare("stack", "down", "--state-dir", str(state))
        assert res.code == 0
        assert "nothing was running" in res.out
        assert stranger.poll() is None
        assert os.path.exists(f"/proc/{stranger.pid}")
    finally:
        stranger.kill()
        stranger.wait()


def test_carbon_port_taken_names_the_option(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    args = list(stack_args(tmp_path / "state"))
    args[args.index("--carbon-port") + 1] = str(port)
    try:
        res = run_tare("stack", "up", *args)
        assert res.code == 4
        assert "--carbon-port" in res.err
    finally:
        holder.close()
