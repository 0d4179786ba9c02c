#!/usr/bin/env bash
# The main job on the embedded default: install, start the local Graphite stack (with collectd),
# validate the quickstart campaign, then collect 15 s of the lab's KPIs (exact per-core CPU,
# memory, TCP, interfaces, conntrack, the stack's own processes) into Graphite under a
# run-tagged path, and read one back.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
TARE=.venv/bin/tare
$TARE stack up
$TARE validate examples/quickstart.toml
run_id="quickstart-$(date -u +%Y%m%dT%H%M%S)"
$TARE collect --run-id "$run_id" --duration 15 \
  --process carbon=carbon-cache.py --process graphite-web=gunicorn
host="$(.venv/bin/python -c 'import socket; from collectors.names import label; print(label(socket.gethostname()))')"
echo "exact busy CPU of all cores (% of one core), last 15 s, from Graphite's render API:"
curl -fsS "http://127.0.0.1:${TARE_WEB_PORT:-8080}/render?target=tare.runs.${run_id}.${host}.tare.cpu_all.busy_pct&from=-30s&format=csv" \
  | grep -v ",$" | tail -n 5
