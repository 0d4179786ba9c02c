#!/usr/bin/env bash
# The whole test suite: install from nothing, lint, type-check, then unit and integration tests
# against real carbon + graphite-web and collectd (each test starts what it needs on free ports).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh || { echo "test: bootstrap failed" >&2; exit 1; }

.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1
.venv/bin/mypy || exit 1

run_pytest() {
  .venv/bin/pytest "$@"
  local code=$?
  if [ "$code" -eq 5 ]; then
    # pytest's 5 means no test was collected: for this suite that is a failure, never a pass.
    echo "test: pytest collected no tests ($*); failing" >&2
    return 1
  fi
  return "$code"
}

for arg in "$@"; do
  case "$arg" in -*) ;; *) run_pytest "$@"; exit $? ;; esac  # a selection: run just that
done
# The unit tests on two processes; then the lab tests (integration, faults) one at a time, since
# they measure and two at once would disturb each other.
run_pytest -n 2 "$@" tests/unit || exit $?
run_pytest -p no:xdist --durations=15 "$@" tests/integration tests/faults
