"""`scripts/serve.sh` started as `make run` (or `make cluster`) starts it, for the tests that need the start script
itself: free ports, scratch concern and feedback databases (the tracker store, logs and mail are the project's own
folders; in cluster mode PostgreSQL, Redis, secrets and the proxy's config are scratch too), stopped with SIGTERM to
its process group (SIGKILL if it overstays)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot import settings
from bot.servers import free_port

ROOT = settings.PROJECT_ROOT
#: The line serve.sh prints once every server answers.
STARTED = "The assistant is running"
CLUSTER_STARTED = "The cluster is running"
START_TIMEOUT_S = 280
CLUSTER_START_TIMEOUT_S = 420


def _cluster_settings(scratch: Path) -> tuple[dict[str, object], dict[str, str], Path]:
    """Ports and settings for a scratch cluster: two replicas of each server, PostgreSQL and Redis of its own. As
    root, PostgreSQL runs as `postgres`, which cannot enter pytest's 0700 folders: its data goes under its home."""
    ports: dict[str, object] = {"RASA_PORTS": f"{free_port()} {free_port()}",
                                "ACTION_PORTS": f"{free_port()} {free_port()}", "ACTIONS_LB_PORT": free_port(),
                                "INBOX_PORT": free_port(), "POLICYBOT_SMTP_PORT": free_port(),
                                "PG_PORT": free_port(), "REDIS_PORT": free_port(),
                                "CLUSTER_HTTPS_PORT": free_port(), "CLUSTER_HTTP_PORT": free_port()}
    pgdata = (Path("/var/lib/postgresql") / f"policybot-test-{scratch.name}" if os.geteuid() == 0
              else scratch / "pgdata")
    env = {"POLICYBOT_CLUSTER": "1", "POLICYBOT_CLUSTER_DIR": str(scratch / "cluster"), "PGDATA": str(pgdata),
           "DEPLOY_DIR": str(scratch / "cluster" / "deploy")}
    return ports, env, pgdata


@contextmanager
def serve_script(scratch: Path, cluster: bool = False) -> Iterator[dict]:
    """Start it and wait for STARTED; yields ports, process, scratch, began (epoch seconds) and output (path).
    With `cluster`, `make cluster`'s way (POLICYBOT_CLUSTER=1), the stores being the cluster's own PostgreSQL."""
    model = os.environ.get("POLICYBOT_E2E_MODEL")
    if not model:
        pytest.skip("set POLICYBOT_E2E_MODEL to a trained model (make test does) to run the end-to-end tests")
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
        yield {"ports": ports, "process": process, "scratch": scratch, "began": began, "output": output_path,
               "pgdata": pgdata}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        output.close()
        if pgdata is not None and pgdata.name.startswith("policybot-test-"):
            shutil.rmtree(pgdata, ignore_errors=True)
