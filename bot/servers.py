"""Start the real Rasa server and action server on free loopback ports, for end-to-end tests and `bench-e2e`.

Runs them as subprocesses of the project's virtualenv (this module does not import Rasa), each with its own
SQLite tracker store and feedback database under a scratch folder, so nothing in artifacts/ is touched.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bot import settings

VENV_BIN = settings.PROJECT_ROOT / ".venv" / "bin"


def free_port() -> int:
    """A TCP port nothing is listening on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_json(url: str, payload: object, timeout: float = 60) -> tuple[int, object]:
    """POST JSON (or raw bytes) and return (status, parsed body); HTTP errors come back as (code, None)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


@dataclass
class AssistantServers:
    """The action server and the Rasa server (REST channel) for one model, started by `start()`."""

    model: Path
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 240.0
    rasa_port: int = 0
    actions_port: int = 0
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/rest/webhook"

    def start(self) -> "AssistantServers":
        """Start both servers and wait until each answers its health check; raise with log lines if one dies."""
        if not Path(self.model).is_file():
            raise FileNotFoundError(f"no trained model at {self.model}; run `make train` (or `make train-ci`)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rasa_port, self.actions_port = free_port(), free_port()
        endpoints = self.workdir / "endpoints.yml"
        endpoints.write_text(
            f"action_endpoint:\n  url: http://127.0.0.1:{self.actions_port}/webhook\n"
            f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {self.workdir / 'tracker.db'}\n",
            encoding="utf-8")
        env = {**os.environ, "POLICYBOT_DATABASE_URL": f"sqlite:///{self.workdir / 'policybot.db'}",
               "POLICYBOT_CONCERNS_DATABASE_URL": f"sqlite:///{self.workdir / 'concerns.db'}",
               "TF_CPP_MIN_LOG_LEVEL": "3", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               **self.extra_env}
        self.logs = [self.workdir / "actions.log", self.workdir / "rasa.log"]
        commands = [
            [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(self.actions_port)],
            [str(VENV_BIN / "rasa"), "run", "--enable-api", "--port", str(self.rasa_port), "--model",
             str(self.model), "--credentials", str(settings.PROJECT_ROOT / "credentials.yml"),
             "--endpoints", str(endpoints)],
        ]
        self.processes = [
            subprocess.Popen(command, cwd=settings.PROJECT_ROOT, env=env, stdout=log.open("w"),
                             stderr=subprocess.STDOUT)
            for command, log in zip(commands, self.logs)]
        try:
            self._wait_until_up(f"http://127.0.0.1:{self.actions_port}/health")
            self._wait_until_up(f"{self.base_url}/status")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate both servers (kill after 20 s)."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def __enter__(self) -> "AssistantServers":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of each server (with its child processes), in MB, read from /proc."""
        names = ("action server", "Rasa server")
        return {name: _tree_rss_kb(process.pid) / 1024 for name, process in zip(names, self.processes)}

    def _wait_until_up(self, url: str) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            for process, log in zip(self.processes, self.logs):
                if process.poll() is not None:
                    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                    raise RuntimeError(f"a server exited early ({' '.join(map(str, process.args[:3]))}); "
                                       f"last log lines:\n{tail}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"{url} did not answer within {self.startup_timeout_s:.0f} s")


def _tree_rss_kb(pid: int) -> int:
    """VmRSS of a process plus its descendants (0 for processes that have gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        children = Path(f"/proc/{current}/task/{current}/children")
        if children.exists():
            pending.extend(int(child) for child in children.read_text().split())
    return total
