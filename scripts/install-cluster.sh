#!/usr/bin/env bash
# Install what `make cluster` runs besides the assistant, from Debian's own packages, only when missing: PostgreSQL
# (trackers and the concern, induction and feedback stores), Redis (Rasa's lock store, Teams de-duplication, the web
# chat's socket.io queue and bindings) and nginx (scripts/install-nginx.sh). The project runs each as its own process
# with its own data directory and config (scripts/cluster.sh); the packages' system services are not wanted, so
# if this script installed a package whose service came up, it stops and disables it again.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
need=()
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ] || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing Debian's ${need[*]} for the cluster"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  for service in postgresql redis-server; do
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
      $SUDO systemctl disable --now "$service.service" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$service" ]; then
      $SUDO invoke-rc.d "$service" stop >/dev/null 2>&1 || true
      $SUDO update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
  done
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
test -x "$PG_BIN/postgres" || { echo "PostgreSQL did not install (no /usr/lib/postgresql/*/bin/postgres)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server did not install" >&2; exit 1; }
scripts/install-nginx.sh
