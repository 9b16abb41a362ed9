#!/usr/bin/env bash
# Install nginx from Debian's own package for the reverse proxy (scripts/proxy.sh, tests/e2e/test_proxy.py), only
# when it is missing. The project runs nginx itself, as its own process with its own config (artifacts/deploy/); the
# Debian package's system service (the default site on port 80) is not wanted, so if this script installed the
# package and the service came up, it stops and disables it again.
set -euo pipefail

NGINX=/usr/sbin/nginx
if [ -x "$NGINX" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "installing Debian's nginx package for the reverse proxy"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
test -x "$NGINX" || { echo "nginx did not install at $NGINX" >&2; exit 1; }

# The system service: stopped and disabled (it would serve Debian's default page on port 80 and hold the port).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  $SUDO systemctl disable --now nginx.service >/dev/null 2>&1 || true
elif [ -x /etc/init.d/nginx ]; then
  $SUDO invoke-rc.d nginx stop >/dev/null 2>&1 || true
  $SUDO update-rc.d nginx disable >/dev/null 2>&1 || true
fi
echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') is at $NGINX (its system service is off: scripts/proxy.sh runs it)"
