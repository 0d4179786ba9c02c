"""One real night for every check that only reads what a night produced.

Built once per test run (the ``shared_night`` fixture in ``tests/conftest.py``) by
``tare nightly --fail-on-regression``, for real: a namespaces lab, nginx, h2load, the reference
agent in enforced mode against an absent one, collected by collectd with the sampler beside it
under a second prefix (``tarecmp``), into the session's real Graphite, analysed, alerted,
reported. Its design gives each reader something to read:

- adaptive, 2 rounds then a look, with a CPU target no lab reaches: a third round, then the
  budget, and the cell called too noisy tonight;
- a threshold every CPU overhead breaches: one regression, exit 1, a failed JUnit case;
- collectd and the sampler together: both collectors' series for the same seconds.

The checks that read it (the series in Graphite, the two collectors compared, analyze's tables
and write-back, the report in a browser, the dashboards' targets, the JUnit file, analyze with
carbon down) must not change it: one that needs to write copies ``state`` first
(``copy_state``). Checks that make a campaign *do* something (signals, resume, faults, profiles,
collectd stalls, SSH, cluster) keep campaigns of their own. ``docs/testing.md`` lists which is
which.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors import collectd as collectd_bin
from tests.conftest import Result, Stack, run_tare
from tests.lab import campaign

NAME = "analyzed"
CELL = f"linux.{NAME}.enforced.rate_1000.policy_size_1000"  # the JUnit class of its one cell
BREACH = '[[alerts.thresholds]]\nkpi = "cpu_cgroup"\nlimit = -1000\nmode = "enforced"\n'
ADAPTIVE = "adaptive = true\nmin_repeats = 2\nmax_repeats = 3\ntarget_ci = {cpu_cgroup = 0.001}"
COMPARED = 'collector = "collectd"\ncompare_prefix = "tarecmp"'
# a production setting the campaign asks for on the workload host (the kernel's default is 4096
# here): written, read back and listed as the lab's; everything else there stays the kernel's
PRODUCTION = '[lab.sysctls.workload]\n"net.core.somaxconn" = 8192\n'


@dataclass(frozen=True)
class Night:
    conf: Path
    state: Path
    junit: Path
    result: Result  # what `tare nightly ... --json` printed and its exit code
    collectd: bool  # collected by collectd (with the sampler beside it under `tarecmp`)

    @property
    def summary(self) -> dict[str, Any]:
        data = json.loads(self.result.out)
        assert isinstance(data, dict)
        return data

    def copy_state(self, to: Path) -> Path:
        """A copy of the night's state directory, for a check that writes (spools, stores)."""
        shutil.copytree(self.state, to, ignore=_not_files)
        return to


def _not_files(folder: str, names: list[str]) -> set[str]:
    """Sockets and pipes a lab left in its folder: nothing to copy (nor can they be)."""
    return {n for n in names if not (Path(folder, n).is_file() or Path(folder, n).is_dir())}


def build(root: Path, stack: Stack) -> Night:
    has_collectd = collectd_bin.binary() is not None
    conf = campaign(
        root,
        stack,
        name=NAME,
        rates="[1000]",
        repeats=2,
        clients=254,
        extra=BREACH + PRODUCTION,
        design=ADAPTIVE,
        collect=COMPARED if has_collectd else "",
    )
    state = root / "state"
    junit = root / "junit.xml"
    args = ("--state-dir", str(state), "--junit", str(junit), "--notify", "none", "--json")
    res = run_tare("nightly", str(conf), "--fail-on-regression", *args, timeout=600)
    return Night(conf, state, junit, res, has_collectd)
