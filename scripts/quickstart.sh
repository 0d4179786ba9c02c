#!/usr/bin/env bash
# The main job on the embedded default: install, start the local Graphite stack (with collectd),
# validate the quickstart campaign, and show what the stack records.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
TARE=.venv/bin/tare
$TARE stack up
$TARE validate examples/quickstart.toml
$TARE stack status
