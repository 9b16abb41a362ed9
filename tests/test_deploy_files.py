"""The multi-machine deployment files (deploy/, issue 15): the offline checkers of scripts/check-deploy.sh accept them
and refuse broken copies; and, read with plain PyYAML, they hold the topology `make cluster` runs (two Rasa replicas,
two action servers, one inbox, only nginx or the Ingress public), with probes, limits and locked-down containers, no
secret but placeholders, and only environment variables the code reads."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from bot import settings

ROOT = settings.PROJECT_ROOT
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose.yaml"
NGINX_TEMPLATE = DEPLOY / "nginx" / "templates" / "nginx.conf.template"
PLACEHOLDER = "CHANGE-ME"
#: Names that hold a secret value (TLS_CERT/TLS_KEY are file paths, not the key itself).
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|TRACKER_KEY")
#: POLICYBOT_* names only the deployment uses (the entrypoint, the endpoints file, compose and nginx read them).
DEPLOY_ONLY = {"POLICYBOT_PG_HOST", "POLICYBOT_REDIS_HOST", "POLICYBOT_ACTIONS_URL", "POLICYBOT_SERVER_NAME",
               "POLICYBOT_TLS_CERT", "POLICYBOT_TLS_KEY", "POLICYBOT_IMAGE", "POLICYBOT_SUBNET_PREFIX"}
ENV_NAME = re.compile(r"\bPOLICYBOT_[A-Z0-9_]*[A-Z0-9]\b")


def _run_checks(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["scripts/check-deploy.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


@pytest.fixture(scope="module")
def checkers() -> None:
    """Install the checkers once (a no-op when they are there); skip, saying why, only if they cannot be."""
    result = subprocess.run(["scripts/check-deploy.sh", "--install-only"], cwd=ROOT, capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0:
        pytest.skip(f"the deployment checkers could not be installed: {result.stderr.strip()[-500:]}")


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in sorted(K8S.rglob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _manifests() if doc["kind"] == kind}


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def _workloads() -> list[dict[str, Any]]:
    return [doc for _, doc in _manifests() if doc["kind"] in ("Deployment", "StatefulSet", "CronJob")]


def _quantity(text: str) -> float:
    """Kubernetes memory quantity in bytes (Mi, Gi) or CPU in cores (m)."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "m": 1e-3}
    for suffix, factor in units.items():
        if str(text).endswith(suffix):
            return float(str(text)[: -len(suffix)]) * factor
    return float(text)


# ---------------------------------------------------------------------------------------------- the checkers


def test_the_offline_checkers_accept_the_deployment_files(checkers: None) -> None:
    result = _run_checks()
    assert result.returncode == 0, result.stdout + result.stderr
    report = _report(result.stdout)
    for name in ("compose schema", "docker-compose config", "kubernetes 1.30.0", "kubernetes 1.37.0", "nginx -t",
                 "hadolint", "sh -n"):
        assert report[name][0] == "ok", result.stdout
    assert "all 8 checks passed" in result.stdout


def _broken(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text()
    assert old in text, f"{old!r} not in {source}"
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, 1))
    return path


def _report(stdout: str) -> dict[str, tuple[str, str]]:
    """check-deploy.sh's lines, by check name (up to the colon): (ok or FAIL, what the checker said)."""
    report: dict[str, tuple[str, str]] = {}
    for block in re.split(r"^(?=ok    |FAIL  )", stdout, flags=re.M):
        match = re.match(r"(ok|FAIL) +([^:\n]+)[^\n]*\n?(.*)", block, re.S)
        if match:
            report[match.group(2)] = (match.group(1), match.group(3))
    return report


def test_the_checkers_refuse_broken_copies(checkers: None, tmp_path: Path) -> None:
    compose = _broken(tmp_path, COMPOSE, "    restart: unless-stopped\n    # The image's own user",
                      "    restrat: unless-stopped\n    # The image's own user")  # an unknown key (postgres)
    deployment = _broken(tmp_path, K8S / "30-app.yaml", "  selector:\n    matchLabels: {app.kubernetes.io/name: "
                         "policybot, app.kubernetes.io/component: rasa}\n", "")  # a Deployment without selector
    nginx = _broken(tmp_path, NGINX_TEMPLATE, "least_conn;", "least_connections;")
    dockerfile = _broken(tmp_path, DEPLOY / "Dockerfile", "FROM python:3.11-slim-bookworm AS build",
                         "FROM python AS build")  # an unpinned base image
    result = _run_checks(CHECK_COMPOSE=str(compose), CHECK_K8S=str(deployment), CHECK_NGINX_TEMPLATE=str(nginx),
                         CHECK_DOCKERFILE=str(dockerfile), K8S_VERSIONS="1.37.0")
    assert result.returncode != 0
    report = _report(result.stdout)
    expected = {"compose schema": "'restrat' was unexpected", "docker-compose config": "'restrat'",
                "kubernetes 1.37.0": "'selector' is a required property",
                "nginx -t": 'unknown directive "least_connections"', "hadolint": "DL3006"}
    for name, says in expected.items():
        assert report[name][0] == "FAIL" and says in report[name][1], (name, result.stdout)
    assert report["sh -n"][0] == "ok"
    assert "5 check(s) failed" in result.stderr


def test_docker_compose_config_catches_what_the_schema_cannot(checkers: None, tmp_path: Path) -> None:
    """nginx depending on a replica that does not exist: valid against the schema, refused by docker-compose."""
    compose = _broken(tmp_path, COMPOSE, "      rasa-2: {condition: service_started}",
                      "      rasa-3: {condition: service_started}")
    result = _run_checks(CHECK_COMPOSE=str(compose), K8S_VERSIONS="1.37.0")
    assert result.returncode != 0
    report = _report(result.stdout)
    assert report["compose schema"][0] == "ok", result.stdout
    assert report["docker-compose config"][0] == "FAIL" and "'rasa-3'" in report["docker-compose config"][1]
    assert "1 check(s) failed" in result.stderr


# ---------------------------------------------------------------------------------------------- compose


def test_only_nginx_publishes_ports_in_compose() -> None:
    services = _compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    assert sorted(services["nginx"]["ports"]) == ["443:443", "80:80"]
    internal = _compose()["networks"]["backend"]
    assert internal["internal"] is True
    for name in ("postgres", "redis"):
        assert services[name]["networks"] == ["backend"], f"{name} must have no route out"


def test_compose_runs_two_rasa_replicas_and_two_action_servers_behind_nginx() -> None:
    services = _compose()["services"]
    rasa = sorted(name for name, s in services.items() if "channels.rasa_server" in s.get("command", []))
    actions = sorted(name for name, s in services.items() if "channels.action_server" in s.get("command", []))
    inbox = [name for name, s in services.items() if "bot.dsl_inbox" in s.get("command", [])]
    assert rasa == ["rasa-1", "rasa-2"] and actions == ["actions-1", "actions-2"] and inbox == ["inbox"]
    assert not any(s.get("deploy", {}).get("replicas", 1) > 1 for s in services.values())
    # Each replica is an upstream server of nginx, at the address compose gives it and writes into nginx's hosts.
    template = NGINX_TEMPLATE.read_text()
    hosts = dict(entry.split(":", 1) for entry in services["nginx"]["extra_hosts"])
    for name in rasa + actions + inbox:
        port = {"rasa": 5005, "actions": 5055, "inbox": 5056}[name.split("-")[0]]
        assert f"server {name}:{port}" in template
        assert hosts[name] == services[name]["networks"]["backend"]["ipv4_address"]
    assert template.count("server rasa-") == 4  # least_conn and the sticky hash
    assert "hash $policybot_route consistent;" in template and "policybot_route=$request_id" in template


def test_every_network_volume_and_secret_a_compose_service_names_is_declared() -> None:
    """What `docker-compose config` (1.29) leaves to `up`."""
    compose = _compose()
    for name, service in compose["services"].items():
        networks = service.get("networks", [])
        assert set(networks) <= set(compose["networks"]), name
        assert {s["source"] if isinstance(s, dict) else s for s in service.get("secrets", [])} <= set(
            compose.get("secrets", {})), name
        named = {v.split(":")[0] for v in service.get("volumes", []) if not v.startswith((".", "/"))}
        assert named <= set(compose.get("volumes", {})), name
        binds = {v.split(":")[0] for v in service.get("volumes", []) if v.startswith(".")}
        assert all((DEPLOY / b).exists() for b in binds), name


def test_every_compose_service_is_locked_down_and_checked() -> None:
    for name, service in _compose()["services"].items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert name == "retention" or service.get("healthcheck", {}).get("test"), name
    assert _compose()["services"]["nginx"]["cap_add"] == ["CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE"]


def test_compose_and_kubernetes_start_rasa_the_same_way() -> None:
    compose = _compose()["services"]["rasa-1"]["command"]
    k8s = _kind("Deployment")["policybot-rasa"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert compose[:-1] == k8s[:-1]
    assert compose[-1] == "deploy/endpoints.yml" and k8s[-1] == "/etc/policybot/endpoints.yml"


# ---------------------------------------------------------------------------------------------- kubernetes


def test_kubernetes_runs_the_same_topology() -> None:
    deployments = _kind("Deployment")
    replicas = {name: d["spec"]["replicas"] for name, d in deployments.items() if name != "policybot-redis"}
    assert replicas == {"policybot-rasa": 2, "policybot-actions": 2, "policybot-inbox": 1}
    settings_map = _kind("ConfigMap")["policybot-settings"]["data"]
    assert settings_map["POLICYBOT_ACTIONS_URL"] == "http://policybot-actions:5055/webhook"
    assert settings_map["POLICYBOT_PG_HOST"] == "policybot-postgres"
    assert settings_map["POLICYBOT_REDIS_HOST"] == "policybot-redis"


def test_every_kubernetes_workload_has_probes_limits_and_a_locked_down_container() -> None:
    for doc in _workloads():
        pod = _pod_spec(doc)
        name = doc["metadata"]["name"]
        if doc["kind"] != "CronJob":  # the selector selects the workload's own pods
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod["containers"]:
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[part]), (name, part)
            assert _quantity(resources["limits"]["memory"]) >= _quantity(resources["requests"]["memory"]), name
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            if doc["kind"] != "CronJob":
                assert container.get("readinessProbe") and container.get("livenessProbe"), name


@pytest.mark.parametrize(("deployment", "path", "port", "memory"), [
    ("policybot-rasa", "/", 5005, "2Gi"),            # docs/benchmarks.md: ~2.0 GB RSS after load
    ("policybot-actions", "/health", 5055, "1200Mi"),  # ~1.0-1.2 GB
    ("policybot-inbox", "/dsl/health", 5056, "64Mi"),
])
def test_probes_ask_each_server_its_own_health_and_memory_reflects_measured_rss(
        deployment: str, path: str, port: int, memory: str) -> None:
    container = _kind("Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if probe in container:
            get = container[probe]["httpGet"]
            assert get["path"] == path and ports.get(get["port"], get["port"]) == port, (deployment, probe)
    assert _quantity(container["resources"]["requests"]["memory"]) >= _quantity(memory)


def test_services_and_ingresses_point_at_real_pods_and_ports() -> None:
    deployments = _kind("Deployment") | _kind("StatefulSet")
    services = _kind("Service")
    for name, service in services.items():
        matching = [d for d in deployments.values()
                    if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matching) == 1, name
        port_names = {p["name"] for c in _pod_spec(matching[0])["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names, name
    routes = {}
    for ingress in _kind("Ingress").values():
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert ingress["spec"]["tls"][0]["secretName"] == "policybot-tls"
        for rule in ingress["spec"]["rules"]:
            for item in rule["http"]["paths"]:
                backend = item["backend"]["service"]
                assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                routes[item["path"]] = (ingress["metadata"]["name"], backend["name"])
    # The nginx template's public locations, and no other (not the REST channel, not Rasa's API).
    assert routes == {"/chat": ("policybot", "policybot-rasa"),
                      "/webhooks/teams/webhook": ("policybot", "policybot-rasa"),
                      "/socket.io": ("policybot-socketio", "policybot-rasa"),
                      "/dsl": ("policybot-dsl", "policybot-inbox")}
    sticky = _kind("Ingress")["policybot-socketio"]["metadata"]["annotations"]
    assert sticky["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert sticky["nginx.ingress.kubernetes.io/session-cookie-name"] == "policybot_route"
    assert "nginx.ingress.kubernetes.io/affinity" not in _kind("Ingress")["policybot"]["metadata"]["annotations"]


def test_the_kubernetes_copies_match_their_sources() -> None:
    configmaps = _kind("ConfigMap")
    assert configmaps["policybot-endpoints"]["data"]["endpoints.yml"] == (DEPLOY / "endpoints.yml").read_text()
    init = (DEPLOY / "postgres" / "init-policybot.sh").read_text()
    assert configmaps["policybot-postgres-init"]["data"]["init-policybot.sh"] == init


# ---------------------------------------------------------------------------------------------- secrets


def test_every_secret_in_the_committed_files_is_a_placeholder() -> None:
    secrets = [(path, doc) for path, doc in _manifests() if doc["kind"] == "Secret"]
    assert {path.parent.name for path, _ in secrets} == {"secret-template"}  # `kubectl apply -f` never takes them
    for _, doc in secrets:
        assert "data" not in doc
        for key, value in doc["stringData"].items():
            assert value in (PLACEHOLDER, ""), key
    # Nothing secret is given literally to a container: from the Secret (k8s) or from deploy/.env (compose).
    for doc in _workloads():
        for container in _pod_spec(doc)["containers"]:
            for item in container.get("env", []):
                assert not (SECRET_NAME.search(item["name"]) and "value" in item), item["name"]
    for name, service in _compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) or key == "REDISCLI_AUTH":
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:[-?][^}]*)?\}", str(value)), (name, key)
    example = dict(line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value in (PLACEHOLDER, ""), key
    # Every variable compose requires (${VAR:?...}) is in the example, and the example holds nothing compose ignores.
    compose_text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", compose_text))
    assert required <= set(example)
    commented = set(re.findall(r"^# ([A-Z0-9_]+)=", (DEPLOY / ".env.example").read_text(), re.M))
    for key in set(example) | commented:
        assert "${" + key in compose_text, key
    # The filled-in copies are never committed, nor sent to the image build.
    assert {".env", "secrets/"} <= set((DEPLOY / ".gitignore").read_text().split())
    assert "deploy/.env" in (DEPLOY / "Dockerfile.dockerignore").read_text().split()


def _entrypoint(tmp_path: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "POLICYBOT_PG_HOST": "db.internal", "POLICYBOT_PG_PASSWORD": "pgpw_1",
            "POLICYBOT_REDIS_HOST": "cache.internal", "POLICYBOT_REDIS_PASSWORD": "redispw-2"}
    return subprocess.run(["sh", str(DEPLOY / "entrypoint.sh"), *command], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30, env={**base, **env})


def test_the_entrypoint_makes_the_urls_the_code_reads(tmp_path: Path) -> None:
    result = _entrypoint(tmp_path, "env", POLICYBOT_SMTP_HOST="smtp.internal")
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    records = "postgresql+psycopg2://policybot:pgpw_1@db.internal:5432/policybot_records"
    assert env["POLICYBOT_CONCERNS_DATABASE_URL"] == env["POLICYBOT_INDUCTION_DATABASE_URL"] == records
    assert env["POLICYBOT_DATABASE_URL"] == records
    assert env["POLICYBOT_REDIS_URL"] == "redis://:redispw-2@cache.internal:6379/0"
    assert env["POLICYBOT_PG_PORT"] == "5432" and env["POLICYBOT_REDIS_PORT"] == "6379"
    # What scripts/serve.sh and scripts/cluster-prepare.sh export for the cluster, a container has too (or derives).
    exported = set()
    for script in ("serve.sh", "cluster-prepare.sh"):
        for line in (ROOT / "scripts" / script).read_text().splitlines():
            if line.lstrip().startswith("export "):
                exported |= set(re.findall(r"(POLICYBOT_[A-Z0-9_]+)=", line))
    exported -= {"POLICYBOT_SMTP_HOST", "POLICYBOT_SMTP_PORT"}  # the local mail catcher's; set by the operator here
    compose_env = set(_compose()["x-app"]["environment"])
    k8s_env = set(_kind("ConfigMap")["policybot-settings"]["data"]) | set(
        _kind("Secret")["policybot-secrets"]["stringData"])
    derived = {name for name in env if name.startswith("POLICYBOT_")} | {"POLICYBOT_BIND_HOST"}  # the image's ENV
    assert "POLICYBOT_BIND_HOST=0.0.0.0" in (DEPLOY / "Dockerfile").read_text()
    assert exported <= compose_env | derived, exported - compose_env - derived
    assert exported <= k8s_env | derived, exported - k8s_env - derived


@pytest.mark.parametrize(("env", "command", "named"), [
    ({"POLICYBOT_PG_PASSWORD": PLACEHOLDER}, ["env"], "POLICYBOT_PG_PASSWORD still holds its placeholder"),
    ({"POLICYBOT_SMTP_PASSWORD": PLACEHOLDER + "-smtp"}, ["env"], "POLICYBOT_SMTP_PASSWORD still holds"),
    ({"POLICYBOT_REDIS_PASSWORD": "a@b/c"}, ["env"], "POLICYBOT_REDIS_PASSWORD may hold only"),
    ({"POLICYBOT_REDIS_HOST": ""}, ["env"], "POLICYBOT_REDIS_HOST is not set"),
    ({}, ["echo", "-m", "channels.rasa_server", "run"], "POLICYBOT_ACTIONS_URL is not set"),
    ({}, ["echo", "-m", "channels.action_server"], "POLICYBOT_ACTION_TOKEN is not set"),
])
def test_the_entrypoint_refuses_a_missing_or_placeholder_secret(
        tmp_path: Path, env: dict[str, str], command: list[str], named: str) -> None:
    result = _entrypoint(tmp_path, *command, **env)
    assert result.returncode == 64 and named in result.stderr
    assert result.stdout == "" and "a@b/c" not in result.stderr  # never a value


# ---------------------------------------------------------------------------------------------- environment names


def _code_env_names() -> set[str]:
    names: set[str] = set()
    for folder in ("bot", "channels", "components", "actions"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(ENV_NAME.findall(path.read_text()))
    for script in ("serve.sh", "cluster-prepare.sh"):
        names |= set(ENV_NAME.findall((ROOT / "scripts" / script).read_text()))
    # Built with an f-string in bot/settings.py: POLICYBOT_RETAIN_<KIND>_DAYS.
    names |= {f"POLICYBOT_RETAIN_{kind.upper()}_DAYS" for kind in settings.RETENTION_DEFAULT_DAYS}
    return names


def _deploy_files() -> list[Path]:
    return [COMPOSE, DEPLOY / ".env.example", DEPLOY / "endpoints.yml", DEPLOY / "entrypoint.sh", NGINX_TEMPLATE,
            DEPLOY / "Dockerfile", DEPLOY / "postgres" / "init-policybot.sh", *sorted(K8S.rglob("*.yaml"))]


def test_the_deploy_files_use_only_environment_variables_the_code_reads() -> None:
    code = _code_env_names()
    assert {"POLICYBOT_ACTION_TOKEN", "POLICYBOT_TRACKER_KEY", "POLICYBOT_REDIS_URL", "POLICYBOT_WEB_SECRET"} <= code
    used: dict[str, set[str]] = {}
    for path in _deploy_files():
        for name in ENV_NAME.findall(path.read_text()):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    unknown = {name: files for name, files in used.items() if name not in code | DEPLOY_ONLY}
    assert not unknown, f"names no code reads: {unknown}"
    # Each deploy-only name is both given somewhere and read by the deployment itself.
    readers = "".join(p.read_text() for p in (DEPLOY / "endpoints.yml", DEPLOY / "entrypoint.sh", COMPOSE,
                                                NGINX_TEMPLATE))
    for name in DEPLOY_ONLY:
        assert "${" + name in readers, name


def test_rasa_reads_the_container_endpoints_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa's own reader expands every ${...} in deploy/endpoints.yml, and the retention sweep finds the tracker."""
    from rasa.utils.endpoints import read_endpoint_config

    from bot.retention.sweep import tracker_store_url

    values = {"POLICYBOT_ACTIONS_URL": "http://policybot-actions:5055/webhook", "POLICYBOT_ACTION_TOKEN": "tok",
              "POLICYBOT_PG_HOST": "db.internal", "POLICYBOT_PG_PORT": "5432", "POLICYBOT_PG_PASSWORD": "pw",
              "POLICYBOT_REDIS_HOST": "cache.internal", "POLICYBOT_REDIS_PORT": "6379",
              "POLICYBOT_REDIS_PASSWORD": "rpw"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    path = DEPLOY / "endpoints.yml"
    action = read_endpoint_config(str(path), "action_endpoint")
    assert action.url == values["POLICYBOT_ACTIONS_URL"] and action.headers == {"Authorization": "Bearer tok"}
    tracker = read_endpoint_config(str(path), "tracker_store")
    assert tracker.type == "components.tracker_store.EncryptedSQLTrackerStore" and tracker.url == "db.internal"
    assert tracker.kwargs["password"] == "pw" and tracker.kwargs["db"] == "policybot_conversations"
    lock = read_endpoint_config(str(path), "lock_store")
    assert lock.type == "components.lock_store.AtomicRedisLockStore" and lock.url == "cache.internal"
    assert lock.kwargs["password"] == "rpw" and lock.kwargs["db"] == 1
    url = tracker_store_url(path)
    assert url is not None and (url.host, url.port, url.database) == ("db.internal", 5432, "policybot_conversations")
    # The same databases, credentials' names and keys as the cluster on one machine; only where they are differs.
    cluster = yaml.safe_load((ROOT / "config" / "endpoints-cluster.yml").read_text())
    deploy = yaml.safe_load(path.read_text())
    for section in ("tracker_store", "lock_store"):
        same = {k: v for k, v in cluster[section].items() if k not in ("url", "type")}
        assert same == {k: v for k, v in deploy[section].items() if k not in ("url", "type")}, section
