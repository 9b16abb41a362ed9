# Sourced by scripts/serve.sh when POLICYBOT_CLUSTER=1 (`make cluster`): prepare PostgreSQL and Redis on this machine
# (Debian's packages, scripts/install-cluster.sh), once, and export the settings that turn the same code into the
# cluster: every store on PostgreSQL, Rasa's locks and the channels' shared state in Redis. serve.sh then runs both
# under its supervisor beside two Rasa replicas and two action servers, behind nginx on one port.
#
# Settings: PG_PORT (5433), REDIS_PORT (6380), RASA_PORTS ("5105 5106"), ACTION_PORTS ("5155 5156"), ACTIONS_LB_PORT
# (5159), PGDATA (below). Secrets are made once, 0600, in artifacts/cluster/. Nothing is exposed beyond 127.0.0.1.
#
# PostgreSQL's data directory: artifacts/cluster/pgdata; when run as root, PostgreSQL (which refuses to run as root)
# runs as Debian's `postgres` user, so its data directory is /var/lib/postgresql/policybot-<hash of this folder>.
#
# Connections: SQLAlchemy's pool is 5 + 10 overflow per engine; Rasa holds one engine per replica, each action server
# three (concerns, induction, feedback) and the inbox two: (2 x 1 + 2 x 3 + 2) x 15 = 150 at most, so
# max_connections is 200 (PostgreSQL's default of 100 would refuse connections under load).

PG_PORT="${PG_PORT:-5433}"
REDIS_PORT="${REDIS_PORT:-6380}"
RASA_PORTS="${RASA_PORTS:-5105 5106}"
ACTION_PORTS="${ACTION_PORTS:-5155 5156}"
ACTIONS_LB_PORT="${ACTIONS_LB_PORT:-5159}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
# POLICYBOT_CLUSTER_DIR: secrets, Redis's folder, endpoints and proxy config (the tests use a scratch one).
cluster_dir="${POLICYBOT_CLUSTER_DIR:-artifacts/cluster}"
case "$cluster_dir" in /*) ;; *) cluster_dir="$PWD/$cluster_dir" ;; esac
mkdir -p "$cluster_dir/redis"
[ -x "$PG_BIN/postgres" ] && command -v redis-server >/dev/null \
  || { echo "PostgreSQL or Redis is missing: scripts/install-cluster.sh (make cluster runs it)" >&2; exit 1; }

pg_password="$(secret "$cluster_dir/pg-password")"
redis_password="$(secret "$cluster_dir/redis-password")"
# The REST channel sees the proxy, not a loopback client, so it asks for this token (channels/rest.py).
export POLICYBOT_REST_TOKEN="$(secret "$cluster_dir/rest-token")"

if [ "$(id -u)" = 0 ]; then
  PGDATA="${PGDATA:-/var/lib/postgresql/policybot-$(printf '%s' "$PWD" | sha256sum | cut -c1-12)}"
  as_pg=(runuser -u postgres --)
else
  PGDATA="${PGDATA:-$cluster_dir/pgdata}"
  as_pg=()
fi
pg_owner="$("${as_pg[@]}" id -un)"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "initialising PostgreSQL in $PGDATA (once)"
  mkdir -p "$PGDATA"
  [ "${#as_pg[@]}" = 0 ] || chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  # Peer authentication on the Unix socket for the administrator (this script); passwords (SCRAM) over TCP.
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$PGDATA" -U "$pg_owner" --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$cluster_dir/initdb.log" 2>&1 \
    || { echo "initdb failed; see $cluster_dir/initdb.log" >&2; exit 1; }
  # Loopback only; the socket in the data directory; durable commits; and nothing a person typed in the log:
  # errors without their DETAIL (a unique violation's DETAIL quotes the row's key) and never the statement.
  "${as_pg[@]}" tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF

# policybot cluster (scripts/cluster-prepare.sh)
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDATA'
max_connections = 200
fsync = on
synchronous_commit = on
log_error_verbosity = terse
log_min_error_statement = panic
log_statement = 'none'
log_connections = off
logging_collector = off
CONF
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/bootstrap.log" -w -t 60 start >/dev/null
  psql_admin() { "${as_pg[@]}" psql -h "$PGDATA" -p "$PG_PORT" -U "$pg_owner" -d postgres -v ON_ERROR_STOP=1 -q "$@"; }
  # The password is passed on standard input (never on a command line other users can see in ps).
  printf "CREATE ROLE policybot LOGIN PASSWORD '%s';\n" "$pg_password" | psql_admin
  psql_admin -c "CREATE DATABASE policybot_conversations OWNER policybot" \
             -c "CREATE DATABASE policybot_records OWNER policybot"
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -w -t 60 stop >/dev/null
fi
grep -q "^port = $PG_PORT\$" "$PGDATA/postgresql.conf" \
  || { echo "$PGDATA was set up for another PG_PORT; remove it or use that port" >&2; exit 1; }

# Redis holds locks, de-duplication keys and socket bindings only: all short-lived, none written to disk.
cat > "$cluster_dir/redis.conf" <<CONF
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
requirepass $redis_password
save ""
appendonly no
dir $cluster_dir/redis
CONF
chmod 600 "$cluster_dir/redis.conf"

pg_url="postgresql+psycopg2://policybot:$pg_password@127.0.0.1:$PG_PORT"
export POLICYBOT_CONCERNS_DATABASE_URL="$pg_url/policybot_records"
export POLICYBOT_INDUCTION_DATABASE_URL="$pg_url/policybot_records"
export POLICYBOT_DATABASE_URL="$pg_url/policybot_records"
export POLICYBOT_REDIS_URL="redis://:$redis_password@127.0.0.1:$REDIS_PORT/0"
export POLICYBOT_PG_PORT="$PG_PORT" POLICYBOT_PG_PASSWORD="$pg_password"
export POLICYBOT_REDIS_PORT="$REDIS_PORT" POLICYBOT_REDIS_PASSWORD="$redis_password"
pg_command=("${as_pg[@]}" "$PG_BIN/postgres" -D "$PGDATA")
