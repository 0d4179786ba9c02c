"""The lab's shape, checked: contracts import nothing of the project, stages never import each
other or the command, the command holds no numerical code and stays small, no private name
crosses a module, no import cycle, no path literal, state string or manifest key outside the
contracts, and every exception maps to a documented exit code."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.errors import ErrorKind, ExitCode, TareError, exit_code_for
from contracts.states import AlertKind, AlertState, CampaignState, RunState

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("harness", "collectors", "pipeline", "alerting", "dashboards")
PACKAGES = ("contracts", "tare", *STAGES)
DOCUMENTED = {ExitCode.REGRESSION, ExitCode.USAGE, ExitCode.BAD_INPUT}
DOCUMENTED |= {ExitCode.SERVICE_UNAVAILABLE, ExitCode.RUN_INVALID, ExitCode.INTERNAL}


def sources(*packages: str) -> Iterator[tuple[str, Path]]:
    for pkg in packages:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts).removesuffix(".__init__")
            yield name, path


def imports(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(module imported, names imported from it, line) for every import, wherever it is."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names], node.lineno


def top(module: str) -> str:
    return module.split(".", maxsplit=1)[0]


def test_contracts_import_nothing_of_the_project() -> None:
    bad = [
        f"{name}:{line} imports {mod}"
        for name, path in sources("contracts")
        for mod, _, line in imports(path)
        if top(mod) in PACKAGES and top(mod) != "contracts"
    ]
    assert not bad


def test_stages_import_only_themselves_and_the_contracts() -> None:
    bad = [
        f"{name}:{line} imports {mod}"
        for name, path in sources(*STAGES)
        for mod, _, line in imports(path)
        if top(mod) in PACKAGES and top(mod) not in (top(name), "contracts")
    ]
    assert not bad


def test_no_private_name_crosses_a_module() -> None:
    bad = [
        f"{name}:{line} imports {n} from {mod}"
        for name, path in sources(*PACKAGES)
        for mod, names, line in imports(path)
        if top(mod) in PACKAGES
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert not bad


def test_no_import_cycle() -> None:
    modules = dict(sources(*PACKAGES))
    graph = {
        name: {m for m, _, _ in imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    # a package's __init__ importing its own modules is not a cycle of concern; none do here
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles


def lines(*packages: str) -> int:
    return sum(len(p.read_text().splitlines()) for _, p in sources(*packages))


def test_the_command_layer_only_wires() -> None:
    numeric = [
        f"{name}:{line} imports {mod}"
        for name, path in sources("tare")
        for mod, _, line in imports(path)
        if top(mod) in ("numpy", "scipy", "pandas")
    ]
    assert not numeric
    share = lines("tare") / (lines(*PACKAGES) + lines("examples"))
    assert share < 0.25, f"tare/ holds {share:.1%} of the non-test code"


# Literals that belong to the contracts: state values compared or stored as strings, path
# levels of the scheme, and the manifest's keys read from dicts. (Words like "running" or
# "runs" elsewhere, as JSON keys or messages, are not states or paths.)
STATE = "|".join(s.value for e in (RunState, CampaignState, AlertState, AlertKind) for s in e)
Q = "[\"']"
LITERALS = [
    (re.compile(rf"(==|!=|\bis|\bin)\s*[(\[{{]?\s*{Q}({STATE}){Q}"), "a state compared"),
    (re.compile(rf"{Q}({STATE}){Q}\s*(==|!=|\bin\b)"), "a state compared"),
    (re.compile(rf"(status|state)\s*=\s*{Q}?'({STATE})'"), "a state in SQL"),
    (re.compile(rf"{Q}[^\"'\n<]*\.(runs|nightly|capacity|hosts)\.[^\"'\n]*{Q}"), "a path"),
    (re.compile(rf"{Q}(nightly|hosts|rate_|canary)[.{Q}]"), "a path level"),
    (re.compile(r"\{[\w.]*prefix[\w.]*\}\."), "a path built from the prefix"),
    (re.compile(rf"{Q}tare\.(cgroup|cpu_|memory|net_|tcp|conntrack|canary)"), "a KPI path"),
    (re.compile(r"manifest\s*(\[|\.get\()"), "a manifest read as a dict"),
    (
        re.compile(rf"{Q}(baseline_of|agent_version|workload_cpus|teardown_problems){Q}"),
        "a manifest key",
    ),
]


def test_no_path_literal_state_string_or_manifest_key_outside_the_contracts() -> None:
    bad = []
    for name, path in sources("tare", *STAGES):
        for no, text in enumerate(path.read_text().splitlines(), 1):
            code = text.split("#", 1)[0]
            for pattern, what in LITERALS:
                if pattern.search(code):
                    bad.append(f"{name}:{no}: {what}: {text.strip()}")
    assert not bad, "\n".join(bad)


def project_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for pkg in PACKAGES:
        package = importlib.import_module(pkg)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{pkg}."):
            if info.name.endswith(".__main__"):
                continue
            module = importlib.import_module(info.name)
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if issubclass(obj, BaseException) and obj.__module__ == info.name:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def test_every_exception_maps_to_a_documented_exit_code() -> None:
    classes = project_exceptions()
    assert len(classes) >= 20  # the walk found the stages' errors
    for cls in classes:
        if issubclass(cls, KeyboardInterrupt):  # a stop signal (contracts.interrupts): 130
            assert exit_code_for(cls(2)) is ExitCode.INTERRUPTED
            continue
        assert issubclass(cls, TareError), f"{cls.__module__}.{cls.__name__} has no kind"
        assert isinstance(cls.kind, ErrorKind)
        exc = cls.__new__(cls)
        assert exit_code_for(exc) in DOCUMENTED, cls


def test_a_crash_is_70_never_the_code_of_a_regression() -> None:
    assert exit_code_for(ZeroDivisionError()) is ExitCode.INTERNAL
    assert exit_code_for(KeyboardInterrupt()) is ExitCode.INTERRUPTED
    assert ErrorKind.REGRESSION.value is ExitCode.REGRESSION


PORTABLE = """
import sys, socket, threading
sys.modules["fcntl"] = None  # as on Windows: importing it fails
sys.modules["msvcrt"] = None
from pathlib import Path
from collectors.sender import CarbonSender
from collectors.standalone import collect
from collectors.psutil_sampler import PsutilSampler
from contracts.addresses import CarbonAddress
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
got = []
def serve():
    conn, _ = srv.accept()
    with conn:
        while data := conn.recv(65536):
            got.append(data)
t = threading.Thread(target=serve); t.start()
sender = CarbonSender(CarbonAddress("127.0.0.1", srv.getsockname()[1]), Path(sys.argv[1]))
sampler = PsutilSampler((), ())
stats = collect(sampler, sender, "tare.runs.r.h.tare", duration_s=1.5)
sampler.close(); sender.close(); t.join(10)
text = b"".join(got).decode()
assert stats.samples >= 1 and "tare.runs.r.h.tare.cpu_all.busy_pct" in text, text[:200]
print("ok", stats.samples)
"""


def test_the_standalone_collector_runs_where_fcntl_is_absent(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PORTABLE, str(tmp_path / "spool")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")


@pytest.mark.parametrize("module", ["contracts.paths", "contracts.manifest", "contracts.errors"])
def test_contracts_import_alone(module: str) -> None:
    others = [p for p in PACKAGES if p != "contracts"]
    loaded = "[m for m in sys.modules if m.split('.')[0] in " + repr(others) + "]"
    code = f"import sys, {module}\nassert not {loaded}, {loaded}"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
