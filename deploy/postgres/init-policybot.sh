#!/bin/sh
# Run once by the postgres image on an empty data directory (compose: /docker-entrypoint-initdb.d; Kubernetes: the
# trial StatefulSet mounts the copy in deploy/kubernetes/trial-stores/stores.yaml). As scripts/cluster-prepare.sh
# does on one machine: the app's role `policybot` (no superuser) owns its two databases, and its password reaches
# psql on standard input, never on a command line.
set -eu
: "${POLICYBOT_PG_PASSWORD:?POLICYBOT_PG_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 -q --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE policybot LOGIN PASSWORD '$POLICYBOT_PG_PASSWORD';
CREATE DATABASE policybot_conversations OWNER policybot;
CREATE DATABASE policybot_records OWNER policybot;
SQL
