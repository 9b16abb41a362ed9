"""Start the real action server and Rasa server (REST channel, SQLite tracker store) for end-to-end tests.

The model comes from POLICYBOT_E2E_MODEL (`make test` trains a CI-sized one first); without it these tests are
skipped, so a plain `pytest` run of the unit tests stays fast.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, processes: list[subprocess.Popen], logs: list[Path], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs):
            if process.poll() is not None:
                raise RuntimeError(f"a server exited early ({process.args[:3]}); last log lines:\n"
                                   + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@pytest.fixture(scope="session")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running Rasa server whose custom actions run on a running action server."""
    model = os.environ.get("POLICYBOT_E2E_MODEL")
    if not model:
        pytest.skip("set POLICYBOT_E2E_MODEL to a trained model (make test does) to run the end-to-end tests")
    work = tmp_path_factory.mktemp("rasa-e2e")
    rasa_port, actions_port = free_port(), free_port()
    endpoints = work / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n"
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {work / 'tracker.db'}\n", encoding="utf-8")
    env = {**os.environ, "POLICYBOT_DATABASE_URL": f"sqlite:///{work / 'policybot.db'}",
           "TF_CPP_MIN_LOG_LEVEL": "3", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    logs = [work / "actions.log", work / "rasa.log"]
    commands = [
        [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(actions_port)],
        [str(VENV_BIN / "rasa"), "run", "--enable-api", "--port", str(rasa_port), "--model", model,
         "--credentials", str(ROOT / "credentials.yml"), "--endpoints", str(endpoints)],
    ]
    processes = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
                 for cmd, log in zip(commands, logs)]
    try:
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", processes, logs)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/status", processes, logs)
        yield f"http://127.0.0.1:{rasa_port}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def post_json(url: str, payload: object, timeout: float = 60) -> tuple[int, object]:
    """POST JSON (or raw bytes) and return (status, parsed body)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
