"""`scripts/serve.sh` started as `make run` (or, with `cluster`, `make cluster`) starts it, on free ports and scratch
stores, for the end-to-end tests (tests/e2e/serve_script.py) and `make bench-e2e`: yields a `Running` with the
ports, the process and how a client reaches the REST channel; stopped with SIGTERM to its process group (SIGKILL if
it overstays). The tracker store, logs and mail are the project's own folders; in cluster mode PostgreSQL, Redis,
secrets and the proxy's config are scratch too."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot import settings
from bot.servers import _tree_rss_kb, free_port

ROOT = settings.PROJECT_ROOT
#: The line serve.sh prints once every server answers (in cluster mode, the second).
STARTED = "The assistant is running"
CLUSTER_STARTED = "The cluster is running"
START_TIMEOUT_S = 280
CLUSTER_START_TIMEOUT_S = 420


@dataclass
class Running:
    """A started serve.sh: its ports (settings as passed), process, scratch folder, start time and output file."""

    ports: dict[str, object]
    process: subprocess.Popen
    scratch: Path
    began: float
    output: Path
    cluster: bool
    pgdata: Path | None = None
    rest_headers: dict[str, str] = field(default_factory=dict)

    @property
    def webhook(self) -> str:
        """The REST channel as a client reaches it: Rasa itself, or nginx in cluster mode."""
        if self.cluster:
            return f"https://localhost:{self.ports['CLUSTER_HTTPS_PORT']}/webhooks/rest/webhook"
        return f"http://127.0.0.1:{self.ports['RASA_PORT']}/webhooks/rest/webhook"

    def tls(self) -> ssl.SSLContext | None:
        """Trust for the cluster proxy's self-signed certificate (verified, not ignored)."""
        if not self.cluster:
            return None
        return ssl.create_default_context(cafile=str(self.scratch / "cluster" / "deploy" / "tls" / "selfsigned.crt"))

    def server_rss_mb(self) -> dict[str, float]:
        """Resident memory (MB) of each Rasa and action server the supervisor runs, by its port."""
        found: dict[str, float] = {}
        ports = [*str(self.ports.get("RASA_PORTS", self.ports.get("RASA_PORT", ""))).split(),
                 *str(self.ports.get("ACTION_PORTS", self.ports.get("ACTIONS_PORT", ""))).split()]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                words = [w.decode(errors="replace") for w in (entry / "cmdline").read_bytes().split(b"\0")]
            except OSError:
                continue
            if words[1:2] == ["-m"] and words[2:3] and words[2] in ("channels.rasa_server", "channels.action_server") \
                    and "--port" in words and words[words.index("--port") + 1] in ports:
                kind = "Rasa" if words[2] == "channels.rasa_server" else "actions"
                found[f"{kind} {words[words.index('--port') + 1]}"] = _tree_rss_kb(int(entry.name)) / 1024
        return found


def _cluster_settings(scratch: Path) -> tuple[dict[str, object], dict[str, str], Path]:
    """Ports and settings for a scratch cluster: two replicas of each server, PostgreSQL and Redis of its own. As
    root, PostgreSQL runs as `postgres`, which cannot enter a 0700 scratch folder: its data goes under its home."""
    ports: dict[str, object] = {"RASA_PORTS": f"{free_port()} {free_port()}",
                                "ACTION_PORTS": f"{free_port()} {free_port()}", "ACTIONS_LB_PORT": free_port(),
                                "INBOX_PORT": free_port(), "POLICYBOT_SMTP_PORT": free_port(),
                                "PG_PORT": free_port(), "REDIS_PORT": free_port(),
                                "CLUSTER_HTTPS_PORT": free_port(), "CLUSTER_HTTP_PORT": free_port()}
    # Named for this process too: a run killed before its clean-up must not leave a folder the next one reuses.
    pgdata = (Path("/var/lib/postgresql") / f"policybot-test-{scratch.name}-{os.getpid()}" if os.geteuid() == 0
              else scratch / "pgdata")
    env = {"POLICYBOT_CLUSTER": "1", "POLICYBOT_CLUSTER_DIR": str(scratch / "cluster"), "PGDATA": str(pgdata),
           "DEPLOY_DIR": str(scratch / "cluster" / "deploy")}
    return ports, env, pgdata


@contextmanager
def serve_run(scratch: Path, model: str | Path, cluster: bool = False) -> Iterator[Running]:
    """Start serve.sh and wait until it says every server answers (AssertionError with its output's tail if not)."""
    pgdata: Path | None = None
    if cluster:
        ports, extra, pgdata = _cluster_settings(scratch)
    else:
        ports = {"RASA_PORT": free_port(), "ACTIONS_PORT": free_port(), "INBOX_PORT": free_port(),
                 "POLICYBOT_SMTP_PORT": free_port()}
        extra = {"POLICYBOT_CONCERNS_DATABASE_URL": f"sqlite:///{scratch / 'concerns.db'}",
                 "POLICYBOT_DATABASE_URL": f"sqlite:///{scratch / 'policybot.db'}"}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "MODEL": str(ROOT / model), **extra}
    env.pop("POLICYBOT_SMTP_HOST", None)
    started, timeout_s = (CLUSTER_STARTED, CLUSTER_START_TIMEOUT_S) if cluster else (STARTED, START_TIMEOUT_S)
    began = time.time()
    output_path = scratch / "serve.out"
    output = output_path.open("w")
    process = subprocess.Popen(["scripts/serve.sh"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while started not in output_path.read_text(errors="replace"):
            assert process.poll() is None, output_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, f"scripts/serve.sh did not start within {timeout_s} s"
            time.sleep(1)
        headers = {}
        if cluster:
            token = (scratch / "cluster" / "rest-token").read_text().strip()
            headers = {"Authorization": f"Bearer {token}"}
        yield Running(ports, process, scratch, began, output_path, cluster, pgdata, headers)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        output.close()
        if pgdata is not None and pgdata.name.startswith("policybot-test-"):
            shutil.rmtree(pgdata, ignore_errors=True)
