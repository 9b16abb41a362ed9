#!/usr/bin/env bash
# Write the reverse proxy's config (nginx) from config/deploy/nginx.conf.template: `make deploy-config`.
#
#   make deploy-config SERVER_NAME=chat.school.example TLS_CERT=/etc/ssl/school/fullchain.pem TLS_KEY=/etc/ssl/school/key.pem
#
# Settings (environment or make variables; the defaults suit a trial on this machine):
#   SERVER_NAME        the name(s) browsers and Teams use, space-separated; the first is the canonical one (localhost)
#   TLS_CERT, TLS_KEY  the school's certificate (full chain, PEM) and its unencrypted private key; neither given: a
#                      self-signed certificate for trials only, made in DEPLOY_DIR/tls/
#   HTTPS_PORT         where nginx listens for HTTPS (8443); HTTP_PORT: where it redirects plain HTTP (8080)
#   PUBLIC_HTTPS_PORT  the HTTPS port browsers use, when a firewall forwards e.g. 443 to HTTPS_PORT (HTTPS_PORT)
#   PROXY_BIND         the address nginx listens on (0.0.0.0: every IPv4 interface)
#   RASA_PORT          the Rasa server on 127.0.0.1 (5005); INBOX_PORT: the DSL inbox on 127.0.0.1 (5056)
#   MAX_BODY           the largest request body (256k, the web chat socket's own limit)
#   DEPLOY_DIR         where the config goes (artifacts/deploy); PROXY_LOG_DIR: nginx's logs (logs)
# The result: DEPLOY_DIR/nginx.conf (checked with `nginx -t` when nginx is installed) and DEPLOY_DIR/deploy.env (the
# settings used, read by scripts/proxy.sh). Start it with `make proxy`.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
ROOT="$PWD"

die() { echo "deploy-config: $*" >&2; exit 2; }
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }
# Only characters that cannot end or open an nginx directive (no spaces, ';', '{', quotes, '$').
safe_path() { [[ "$1" =~ ^/[A-Za-z0-9._/@+:=-]*$ ]] || die "$2 must be a plain path (letters, digits, . _ / @ + : = -): '$1'"; }
port() { [[ "$1" =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || die "$2 must be a port number: '$1'"; }

SERVER_NAME="${SERVER_NAME:-localhost}"
HTTPS_PORT="${HTTPS_PORT:-8443}"
HTTP_PORT="${HTTP_PORT:-8080}"
PUBLIC_HTTPS_PORT="${PUBLIC_HTTPS_PORT:-$HTTPS_PORT}"
PROXY_BIND="${PROXY_BIND:-0.0.0.0}"
RASA_PORT="${RASA_PORT:-5005}"
# Cluster mode (scripts/cluster.sh): several Rasa replicas (RASA_PORTS="5105 5106") and the action servers Rasa reaches
# through this proxy's loopback balancer (ACTION_PORTS="5155 5156", ACTIONS_LB_PORT); PROXY_REST=1 lets clients on
# this machine use the REST channel through it (the load and fault trials).
RASA_PORTS="${RASA_PORTS:-$RASA_PORT}"
ACTION_PORTS="${ACTION_PORTS:-}"
ACTIONS_LB_PORT="${ACTIONS_LB_PORT:-5159}"
PROXY_REST="${PROXY_REST:-0}"
INBOX_PORT="${INBOX_PORT:-5056}"
MAX_BODY="${MAX_BODY:-256k}"
DEPLOY_DIR="$(abspath "${DEPLOY_DIR:-artifacts/deploy}")"
LOG_DIR="$(abspath "${PROXY_LOG_DIR:-logs}")"
TLS_CERT="${TLS_CERT:-}"
TLS_KEY="${TLS_KEY:-}"
TEMPLATE="$ROOT/config/deploy/nginx.conf.template"

# ---------------------------------------------------------------------------------------------- checks
names=()
for name in $SERVER_NAME; do
  name="${name,,}"
  if [[ "$name" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] \
     || [[ "$name" =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$ ]]; then
    names+=("$name")
  else
    die "SERVER_NAME must be host names or IPv4 addresses (no wildcards, no ports): '$name'"
  fi
done
[ "${#names[@]}" -gt 0 ] || die "SERVER_NAME is empty"
for var in HTTPS_PORT HTTP_PORT PUBLIC_HTTPS_PORT RASA_PORT INBOX_PORT ACTIONS_LB_PORT; do port "${!var}" "$var"; done
read -r -a rasa_ports <<< "$RASA_PORTS"
read -r -a action_ports <<< "$ACTION_PORTS"
[ "${#rasa_ports[@]}" -gt 0 ] || die "RASA_PORTS is empty"
for value in "${rasa_ports[@]}" "${action_ports[@]}"; do port "$value" "RASA_PORTS/ACTION_PORTS"; done
[[ "$PROXY_REST" =~ ^[01]$ ]] || die "PROXY_REST must be 0 or 1: '$PROXY_REST'"
cluster=0
[ "${#rasa_ports[@]}" -gt 1 ] || [ "${#action_ports[@]}" -gt 0 ] && cluster=1
[ "$cluster" = 0 ] || [ "${#action_ports[@]}" -gt 0 ] || die "cluster mode (several RASA_PORTS) needs ACTION_PORTS"
[ "$HTTPS_PORT" != "$HTTP_PORT" ] || die "HTTPS_PORT and HTTP_PORT must differ"
for var in HTTPS_PORT HTTP_PORT; do
  if [ "${!var}" = "$RASA_PORT" ] || [ "${!var}" = "$INBOX_PORT" ]; then die "$var must not be the Rasa or inbox port"; fi
done
[[ "$PROXY_BIND" =~ ^([0-9]{1,3}(\.[0-9]{1,3}){3}|\[[0-9a-fA-F:]+\])$ ]] \
  || die "PROXY_BIND must be an IPv4 address or [an IPv6 address]: '$PROXY_BIND'"
[[ "$MAX_BODY" =~ ^[0-9]+[kKmM]?$ ]] || die "MAX_BODY must be a size like 256k: '$MAX_BODY'"
safe_path "$DEPLOY_DIR" DEPLOY_DIR
safe_path "$LOG_DIR" PROXY_LOG_DIR
[ -f "$TEMPLATE" ] || die "the template $TEMPLATE is missing"
command -v openssl >/dev/null || die "openssl is needed (Debian package openssl)"

canonical="${names[0]}"
port_suffix=""
[ "$PUBLIC_HTTPS_PORT" = 443 ] || port_suffix=":$PUBLIC_HTTPS_PORT"
covers() {  # does certificate $1 cover name $2?
  if [[ "$2" =~ ^[0-9.]+$ ]]; then
    openssl x509 -in "$1" -noout -checkip "$2" 2>/dev/null | grep -q "does match"
  else
    openssl x509 -in "$1" -noout -checkhost "$2" 2>/dev/null | grep -q "does match"
  fi
}

mkdir -p "$DEPLOY_DIR/run" "$LOG_DIR"

# ---------------------------------------------------------------------------------------------- certificate
if [ -n "$TLS_CERT$TLS_KEY" ]; then
  [ -n "$TLS_CERT" ] && [ -n "$TLS_KEY" ] || die "give both TLS_CERT and TLS_KEY (or neither, for a self-signed trial)"
  TLS_CERT="$(abspath "$TLS_CERT")"; TLS_KEY="$(abspath "$TLS_KEY")"
  safe_path "$TLS_CERT" TLS_CERT; safe_path "$TLS_KEY" TLS_KEY
  [ -r "$TLS_CERT" ] || die "cannot read TLS_CERT $TLS_CERT (nginx runs as $(id -un) and must read it)"
  [ -r "$TLS_KEY" ] || die "cannot read TLS_KEY $TLS_KEY (nginx runs as $(id -un) and must read it)"
  openssl x509 -in "$TLS_CERT" -noout 2>/dev/null || die "TLS_CERT $TLS_CERT is not a PEM certificate"
  openssl pkey -in "$TLS_KEY" -passin pass: -noout 2>/dev/null \
    || die "TLS_KEY $TLS_KEY is not an unencrypted PEM private key (nginx cannot ask for a passphrase)"
  [ "$(openssl x509 -in "$TLS_CERT" -noout -pubkey)" = "$(openssl pkey -in "$TLS_KEY" -passin pass: -pubout)" ] \
    || die "TLS_KEY is not the private key of TLS_CERT"
  openssl x509 -in "$TLS_CERT" -noout -checkend 0 >/dev/null || die "TLS_CERT $TLS_CERT has expired"
  openssl x509 -in "$TLS_CERT" -noout -checkend $((30 * 86400)) >/dev/null \
    || echo "WARNING: TLS_CERT expires within 30 days ($(openssl x509 -in "$TLS_CERT" -noout -enddate | cut -d= -f2))" >&2
  for name in "${names[@]}"; do
    covers "$TLS_CERT" "$name" || echo "WARNING: TLS_CERT does not cover '$name': browsers will refuse it" >&2
  done
  if [ -n "$(find "$TLS_KEY" -perm /077 2>/dev/null)" ]; then
    echo "WARNING: TLS_KEY $TLS_KEY can be read by other users (chmod 600 it)" >&2
  fi
  self_signed=0
else
  TLS_CERT="$DEPLOY_DIR/tls/selfsigned.crt"; TLS_KEY="$DEPLOY_DIR/tls/selfsigned.key"
  mkdir -p "$DEPLOY_DIR/tls"
  fresh=1
  [ -s "$TLS_CERT" ] && [ -s "$TLS_KEY" ] || fresh=0
  if [ "$fresh" = 1 ]; then
    openssl x509 -in "$TLS_CERT" -noout -checkend 86400 >/dev/null 2>&1 || fresh=0
    for name in "${names[@]}"; do covers "$TLS_CERT" "$name" || fresh=0; done
  fi
  if [ "$fresh" = 0 ]; then
    san=""
    for name in "${names[@]}"; do
      if [[ "$name" =~ ^[0-9.]+$ ]]; then san+="${san:+,}IP:$name"; else san+="${san:+,}DNS:$name"; fi
    done
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$canonical" \
      -addext "subjectAltName=$san" -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null \
      || die "openssl could not make a self-signed certificate"
    chmod 600 "$TLS_KEY"; chmod 644 "$TLS_CERT"
  fi
  self_signed=1
fi

# ---------------------------------------------------------------------------------------------- the config
host_map=""
for name in "${names[@]}"; do host_map+="        $name 1;"$'\n'; done
host_map="${host_map%$'\n'}"
# A replica that fails (refuses, times out) is left out for 10 s and the request goes to another.
failover=""
[ "$cluster" = 0 ] || failover=" max_fails=1 fail_timeout=10s"
rasa_servers=""
for value in "${rasa_ports[@]}"; do rasa_servers+="        server 127.0.0.1:$value$failover;"$'\n'; done
action_servers=""
for value in "${action_ports[@]}"; do action_servers+="        server 127.0.0.1:$value max_fails=1 fail_timeout=10s;"$'\n'; done
# Lines marked #cluster# (#rest#) are kept, unmarked, in cluster mode (with PROXY_REST=1); otherwise dropped.
marked() {
  local mark="$1" keep="$2"
  if [ "$keep" = 1 ]; then sed -e "s|^#$mark#||"; else sed -e "/^#$mark#/d"; fi
}
conf="$DEPLOY_DIR/nginx.conf"
tmp="$(mktemp "$DEPLOY_DIR/.nginx.conf.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# Every value was checked above: none holds '|', '&', '\' or a newline, so sed takes it literally. The host map's
# lines are added afterwards (one per name).
sed -e "s|@@SERVER_NAMES@@|${names[*]}|g" \
    -e "s|@@CANONICAL_HOST@@|$canonical$port_suffix|g" -e "s|@@PORT_SUFFIX@@|$port_suffix|g" \
    -e "s|@@HTTPS_PORT@@|$HTTPS_PORT|g" -e "s|@@HTTP_PORT@@|$HTTP_PORT|g" \
    -e "s|@@BIND@@|$PROXY_BIND|g" \
    -e "s|@@RASA_PORTS@@|${rasa_ports[*]}|g" -e "s|@@INBOX_PORT@@|$INBOX_PORT|g" \
    -e "s|@@ACTIONS_LB_PORT@@|$ACTIONS_LB_PORT|g" \
    -e "s|@@MAX_BODY@@|$MAX_BODY|g" \
    -e "s|@@TLS_CERT@@|$TLS_CERT|g" -e "s|@@TLS_KEY@@|$TLS_KEY|g" \
    -e "s|@@RUN_DIR@@|$DEPLOY_DIR/run|g" -e "s|@@LOG_DIR@@|$LOG_DIR|g" \
    "$TEMPLATE" | marked cluster "$cluster" | marked rest "$PROXY_REST" \
  | HOST_MAP="$host_map" RASA_SERVERS="${rasa_servers%$'\n'}" ACTION_SERVERS="${action_servers%$'\n'}" awk '
      $0 == "@@HOST_MAP@@" { print ENVIRON["HOST_MAP"]; next }
      $0 == "@@RASA_SERVERS@@" { print ENVIRON["RASA_SERVERS"]; next }
      $0 == "@@ACTION_SERVERS@@" { if (ENVIRON["ACTION_SERVERS"] != "") print ENVIRON["ACTION_SERVERS"]; next }
      { print }' > "$tmp"
if grep -n '^[^#]*@@[A-Z_]*@@' "$tmp" >&2; then die "the template has a field this script does not fill (above)"; fi
chmod 600 "$tmp"
mv "$tmp" "$conf"
trap - EXIT

cat > "$DEPLOY_DIR/deploy.env" <<ENV
# Written by scripts/deploy-config.sh: the settings $conf was made with (scripts/proxy.sh reads them).
SERVER_NAME="${names[*]}"
HTTPS_PORT=$HTTPS_PORT
HTTP_PORT=$HTTP_PORT
PUBLIC_HTTPS_PORT=$PUBLIC_HTTPS_PORT
PROXY_BIND=$PROXY_BIND
RASA_PORT=$RASA_PORT
RASA_PORTS="${rasa_ports[*]}"
ACTION_PORTS="${action_ports[*]}"
ACTIONS_LB_PORT=$ACTIONS_LB_PORT
CLUSTER=$cluster
INBOX_PORT=$INBOX_PORT
TLS_CERT=$TLS_CERT
TLS_KEY=$TLS_KEY
SELF_SIGNED=$self_signed
LOG_DIR=$LOG_DIR
PUBLIC_URL=https://$canonical$port_suffix
ENV

NGINX="${NGINX:-/usr/sbin/nginx}"
if [ -x "$NGINX" ]; then
  "$NGINX" -t -q -p "$DEPLOY_DIR/" -c "$conf" || die "nginx -t refused $conf (above)"
fi

echo "wrote $conf: https://$canonical$port_suffix (listening on $PROXY_BIND:$HTTPS_PORT, plain HTTP on" \
     "$PROXY_BIND:$HTTP_PORT redirects) -> Rasa 127.0.0.1:${rasa_ports[*]}, DSL inbox 127.0.0.1:$INBOX_PORT"
if [ "$self_signed" = 1 ]; then
  cat >&2 <<WARN
*** SELF-SIGNED CERTIFICATE: FOR A TRIAL ON THIS MACHINE ONLY ***
No TLS_CERT/TLS_KEY was given, so the proxy uses a self-signed certificate ($TLS_CERT, 30 days) that every browser
warns about and Microsoft Teams refuses. A real deployment needs the school's own certificate for its host name:
  make deploy-config SERVER_NAME=chat.school.example TLS_CERT=/path/fullchain.pem TLS_KEY=/path/privkey.pem
WARN
fi
echo "start it with: make proxy (or POLICYBOT_PROXY=1 make run for the assistant and the proxy together)"
