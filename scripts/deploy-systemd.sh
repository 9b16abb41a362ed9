#!/usr/bin/env bash
# Write systemd units for the assistant from config/deploy/systemd/*.in: `make deploy-systemd`.
#
# Production's process manager: one unit per server (action server, Rasa, DSL inbox, the optional proxy), each
# restarted when it dies with the same policy `make run`'s supervisor (bot/supervisor.py) applies: after 1 s, growing
# to 30 s (systemd 254+; Debian 12's systemd 252 restarts after 1 s every time), never giving up, the other servers
# untouched; a daily retention timer; policybot.target to start and stop them together.
#
# Settings (environment or make variables):
#   SERVICE_USER   the user the servers run as (the one running this), owning this checkout's artifacts/ and logs/
#   RASA_PORT (5005), ACTIONS_PORT (5055), INBOX_PORT (5056)   the servers' ports on 127.0.0.1
#   MODEL          the trained model (models/policybot.tar.gz)
#   DEPLOY_DIR     where the files go (artifacts/deploy): DEPLOY_DIR/systemd/
# The result: the units, DEPLOY_DIR/systemd/endpoints.yml (Rasa's, naming ACTIONS_PORT) and DEPLOY_DIR/systemd/
# policybot.env (0600: the secrets from artifacts/, made as `make run` makes them, and the settings `make run`
# exports; add POLICYBOT_SMTP_* and the rest there). Checked with `systemd-analyze verify` when it can run here.
# Install (README, "Running it as a service"):
#   sudo cp DEPLOY_DIR/systemd/policybot*.{service,timer,target} /etc/systemd/system/
#   sudo systemctl daemon-reload && sudo systemctl enable --now policybot.target
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
ROOT="$PWD"

die() { echo "deploy-systemd: $*" >&2; exit 2; }
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }
port() { [[ "$1" =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || die "$2 must be a port number: '$1'"; }
# Unit files split on spaces and expand % and $: only plain paths and names go in.
plain() { [[ "$1" =~ ^[A-Za-z0-9._/@+:=-]+$ ]] || die "$2 must be plain (letters, digits, . _ / @ + : = -): '$1'"; }

SERVICE_USER="${SERVICE_USER:-$(id -un)}"
RASA_PORT="${RASA_PORT:-5005}"
ACTIONS_PORT="${ACTIONS_PORT:-5055}"
INBOX_PORT="${INBOX_PORT:-5056}"
MODEL="$(abspath "${MODEL:-models/policybot.tar.gz}")"
DEPLOY_DIR="$(abspath "${DEPLOY_DIR:-artifacts/deploy}")"
port "$RASA_PORT" RASA_PORT; port "$ACTIONS_PORT" ACTIONS_PORT; port "$INBOX_PORT" INBOX_PORT
plain "$SERVICE_USER" SERVICE_USER; plain "$ROOT" "this checkout's path"; plain "$MODEL" MODEL
plain "$DEPLOY_DIR" DEPLOY_DIR
[ "$SERVICE_USER" != root ] || echo "deploy-systemd: WARNING: the servers would run as root; set SERVICE_USER" >&2
[ -x .venv/bin/python ] || die "no .venv here; run make install first"

OUT="$DEPLOY_DIR/systemd"
mkdir -p "$OUT" artifacts
for template in config/deploy/systemd/*.in; do
  name="$(basename "$template" .in)"
  sed -e "s#@ROOT@#$ROOT#g" -e "s#@USER@#$SERVICE_USER#g" -e "s#@DEPLOY_DIR@#$DEPLOY_DIR#g" -e "s#@MODEL@#$MODEL#g" \
      -e "s#@RASA_PORT@#$RASA_PORT#g" -e "s#@ACTIONS_PORT@#$ACTIONS_PORT#g" -e "s#@INBOX_PORT@#$INBOX_PORT#g" \
      "$template" > "$OUT/$name"
  chmod 0644 "$OUT/$name"  # systemd reads them; they hold no secret
done
sed "s#127.0.0.1:5055/#127.0.0.1:$ACTIONS_PORT/#" endpoints.yml > "$OUT/endpoints.yml"
chmod 0644 "$OUT/endpoints.yml"

# The secrets, as scripts/serve.sh makes them (once, 0600), and the settings it exports.
[ -s artifacts/action-token ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > artifacts/action-token
[ -s artifacts/tracker-key ] || .venv/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' > artifacts/tracker-key
if [ ! -e "$OUT/policybot.env" ]; then
  cat > "$OUT/policybot.env" <<ENV
# The environment of every policybot unit (secrets: keep it 0600). Written once by scripts/deploy-systemd.sh.
POLICYBOT_ACTION_TOKEN=$(cat artifacts/action-token)
POLICYBOT_TRACKER_KEY=$(cat artifacts/tracker-key)
POLICYBOT_BIND_HOST=127.0.0.1
POLICYBOT_INBOX_URL=http://127.0.0.1:$INBOX_PORT
RASA_TELEMETRY_ENABLED=false
TF_CPP_MIN_LOG_LEVEL=3
HF_HUB_OFFLINE=1
TRANSFORMERS_OFFLINE=1
# The school's mail server for DSL notifications (README, "Settings"); without it they are not delivered.
#POLICYBOT_SMTP_HOST=
#POLICYBOT_SMTP_PORT=587
#POLICYBOT_SMTP_FROM=
#POLICYBOT_SMTP_USER=
#POLICYBOT_SMTP_PASSWORD=
ENV
  echo "deploy-systemd: wrote $OUT/policybot.env (0600, with the secrets); add POLICYBOT_SMTP_* there"
fi
echo "deploy-systemd: wrote the units to $OUT/ (servers as $SERVICE_USER; ports $RASA_PORT, $ACTIONS_PORT, $INBOX_PORT)"

# Offline check of every unit. systemd before 254 does not know the growing delay's two keys: those warnings only.
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "deploy-systemd: NOT CHECKED: systemd-analyze is not installed (Debian package systemd)" >&2
  exit 0
fi
units=("$OUT"/policybot*.service "$OUT"/policybot*.timer "$OUT"/policybot*.target)
status=0
report="$(systemd-analyze verify --man=no "${units[@]}" 2>&1)" || status=$?
problems="$(printf '%s\n' "$report" | grep -v -e "Unknown key name 'RestartSteps'" -e "Unknown key name 'RestartMaxDelaySec'" \
  -e "Unknown key 'RestartSteps'" -e "Unknown key 'RestartMaxDelaySec'" | grep -v '^$' || true)"
if [ "$status" -ne 0 ] && printf '%s\n' "$report" | grep -qi -e "failed to initialize manager" -e "no such file or directory.*/run/systemd" -e "System has not been booted with systemd"; then
  echo "deploy-systemd: NOT CHECKED: systemd-analyze cannot run here ($(printf '%s' "$report" | head -1))" >&2
  exit 0
fi
if [ "$status" -ne 0 ] || [ -n "$problems" ]; then
  printf '%s\n' "$report" >&2
  die "systemd-analyze verify found problems in the units (above)"
fi
echo "deploy-systemd: systemd-analyze verify: ok ($(systemd-analyze --version | head -1))"
if printf '%s\n' "$report" | grep -q "RestartSteps"; then
  echo "deploy-systemd: note: this systemd (before 254) ignores RestartSteps/RestartMaxDelaySec: a server that dies" \
       "is restarted after 1 s every time, not after a delay growing to 30 s"
fi
