#!/usr/bin/env bash
# Install headless Chromium from Debian's own package for the browser tests, only when it is missing.
# Playwright drives this binary (executable_path=/usr/bin/chromium); it never downloads a browser of its own.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "installing Debian's chromium package for the browser tests"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
test -x /usr/bin/chromium || { echo "chromium did not install at /usr/bin/chromium" >&2; exit 1; }
echo "chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}') is at /usr/bin/chromium"
