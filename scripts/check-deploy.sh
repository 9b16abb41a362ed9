#!/usr/bin/env bash
# Check the multi-machine deployment files offline (deploy/; README "Deploying on several machines"), installing
# the checkers first when they are missing. Exits non-zero if any check fails (all are run, then each failure named).
#
#   deploy/compose.yaml          the Compose specification's JSON schema (check-jsonschema, vendor.compose-spec), then
#                                `docker-compose config` (Debian's docker-compose 1.29.2, which needs no Docker engine:
#                                anchors and merges, required variables, dependencies on undefined services; the
#                                references to networks, volumes and secrets are tests/test_deploy_files.py's)
#   deploy/kubernetes/**.yaml    kubernetes-validate --strict against the API schemas of each K8S_VERSIONS
#   deploy/nginx/templates/      filled in as the nginx image does, then `nginx -t` (Debian's nginx 1.22, the image's)
#   deploy/Dockerfile            hadolint
#   deploy/*.sh, postgres/*.sh   sh -n
# The Python checkers live in artifacts/deploy-tools/venv (deploy/tools/requirements.txt, all pinned), not in .venv;
# nginx and docker-compose are Debian's packages. Where `unshare -n` works (root), every check runs with no network
# at all, which proves that none of them fetches a schema.
#
# Settings (the tests point them at broken copies): CHECK_COMPOSE (deploy/compose.yaml), CHECK_K8S (the manifests,
# space-separated), CHECK_NGINX_TEMPLATE, CHECK_DOCKERFILE, K8S_VERSIONS ("1.30.0 1.37.0"), DEPLOY_TOOLS_DIR.
# --install-only: install the checkers and stop.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="${DEPLOY_TOOLS_DIR:-artifacts/deploy-tools}"
REQUIREMENTS=deploy/tools/requirements.txt
COMPOSE_DEB_VERSION=1.29.2-3
K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.37.0}"
CHECK_COMPOSE="${CHECK_COMPOSE:-deploy/compose.yaml}"
CHECK_K8S="${CHECK_K8S:-$(ls deploy/kubernetes/*.yaml deploy/kubernetes/*/*.yaml)}"
CHECK_NGINX_TEMPLATE="${CHECK_NGINX_TEMPLATE:-deploy/nginx/templates/nginx.conf.template}"
CHECK_DOCKERFILE="${CHECK_DOCKERFILE:-deploy/Dockerfile}"
NGINX=/usr/sbin/nginx

# ---------------------------------------------------------------------------------------------- install
install_tools() {
  local want stamp python
  want="$(sha256sum "$REQUIREMENTS" | cut -c1-16)"
  stamp="$TOOLS/venv/.installed-$want"
  if [ ! -f "$stamp" ]; then
    python="$(command -v python3.11 || command -v python3)" || { echo "python3 is needed" >&2; exit 1; }
    echo "installing the deployment checkers into $TOOLS/venv ($REQUIREMENTS)"
    rm -rf "$TOOLS/venv"
    mkdir -p "$TOOLS"
    "$python" -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$REQUIREMENTS"
    "$TOOLS/venv/bin/python" -m pip check -q >/dev/null
    touch "$stamp"
  fi
  if [ "$(dpkg-query -W -f '${Version}' docker-compose 2>/dev/null || true)" != "$COMPOSE_DEB_VERSION" ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    echo "installing Debian's docker-compose $COMPOSE_DEB_VERSION (only its offline \`config\` check is used)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "docker-compose=$COMPOSE_DEB_VERSION" >/dev/null
  fi
  scripts/install-nginx.sh
}
install_tools
[ "${1:-}" != --install-only ] || exit 0

# ---------------------------------------------------------------------------------------------- checks
offline=()
if unshare -n true 2>/dev/null; then
  offline=(unshare -n)
else
  echo "note: unshare -n is not allowed here; checking with the network on"
fi
bin="$TOOLS/venv/bin"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
passed=0
check() {  # check NAME COMMAND...: run it offline, report, remember a failure
  local name="$1"; shift
  if "${offline[@]}" "$@" >"$scratch/out" 2>&1; then
    passed=$((passed + 1)); echo "ok    $name"
  else
    failed+=("$name"); echo "FAIL  $name"; sed 's/^/      /' "$scratch/out"
  fi
}

check "compose schema: $CHECK_COMPOSE" "$bin/check-jsonschema" --builtin-schema vendor.compose-spec "$CHECK_COMPOSE"
# The example settings satisfy every ${VAR:?} (their CHANGE-ME values are only refused by the containers).
check "docker-compose config: $CHECK_COMPOSE" docker-compose --project-directory deploy --env-file deploy/.env.example \
  -f "$CHECK_COMPOSE" config -q

read -r -a manifests <<< "$(echo $CHECK_K8S)"
for version in $K8S_VERSIONS; do
  check "kubernetes $version: ${#manifests[@]} manifests" \
    "$bin/kubernetes-validate" --strict --quiet -k "$version" "${manifests[@]}"
done

# nginx: as the image's entrypoint does (envsubst of the POLICYBOT_* variables that are set), with a throwaway
# certificate for /run/secrets, the replicas' names (compose's /etc/hosts entries) as 127.0.0.1, and /tmp here.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=chat.school.example \
  -keyout "$scratch/tls.key" -out "$scratch/tls.crt" 2>/dev/null
mkdir -p "$scratch/nginx"
sed -e 's/\${POLICYBOT_SERVER_NAME}/chat.school.example/g' -e "s#/tmp/#$scratch/nginx/#g" \
    -e "s#/run/secrets/tls_cert#$scratch/tls.crt#; s#/run/secrets/tls_key#$scratch/tls.key#" \
    -e 's/\b\(rasa-[0-9]\|actions-[0-9]\|inbox\):\([0-9]\+\)/127.0.0.1:\2/g' \
    "$CHECK_NGINX_TEMPLATE" > "$scratch/nginx.conf"
# A ${...} left over would be a variable the image does not fill in.
check "nginx -t: $CHECK_NGINX_TEMPLATE" \
  sh -c '! grep -n "\${" "$1" && "$2" -t -q -c "$1"' sh "$scratch/nginx.conf" "$NGINX"

check "hadolint: $CHECK_DOCKERFILE" "$bin/hadolint" --no-color "$CHECK_DOCKERFILE"
for script in deploy/entrypoint.sh deploy/postgres/init-policybot.sh; do
  check "sh -n: $script" sh -n "$script"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "deploy files: ${#failed[@]} check(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "deploy files: all $passed checks passed"
