"""`scripts/serve.sh` started as `make run` starts it, for the tests that need the start script itself: free
ports, scratch concern and feedback databases (the tracker store, logs and mail are the project's own folders),
stopped with SIGTERM to its process group (SIGKILL if it overstays)."""

from __future__ import annotations

import os
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
START_TIMEOUT_S = 280


@contextmanager
def serve_script(scratch: Path) -> Iterator[dict]:
    """Start it and wait for STARTED; yields ports, process, scratch, began (epoch seconds) and output (path)."""
    model = os.environ.get("POLICYBOT_E2E_MODEL")
    if not model:
        pytest.skip("set POLICYBOT_E2E_MODEL to a trained model (make test does) to run the end-to-end tests")
    ports = {"RASA_PORT": free_port(), "ACTIONS_PORT": free_port(), "INBOX_PORT": free_port(),
             "POLICYBOT_SMTP_PORT": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "MODEL": str(ROOT / model),
           "POLICYBOT_CONCERNS_DATABASE_URL": f"sqlite:///{scratch / 'concerns.db'}",
           "POLICYBOT_DATABASE_URL": f"sqlite:///{scratch / 'policybot.db'}"}
    env.pop("POLICYBOT_SMTP_HOST", None)
    began = time.time()
    output_path = scratch / "serve.out"
    output = output_path.open("w")
    process = subprocess.Popen(["scripts/serve.sh"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while STARTED not in output_path.read_text(errors="replace"):
            assert process.poll() is None, output_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, f"scripts/serve.sh did not start within {START_TIMEOUT_S} s"
            time.sleep(1)
        yield {"ports": ports, "process": process, "scratch": scratch, "began": began, "output": output_path}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        output.close()
