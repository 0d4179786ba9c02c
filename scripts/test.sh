#!/usr/bin/env bash
# The test suite: install from nothing, lint, type-check, then the tests, against real carbon +
# graphite-web, collectd, nginx, h2load and nftables (each test starts what it needs on free
# ports and in namespaces it makes). docs/testing.md says what each tier checks.
#
#   scripts/test.sh            everything (the README's test command; CI runs it)
#   scripts/test.sh --quick    lint, types, unit tests and the cheapest real-server checks
#   scripts/test.sh PATH...    just that selection (after lint and types)
#
# Other arguments go to pytest. The property tests are derandomized wherever this runs; a wider
# exploration is `.venv/bin/pytest tests/unit --hypothesis-profile=explore`.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
args=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) args+=("$arg") ;;
  esac
done

scripts/bootstrap.sh || { echo "test: bootstrap failed" >&2; exit 1; }

.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1
# mypy (one core) beside the unit tests (two); its verdict is read once they are done.
types_log="$(mktemp)"
trap 'rm -f "$types_log"' EXIT
.venv/bin/mypy >"$types_log" 2>&1 &
types_pid=$!
types_verdict() {
  wait "$types_pid"
  local code=$?
  cat "$types_log"
  return "$code"
}

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

for arg in "${args[@]}"; do
  case "$arg" in -*) ;; *) types_verdict || exit 1; run_pytest "${args[@]}"; exit $? ;; esac
done  # a selection: run just that

# The unit tests on two processes.
run_pytest -n 2 "${args[@]}" tests/unit
unit=$?
types_verdict || exit 1
if [ "$unit" -ne 0 ]; then exit "$unit"; fi
if [ "$quick" = 1 ]; then
  run_pytest -n 2 -m quick "${args[@]}" tests/integration tests/faults
  exit $?
fi
# The shared tier: every real-server test that tolerates neighbours (services, and the lab
# campaigns whose verdicts are about the lab, each worker with its own lab lock), four at a
# time: most of them wait on servers and fixed-length runs. Six at a time was the rule until
# 2026-12-07, when the lab campaigns' 500/s generators fell 3-12 % short beside five others
# (the load from 254 client addresses, the access log and a VM stealing up to 25 points of a
# core that evening; which of them mattered is not known). Of those, the campaigns that need
# every run valid take two lanes (tests/lab.py: LANE_A, LANE_B): at most two load the machine.
# Then the solo tier, one test at a time and alone: what it judges (a known ballast, two
# collectors compared to a kernel tick, a machine's capacity, h2load flat out) is what a
# neighbour moves, or it is the neighbour (docs/testing.md). Both tiers run whatever the first
# gave; the first failure's code is the exit.
run_pytest -n 4 --dist loadgroup -m "not solo" --durations=15 "${args[@]}" tests/integration tests/faults
shared=$?
run_pytest -p no:xdist -m solo --durations=10 "${args[@]}" tests/integration tests/faults
solo=$?
if [ "$shared" -ne 0 ]; then exit "$shared"; fi
exit "$solo"
