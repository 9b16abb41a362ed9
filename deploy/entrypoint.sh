#!/bin/sh
# The app image's entrypoint (deploy/Dockerfile): turn the deployment's settings into the ones the code reads, refuse
# to start on a missing or placeholder secret, then run the command (a Rasa replica, an action server, the DSL inbox
# or `policybot retention`). Settings come from the environment: deploy/.env in compose, the ConfigMap and Secret in
# Kubernetes. Nothing here is printed but variable names.
set -eu

die() { echo "policybot entrypoint: $*" >&2; exit 64; }

export POLICYBOT_PG_PORT="${POLICYBOT_PG_PORT:-5432}" POLICYBOT_REDIS_PORT="${POLICYBOT_REDIS_PORT:-6379}"

# Every server needs the stores; a Rasa replica also the action servers, their token, the tracker key and the web
# chat's signing secret (each replica must sign with the same one, and artifacts/ is read-only here).
need="POLICYBOT_PG_HOST POLICYBOT_PG_PASSWORD POLICYBOT_REDIS_HOST POLICYBOT_REDIS_PASSWORD"
case " $* " in
  *" channels.rasa_server "*)
    need="$need POLICYBOT_ACTIONS_URL POLICYBOT_ACTION_TOKEN POLICYBOT_TRACKER_KEY POLICYBOT_WEB_SECRET" ;;
  *" channels.action_server "*) need="$need POLICYBOT_ACTION_TOKEN" ;;
esac
for name in $need; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || die "$name is not set (deploy/.env.example or the Kubernetes Secret lists it)"
done
# A value still as the examples ship it (CHANGE-ME...) never reaches a school.
for name in $(env | sed -n 's/^\(POLICYBOT_[A-Z0-9_]*\)=CHANGE-ME.*/\1/p'); do
  die "$name still holds its placeholder: set a real value"
done
# The passwords go into URLs unescaped, so they are limited to URL-safe characters (openssl rand -hex 32 makes one).
for name in POLICYBOT_PG_PASSWORD POLICYBOT_REDIS_PASSWORD; do
  eval "value=\${$name}"
  case "$value" in *[!A-Za-z0-9_-]*) die "$name may hold only letters, digits, '-' and '_'" ;; esac
done

# The URLs the code reads (bot/settings.py, the record stores), unless given whole (e.g. with ?sslmode=require for
# a managed PostgreSQL). policybot_records holds the concern, induction and feedback stores.
pg="${POLICYBOT_PG_HOST}:${POLICYBOT_PG_PORT}"
records="postgresql+psycopg2://policybot:${POLICYBOT_PG_PASSWORD}@$pg/policybot_records"
export POLICYBOT_CONCERNS_DATABASE_URL="${POLICYBOT_CONCERNS_DATABASE_URL:-$records}"
export POLICYBOT_INDUCTION_DATABASE_URL="${POLICYBOT_INDUCTION_DATABASE_URL:-$records}"
export POLICYBOT_DATABASE_URL="${POLICYBOT_DATABASE_URL:-$records}"
redis="${POLICYBOT_REDIS_HOST}:${POLICYBOT_REDIS_PORT}"
export POLICYBOT_REDIS_URL="${POLICYBOT_REDIS_URL:-redis://:${POLICYBOT_REDIS_PASSWORD}@$redis/0}"

if [ -z "${POLICYBOT_SMTP_HOST:-}" ]; then
  echo "policybot entrypoint: WARNING: POLICYBOT_SMTP_HOST is not set, so no DSL notification can be sent" >&2
fi
exec "$@"
