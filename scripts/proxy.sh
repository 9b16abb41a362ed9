#!/usr/bin/env bash
# Run the reverse proxy (nginx) with the config `make deploy-config` wrote: `make proxy`.
#
#   scripts/proxy.sh           check the config, then run nginx in the foreground (Ctrl-C or SIGTERM stops it)
#   scripts/proxy.sh reload    re-read the config and certificates (after a renewal) without dropping connections
#   scripts/proxy.sh reopen    reopen the log files (after they were moved or deleted, e.g. by log retention)
#   scripts/proxy.sh stop      stop a proxy started from another terminal
#   scripts/proxy.sh check     nginx -t only
#
# nginx runs as the project's own process, as the user who starts it, with its pid file and temporary folders under
# DEPLOY_DIR/run (artifacts/deploy/run) and its logs in the config's log folder (logs/); not as Debian's nginx
# service, which scripts/install-nginx.sh leaves off. Started as root, nginx's workers run as nobody.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077

DEPLOY_DIR="${DEPLOY_DIR:-artifacts/deploy}"
case "$DEPLOY_DIR" in /*) ;; *) DEPLOY_DIR="$PWD/$DEPLOY_DIR" ;; esac
CONF="$DEPLOY_DIR/nginx.conf"
NGINX="${NGINX:-/usr/sbin/nginx}"

[ -f "$CONF" ] && [ -f "$DEPLOY_DIR/deploy.env" ] \
  || { echo "proxy: no $CONF; write it first: make deploy-config (see README, 'Deploying for a school')" >&2; exit 2; }
[ -x "$NGINX" ] || { echo "proxy: nginx is not installed at $NGINX; run scripts/install-nginx.sh (make nginx)" >&2; exit 2; }
# shellcheck source=/dev/null
. "$DEPLOY_DIR/deploy.env"
mkdir -p "$DEPLOY_DIR/run" "$LOG_DIR"
nginx() { "$NGINX" -p "$DEPLOY_DIR/" -c "$CONF" "$@"; }

case "${1:-run}" in
  check)  nginx -t ;;
  reload) nginx -s reload && echo "proxy: reloaded $CONF" ;;
  reopen) nginx -s reopen ;;
  stop)   nginx -s quit && echo "proxy: stopping" ;;
  run)
    nginx -t -q || { echo "proxy: nginx refused $CONF (above)" >&2; exit 2; }
    if [ "${SELF_SIGNED:-0}" = 1 ]; then
      echo "*** the proxy uses a SELF-SIGNED certificate: a trial only; a school needs its own" \
           "(make deploy-config TLS_CERT=... TLS_KEY=...) ***" >&2
    fi
    cat <<MSG
The proxy is starting: $PUBLIC_URL (nginx on $PROXY_BIND:$HTTPS_PORT; http://…:$HTTP_PORT redirects to it).
  Web chat:   $PUBLIC_URL/chat/ken-stimpson       -> Rasa on 127.0.0.1:$RASA_PORT
  Teams:      $PUBLIC_URL/webhooks/teams/webhook  (the bot's messaging endpoint)
  DSL inbox:  $PUBLIC_URL/dsl/                    -> 127.0.0.1:$INBOX_PORT
  Nothing else is reachable through it. Logs: $LOG_DIR/nginx-access.log, nginx-error.log. Ctrl-C stops it.
MSG
    exec "$NGINX" -p "$DEPLOY_DIR/" -c "$CONF"
    ;;
  *) echo "usage: scripts/proxy.sh [run|check|reload|reopen|stop]" >&2; exit 2 ;;
esac
