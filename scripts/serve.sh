#!/usr/bin/env bash
# Start the action server, the Rasa server (REST channel, SQLite tracker store), the DSL inbox (and the mail catcher,
# the proxy) under bot/supervisor.py, which restarts one that dies while the others keep serving; stop all on Ctrl-C.
# Called by `make run`; assumes `make install index train` already ran. Ports: RASA_PORT (5005), ACTIONS_PORT (5055),
# INBOX_PORT (5056, the DSL web inbox).
#
# POLICYBOT_CLUSTER=1 (`make cluster`): the same code on shared stores. PostgreSQL and Redis (scripts/cluster-prepare.sh
# sets them up), Rasa replicas on RASA_PORTS and action servers on ACTION_PORTS, all behind nginx, which is the one
# port clients use (https://localhost:8443, CLUSTER_HTTPS_PORT) and which balances Rasa's calls to the action servers.
set -euo pipefail
cd "$(dirname "$0")/.."
# Everything this writes (databases, logs, caught mail, secrets) is for this user only.
umask 077

RASA_PORT="${RASA_PORT:-5005}"
ACTIONS_PORT="${ACTIONS_PORT:-5055}"
INBOX_PORT="${INBOX_PORT:-5056}"
# Where notification emails send a DSL: the proxy's public https address when there is one, else loopback.
inbox_url_given="${POLICYBOT_INBOX_URL:-}"
inbox_url="http://127.0.0.1:$INBOX_PORT"
if [ "${POLICYBOT_PROXY:-0}" = 1 ] && [ -f artifacts/deploy/deploy.env ]; then
  inbox_url="$(sed -n 's/^PUBLIC_URL=//p' artifacts/deploy/deploy.env)"
fi
export POLICYBOT_INBOX_URL="${POLICYBOT_INBOX_URL:-$inbox_url}"
MODEL="${MODEL:-models/policybot.tar.gz}"
CLUSTER="${POLICYBOT_CLUSTER:-0}"
mkdir -p artifacts/rasa logs

# This script prepares the environment and secrets and says where to chat; bot/supervisor.py runs the servers (its
# docstring says why Python and not bash): a server that dies is restarted with back-off (1 s doubling to 30 s)
# while the others keep serving, and logs/supervisor.log says which died and how, never what it was handling. The
# supervisor and its servers run in their own sessions (setsid), so Ctrl-C reaches only this script, which then
# stops them (SIGTERM, SIGKILL after 10 s) and exits 0; otherwise they would die of the same SIGINT.
pids=()
# The supervisor's servers, each `::: NAME LOG READINESS-CHECK COMMAND...`.
servers=()
mail_note=""
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  case "${endpoints:-artifacts/rasa/endpoints.yml}" in
    artifacts/rasa/endpoints.yml|"${cluster_dir:-artifacts/cluster}"/*) ;;
    *) rm -f "$endpoints" ;;
  esac
  echo "stopped the assistant"
}
trap 'stop; exit 0' INT TERM HUP
trap stop EXIT

# Local mode: with no SMTP server configured, DSL notifications go to a mail catcher on loopback, which saves
# each one under artifacts/mail/ (no details of any concern are ever in a notification).
if [ -z "${POLICYBOT_SMTP_HOST:-}" ]; then
  cat >&2 <<'WARN'
*** NOTIFICATIONS STAY ON THIS MACHINE ***
No POLICYBOT_SMTP_HOST is set, so DSL notifications go to a local mail catcher (artifacts/mail/), not to any DSL.
Set POLICYBOT_SMTP_HOST (and _PORT, _FROM, _USER, _PASSWORD) before a school uses this.
WARN
  export POLICYBOT_SMTP_HOST=127.0.0.1 POLICYBOT_SMTP_PORT="${POLICYBOT_SMTP_PORT:-8025}"
  mail_note=" (the local mail catcher, saving to artifacts/mail/: NOT sent to any DSL)"
  servers+=(::: mail logs/mailcatcher.log "tcp://127.0.0.1:$POLICYBOT_SMTP_PORT"
            .venv/bin/policybot mailcatcher --port "$POLICYBOT_SMTP_PORT" --dir artifacts/mail)
fi

# Secrets are made once, 0600: the one Rasa sends to the action server (which refuses every call without it) and,
# when the HTTP API is asked for, the API's token (the API can read any conversation, disclosures included).
secret() { [ -s "$1" ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > "$1"; cat "$1"; }
export POLICYBOT_ACTION_TOKEN="$(secret artifacts/action-token)"
# The tracker store's key (a Fernet key): conversations are encrypted at rest (components/tracker_store.py).
[ -s artifacts/tracker-key ] || .venv/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' > artifacts/tracker-key
export POLICYBOT_TRACKER_KEY="$(cat artifacts/tracker-key)"
if [ -e artifacts/rasa/tracker.db ]; then
  echo "note: artifacts/rasa/tracker.db holds conversations from before they were encrypted, in plain text;" \
       "nothing reads it any more: delete it (rm artifacts/rasa/tracker.db)" >&2
fi
# Loopback only: a reverse proxy in front (docs) is what the school's network reaches. No telemetry.
export POLICYBOT_BIND_HOST="${POLICYBOT_BIND_HOST:-127.0.0.1}" RASA_TELEMETRY_ENABLED=false
if [ "$CLUSTER" = 1 ]; then
  . scripts/cluster-prepare.sh
  servers+=(::: postgres logs/postgres.log "tcp://127.0.0.1:$PG_PORT" "${pg_command[@]}")
  servers+=(::: redis logs/redis.log "tcp://127.0.0.1:$REDIS_PORT" "$(command -v redis-server)" "$cluster_dir/redis.conf")
  read -r -a rasa_ports <<< "$RASA_PORTS"
  read -r -a action_ports <<< "$ACTION_PORTS"
else
  rasa_ports=("$RASA_PORT")
  action_ports=("$ACTIONS_PORT")
fi
api=()
if [ "${POLICYBOT_ENABLE_API:-0}" = 1 ]; then
  api=(--enable-api --auth-token "$(secret artifacts/rasa-api-token)")
fi

# endpoints.yml names the action server's default port; Rasa is given a copy that names the one in use. A restarted
# Rasa reads it again, so a run on other ports (the end-to-end tests) has its own copy, removed when it stops. In
# cluster mode Rasa reaches the action servers through the proxy's balancer (config/endpoints-cluster.yml).
if [ "$CLUSTER" = 1 ]; then
  endpoints="$cluster_dir/endpoints.yml"
  sed "s#127.0.0.1:5159/#127.0.0.1:$ACTIONS_LB_PORT/#" config/endpoints-cluster.yml > "$endpoints"
else
  endpoints=artifacts/rasa/endpoints.yml
  [ "$ACTIONS_PORT" = 5055 ] || endpoints="artifacts/rasa/endpoints-$ACTIONS_PORT.yml"
  sed "s#127.0.0.1:5055/#127.0.0.1:$ACTIONS_PORT/#" endpoints.yml > "$endpoints"
fi

# Storage limitation: old conversations, feedback questions, logs and caught mail are deleted now and then daily
# (`policybot retention`; limits POLICYBOT_RETAIN_*_DAYS, README). Concern records never are. Counts only in the log.
retention_loop() {
  local sleeper=""
  trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM
  while true; do
    .venv/bin/policybot retention --endpoints "$endpoints" >>logs/retention.log 2>&1 || echo "policybot retention failed; see logs/retention.log" >&2
    sleep 86400 & sleeper=$!
    wait "$sleeper"
  done
}

for port in "${action_ports[@]}"; do
  name=actions log=logs/actions.log
  [ "$CLUSTER" = 0 ] || name="actions-$port" log="logs/actions-$port.log"
  servers+=(::: "$name" "$log" "http://127.0.0.1:$port/health" .venv/bin/python -m channels.action_server --port "$port")
done
# The DSL web inbox: its own small server (bot/dsl_inbox/web.py says why), on loopback like the others.
servers+=(::: inbox logs/inbox.log "http://127.0.0.1:$INBOX_PORT/dsl/health"
          .venv/bin/python -m bot.dsl_inbox --port "$INBOX_PORT")
# Rasa through channels/rasa_server.py: its logs, like the action server's, carry no message text.
for port in "${rasa_ports[@]}"; do
  name=rasa log=logs/rasa.log
  [ "$CLUSTER" = 0 ] || name="rasa-$port" log="logs/rasa-$port.log"
  servers+=(::: "$name" "$log" "http://127.0.0.1:$port/"
            .venv/bin/python -m channels.rasa_server run --interface "$POLICYBOT_BIND_HOST" --port "$port" --model "$MODEL"
            --credentials credentials.yml --endpoints "$endpoints" --cors "http://localhost:$port" "${api[@]}")
done

# POLICYBOT_PROXY=1: the HTTPS reverse proxy too (nginx, scripts/proxy.sh), with the config `make deploy-config`
# wrote (a self-signed trial one if there is none). Without it nothing listens beyond 127.0.0.1.
# In cluster mode the proxy is always there (it is the cluster's one port and balances the action servers), with a
# config written now for the ports in use (SERVER_NAME, TLS_CERT, TLS_KEY, PROXY_BIND pass through; a self-signed
# certificate for localhost on 127.0.0.1 by default).
if [ "$CLUSTER" = 1 ]; then
  export DEPLOY_DIR="$cluster_dir/deploy"
  PROXY_BIND="${PROXY_BIND:-127.0.0.1}" HTTPS_PORT="${CLUSTER_HTTPS_PORT:-8443}" HTTP_PORT="${CLUSTER_HTTP_PORT:-8080}" \
    RASA_PORTS="$RASA_PORTS" ACTION_PORTS="$ACTION_PORTS" ACTIONS_LB_PORT="$ACTIONS_LB_PORT" PROXY_REST=1 \
    scripts/deploy-config.sh >/dev/null
  public_url="$(sed -n 's/^PUBLIC_URL=//p' "$DEPLOY_DIR/deploy.env")"
  [ -n "$inbox_url_given" ] || export POLICYBOT_INBOX_URL="$public_url"
  servers+=(::: proxy logs/proxy.log "tcp://127.0.0.1:$ACTIONS_LB_PORT" scripts/proxy.sh)
elif [ "${POLICYBOT_PROXY:-0}" = 1 ]; then
  [ -f artifacts/deploy/nginx.conf ] || scripts/deploy-config.sh
  grep -qx "RASA_PORT=$RASA_PORT" artifacts/deploy/deploy.env \
    || echo "WARNING: artifacts/deploy/nginx.conf points at another Rasa port: make deploy-config RASA_PORT=$RASA_PORT" >&2
  scripts/install-nginx.sh
  servers+=(::: proxy logs/proxy.log - scripts/proxy.sh)
  echo "reverse proxy: $(sed -n 's/^PUBLIC_URL=//p' artifacts/deploy/deploy.env)/chat/ken-stimpson (logs/proxy.log)"
fi

setsid .venv/bin/python -m bot.supervisor --exit-with-parent --log logs/supervisor.log "${servers[@]}" &
supervisor=$!
pids+=("$supervisor")

# Every server answers (in cluster mode, every replica and the proxy too).
all_ready() {
  local port
  for port in "${rasa_ports[@]}"; do curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 || return 1; done
  for port in "${action_ports[@]}"; do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 || return 1; done
  curl -sf "http://127.0.0.1:$INBOX_PORT/dsl/health" >/dev/null 2>&1 || return 1
  [ "$CLUSTER" = 0 ] || curl -sf "http://127.0.0.1:$ACTIONS_LB_PORT/health" >/dev/null 2>&1
}
echo "starting (logs in logs/rasa*.log, logs/actions*.log and logs/inbox.log; restarts in logs/supervisor.log) ..."
# Two replicas of each on two cores load for longer than one.
for _ in $(seq 1 $((CLUSTER == 1 ? 360 : 180))); do
  if all_ready; then
    if [ "$CLUSTER" = 1 ]; then
      cat <<MSG
The cluster is running: ${#rasa_ports[@]} Rasa replicas (${rasa_ports[*]}), ${#action_ports[@]} action servers (${action_ports[*]}),
PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT, behind nginx at $public_url.
  Chat over REST:  curl -sk $public_url/webhooks/rest/webhook -H "Authorization: Bearer \$(cat $cluster_dir/rest-token)" \\
                     -d '{"sender":"me","message":"can I use my phone in lessons?","metadata":{"school":"ken-stimpson","role":"pupil"}}'
  Web chat:        $public_url/chat/ken-stimpson
  DSL inbox:       $public_url/dsl/
  Notifications:   ${POLICYBOT_SMTP_HOST}:${POLICYBOT_SMTP_PORT:-25}${mail_note}
Press Ctrl-C to stop.
MSG
    else
      cat <<MSG
The assistant is running, reachable from this machine only (127.0.0.1).
  Chat over REST:  curl -s 127.0.0.1:$RASA_PORT/webhooks/rest/webhook \\
                     -d '{"sender":"me","message":"can I use my phone in lessons?","metadata":{"school":"ken-stimpson","role":"pupil"}}'
  Web chat:        http://127.0.0.1:$RASA_PORT/chat/ken-stimpson   (any school slug; ?role=parent for parents)
  Terminal chat:   make shell      (in another terminal)
  DSL inbox:       http://127.0.0.1:$INBOX_PORT/dsl/   (enrol a DSL first: .venv/bin/policybot dsl add-user \\
                     --school ken-stimpson --user ken-stimpson-dsl; on the server: policybot concerns list ...)
  Notifications:   ${POLICYBOT_SMTP_HOST}:${POLICYBOT_SMTP_PORT:-25}${mail_note}
Press Ctrl-C to stop.
MSG
    fi
    # Only now: in cluster mode the stores are servers that must be up first.
    retention_loop &
    pids+=($!)
    # A server that dies is the supervisor's to restart; this returns only if the supervisor itself stops.
    status=0
    wait "$supervisor" || status=$?
    echo "the supervisor stopped (status $status); see logs/supervisor.log" >&2
    exit 1
  fi
  kill -0 "$supervisor" 2>/dev/null || { echo "a server failed to start; see logs/" >&2; tail -n 20 logs/supervisor.log logs/rasa*.log logs/actions*.log logs/inbox.log >&2; exit 1; }
  sleep 1
done
echo "the servers did not become ready in time; see logs/" >&2
exit 1
