#!/usr/bin/env bash
# The main job on the embedded default: install, start the local Graphite stack (with collectd),
# then run the quickstart campaign: the reference nftables agent (tare-refagent) absent
# (baseline) and in each of its modes, at 1K and 5K new connections/s, in a two-namespace lab,
# with every run's KPIs and load results in Graphite and recorded in the run ledger; then the
# overhead of each mode against baseline with its confidence interval, written back to Graphite
# as nightly series, an HTML report, and the alert check on the nightly trends (`tare nightly`).
# As root (namespaces, nftables); about 9 minutes (8 min 41 s to 9 min 26 s, five tries on a
# 2-core VM, 2026-12-07).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
TARE=.venv/bin/tare
$TARE stack up
$TARE validate examples/quickstart.toml
$TARE plan examples/quickstart.toml
# The night in one command: run, analyze, alert, report, then the overhead table, the alert
# summary and one line with the report's path. A run that did not reach its load is invalid
# (exit 5): left out and listed, the overheads of the valid runs still given.
exec $TARE nightly examples/quickstart.toml --notify console
