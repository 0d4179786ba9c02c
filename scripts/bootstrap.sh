#!/usr/bin/env bash
# Install everything tare needs on Debian 12, from nothing:
#   - system packages (as root): collectd, h2load, nftables, iproute2, nginx, httperf, conntrack,
#     carbon-c-relay (the Graphite cluster, `tare stack up --caches N`)
#     (and for the tests: chromium, docker-compose)
#   - the project's virtualenv (.venv) with tare and its development tools
#   - Graphite's own virtualenv (carbon, whisper, graphite-web; pinned apart from ours)
# Without root it says what it skipped; everything else still works.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  collectd-core libpython3.11   # collectd's python plugin needs libpython3.11, undeclared
  nghttp2-client httperf        # load generators (h2load, httperf)
  nginx-light                   # the default workload server
  nftables iproute2 conntrack   # the lab: namespaces, veth, firewall, conntrack table
  carbon-c-relay                # the Graphite cluster's consistent-hash relay (--caches N)
  openssh-client openssh-server # hosts reached over SSH (and the tests' sshd in a namespace)
  python3-venv curl
  chromium fonts-dejavu-core docker-compose  # the tests: the report in a real browser; compose
)

log() { echo "bootstrap: $*" >&2; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  case "$pkg" in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian's package may start a system-wide relay on port 2003, the stack's carbon port;
    # tare starts its own relay with its own config, so the system service stays off.
    if pgrep -f "carbon-c-relay .*-f /etc/carbon-c-relay.conf" >/dev/null 2>&1; then
      log "stopping Debian's carbon-c-relay service (it holds port 2003; tare runs its own)"
      service carbon-c-relay stop >/dev/null 2>&1 || pkill -f "carbon-c-relay .*-f /etc/carbon-c-relay.conf" || true
    fi
  else
    log "not root (or no apt-get): skipped system packages ${missing[*]};" \
        "collectd, the load tools and the namespace lab will be unavailable"
  fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.tare-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c "import tare" 2>/dev/null; then
  log "installing tare and its development tools into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  echo "$want" > "$stamp"
fi

.venv/bin/tare stack install >&2
log "ready: .venv/bin/tare"
