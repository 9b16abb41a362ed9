#!/usr/bin/env bash
# Install the web chat widget's browser bundle (rasa-webchat, pinned in web/package-lock.json) into web/node_modules,
# only when it is missing or the lock changed. The Rasa server serves it from there at /chat/assets/rasa-webchat.js,
# so nothing is fetched from a CDN when a pupil opens the chat. Called by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/../web"

BUNDLE=node_modules/rasa-webchat/lib/index.js
STAMP=node_modules/.policybot-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"

if [ -f "$BUNDLE" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to install the web chat widget (Debian: apt-get install npm)" >&2; exit 1; }
echo "installing the web chat widget (npm ci in web/)"
# web/.npmrc: no install scripts, no peer dependencies (the bundle includes React), no audit or funding calls.
npm ci --no-audit --no-fund --loglevel=error
test -f "$BUNDLE" || { echo "npm ci finished but $BUNDLE is missing" >&2; exit 1; }
echo "$want" > "$STAMP"
