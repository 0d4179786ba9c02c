"""Shared fixtures: the real ``tare`` command as a subprocess, free ports, a live stack."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.night import Night

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


GRACE_S = 60  # how long a stopped tare may take to tear its lab down before SIGKILL


def run_tare(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Result:
    """Run the real command line in a child process, as a user would. One that outlives its
    ``timeout`` is stopped as a user would stop it (SIGTERM, which tears its lab down, then
    SIGKILL and ``tare lab down``), so that it cannot poison the tests after it, and fails."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tare", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = stop(proc, state_dir_of(args, env))
        raise AssertionError(
            f"tare {' '.join(args)} did not end within {timeout:g} s; stopped (exit "
            f"{proc.returncode}); its stderr ends: {err[-2000:]}"
        ) from None
    return Result(proc.returncode, out, err)


def state_dir_of(args: Sequence[str], env: Mapping[str, str] | None = None) -> str | None:
    if "--state-dir" in args:
        return args[list(args).index("--state-dir") + 1]
    return (env or {}).get("TARE_STATE_DIR")


def stop(proc: subprocess.Popen[str], state_dir: str | Path | None) -> tuple[str, str]:
    """SIGTERM and wait (tare tears its lab down and exits 130), then SIGKILL; whatever a killed
    tare left is removed by ``tare lab down --force`` on its state directory."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    if state_dir is not None:
        subprocess.run(
            [sys.executable, "-m", "tare", "lab", "down", "--force", "--state-dir", str(state_dir)],
            capture_output=True,
            timeout=120,
            cwd=ROOT,
            check=False,
        )
    return out, err


def free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out; held open together so they are distinct."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class Stack:
    state_dir: Path
    args: tuple[str, ...]
    render_url: str
    carbon_host: str
    carbon_port: int
    pickle_port: int
    info: dict[str, object]


def _binds(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stack_ports(caches: int = 1) -> tuple[int, int, int, int]:
    """Carbon line, pickle, cache query and web ports, free now. A cluster's caches listen 100
    ports above each base (tare.stack.cluster): for one, the product's own check must accept the
    bases (every derived port in range, none clashing) and the derived ports must be free too
    (the kernel hands out ports up to 65535 here)."""
    from contracts.errors import UsageError
    from tare.stack import cluster
    from tare.stack.settings import resolve

    for _ in range(100):
        bases = carbon, pickle, query, web = free_ports(4)
        if caches == 1:
            return carbon, pickle, query, web
        s = resolve(
            {},
            caches=caches,
            carbon_port=carbon,
            pickle_port=pickle,
            cache_query_port=query,
            web_port=web,
        )
        try:
            cluster.validate(s)
        except UsageError:
            continue
        if all(_binds(p) for p in set(cluster.ports(s).values()) - set(bases)):
            return carbon, pickle, query, web
    raise RuntimeError(f"no free ports for a stack of {caches} caches in 100 tries")


def stack_args(state_dir: Path, caches: int = 1) -> tuple[str, ...]:
    carbon, pickle, query, web = stack_ports(caches)
    return (
        "--state-dir",
        str(state_dir),
        "--carbon-port",
        str(carbon),
        "--pickle-port",
        str(pickle),
        "--cache-query-port",
        str(query),
        "--web-port",
        str(web),
    )


@pytest.fixture(scope="session")
def graphite_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One real carbon + graphite-web (+ collectd where installed) for the whole session."""
    state = tmp_path_factory.mktemp("stack")
    args = stack_args(state)
    res = run_tare("stack", "up", *args, "--json")
    if res.code != 0:
        pytest.fail(f"tare stack up failed ({res.code}): {res.err}")
    info = json.loads(res.out)
    host, port = info["graphite"]["carbon"].rsplit(":", 1)
    try:
        yield Stack(
            state_dir=state,
            args=args,
            render_url=info["graphite"]["render_url"],
            carbon_host=host,
            carbon_port=int(port),
            pickle_port=int(info["graphite"]["carbon_pickle"].rsplit(":", 1)[1]),
            info=info,
        )
    finally:
        run_tare("stack", "down", *args)


# The property tests are the same wherever the suite runs, for a user as for CI: a fixed,
# derandomized set of examples by default (a failure found once is found every time, and what a
# user sees CI sees). A wider, random exploration is opt-in:
#   .venv/bin/pytest tests/unit --hypothesis-profile=explore
# and what it finds becomes an explicit @example in the test.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("repeatable", derandomize=True, deadline=None, database=None)
_hypothesis_settings.register_profile("explore", max_examples=2000, deadline=None)
_hypothesis_settings.load_profile("repeatable")


# The suite's tiers (scripts/test.sh). The shared tier (real servers, and the lab campaigns whose
# verdicts are about the lab, at 500/s) runs six tests at a time, each test worker with its own
# lab lock (TARE_LOCK_DIR, below); the solo tier (marked `solo`: the calibration, the shared
# night and its readers, h2load flat out, a hog) one at a time and alone after it: what it judges
# is what a neighbour moves, or it is the neighbour (docs/testing.md says what failed side by
# side). LAB_MODULES marks the lab campaigns `lab`, whichever tier runs them. The quick tier is
# the cheapest real-server checks, for the inner loop (`--quick`).
LAB_MODULES = frozenset(
    {
        "tests/integration/test_agent_steps.py",
        "tests/integration/test_calibrate.py",
        "tests/integration/test_collectd_runs.py",
        "tests/integration/test_harness.py",
        "tests/integration/test_nightly_many.py",
        "tests/integration/test_profiles.py",
        "tests/integration/test_ssh_lab.py",
        "tests/faults/test_signals.py",
        "tests/faults/test_truthful_output.py",
        "tests/faults/test_workload_port.py",
    }
)
QUICK_MODULES = frozenset(
    {
        "tests/integration/test_graphite.py",
        "tests/integration/test_collectd.py",
        "tests/faults/test_changepoints_input.py",
        "tests/faults/test_labels.py",
        "tests/faults/test_state_files.py",
        "tests/faults/test_validator.py",
    }
)


# The longest tests first (the shared tier's workers take tests in this order, so the long ones
# do not end up last on one worker while the others idle): profiles ~220 s, the shared night
# ~110 s, the SSH lab ~100 s, two campaigns at once ~65 s, the outages ~57 s each.
LONGEST_FIRST = (
    "tests/integration/test_profiles.py",
    "tests/integration/test_harness.py::test_the_night_runs",
    "tests/integration/test_harness.py::test_analyze_overhead",
    "tests/faults/test_truthful_output.py::test_analyze_with_carbon_down",
    "tests/integration/test_ssh_lab.py",
    "tests/integration/test_nightly_many.py",
    "tests/integration/test_cluster.py::test_a_cache_stopped",
    "tests/faults/test_carbon_outage.py",
    "tests/faults/test_signals.py",
    "tests/integration/test_harness.py::test_a_run_disturbed",
)


def _rank(item: pytest.Item) -> int:
    ranks = (k for k, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix))
    return next(ranks, len(LONGEST_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = Path(str(item.fspath)).relative_to(ROOT).as_posix()
        if module in LAB_MODULES:
            item.add_marker(pytest.mark.lab)
        if module in QUICK_MODULES:
            item.add_marker(pytest.mark.quick)
    items.sort(key=_rank)  # stable: the rest keep their order


def pytest_configure(config: pytest.Config) -> None:
    """Each test worker its own lab lock: the machine's one lock would make the labs of tests
    running side by side refuse each other (a test of the lock sets its own directory)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and "TARE_LOCK_DIR" not in os.environ:
        os.environ["TARE_LOCK_DIR"] = tempfile.mkdtemp(prefix=f"tare-locks-{worker}-")


# The end-of-suite check: whatever a test left on the machine (namespace, cgroup, nft table,
# process) fails the run, naming it (tests/leftovers.py).
_BEFORE: list[object] = []


def _marks(session: pytest.Session) -> tuple[str, ...]:
    return (str(session.config._tmp_path_factory.getbasetemp()), "-m tare ")  # type: ignore[attr-defined]


def pytest_sessionstart(session: pytest.Session) -> None:
    from tests.leftovers import snapshot

    if not hasattr(session.config, "workerinput"):  # the controller, with or without xdist
        _BEFORE.append(snapshot(_marks(session)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.leftovers import Snapshot, added, snapshot

    if not _BEFORE or not isinstance(_BEFORE[0], Snapshot):
        return
    left = added(_BEFORE[0], snapshot(_marks(session)))
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["the suite left these behind (a test did not clean up):", *left]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        else:
            print("\n".join(lines), file=sys.stderr)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def shared_night(graphite_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Night:
    """One real night, built once per test run, for the checks that only read it
    (``tests/night.py``)."""
    from tests.night import build
    from tests.sandbox import is_root

    if not is_root():
        pytest.skip("the namespaces lab needs root")
    return build(tmp_path_factory.mktemp("night"), graphite_stack)
