"""Start the real Rasa server and action server on free loopback ports, for end-to-end tests and `bench-e2e`.

Runs them as subprocesses of the project's virtualenv (this module does not import Rasa), each with its own
SQLite tracker store and feedback database under a scratch folder, so nothing in artifacts/ is touched. Nothing here
waits without a limit: start-up has one deadline, and stopping sends SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

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


def run_within(action: Callable[[], Any], timeout_s: float, what: str) -> None:
    """Run a blocking shutdown step (a client's disconnect, a server's stop) but wait for it at most `timeout_s`.

    It runs in a daemon thread, so a step that never returns cannot hold up the caller or the interpreter's exit.
    Raises TimeoutError naming `what` when it overruns, and re-raises whatever the step raised.
    """
    failure: list[BaseException] = []

    def step() -> None:
        try:
            action()
        except BaseException as error:  # noqa: BLE001 - handed to the caller below
            failure.append(error)

    thread = threading.Thread(target=step, name=f"stop: {what}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"{what} did not finish within {timeout_s:g} s (left behind in a daemon thread)")
    if failure:
        raise failure[0]


@dataclass
class AssistantServers:
    """The action server and the Rasa server (REST channel) for one model, started by `start()`."""

    model: Path
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 240.0
    #: How long the servers get to exit after SIGTERM before they are killed.
    stop_grace_s: float = 15.0
    rasa_port: int = 0
    actions_port: int = 0
    processes: list[subprocess.Popen] = field(default_factory=list)
    #: The shared secret Rasa sends to the action server (made per start).
    action_token: str = ""
    #: The key the tracker store encrypts conversations with (made per start).
    tracker_key: str = ""
    logs: list[Path] = field(default_factory=list)
    _log_files: list[IO[str]] = field(default_factory=list, init=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/rest/webhook"

    def start(self) -> "AssistantServers":
        """Start both servers and wait (`startup_timeout_s` in all) until each answers its health check; raise with
        log lines if one dies. Stops them again if it raises, whatever the reason (a test's timeout too)."""
        if not Path(self.model).is_file():
            raise FileNotFoundError(f"no trained model at {self.model}; run `make train` (or `make train-ci`)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rasa_port, self.actions_port = free_port(), free_port()
        endpoints = self.workdir / "endpoints.yml"
        self.action_token = secrets.token_urlsafe(32)
        self.tracker_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()  # a Fernet key
        endpoints.write_text(
            f"action_endpoint:\n  url: http://127.0.0.1:{self.actions_port}/webhook\n"
            f"  headers:\n    Authorization: Bearer ${{POLICYBOT_ACTION_TOKEN}}\n"  # plain: Rasa expands ${{}} only there
            f"tracker_store:\n  type: components.tracker_store.EncryptedSQLTrackerStore\n  dialect: sqlite\n"
            f"  db: {self.workdir / 'tracker.db'}\n",
            encoding="utf-8")
        env = {**os.environ, "POLICYBOT_DATABASE_URL": f"sqlite:///{self.workdir / 'policybot.db'}",
               "POLICYBOT_CONCERNS_DATABASE_URL": f"sqlite:///{self.workdir / 'concerns.db'}",
               "TF_CPP_MIN_LOG_LEVEL": "3", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "POLICYBOT_ACTION_TOKEN": self.action_token, "POLICYBOT_BIND_HOST": "127.0.0.1",
               "POLICYBOT_TRACKER_KEY": self.tracker_key,
               "RASA_TELEMETRY_ENABLED": "false", **self.extra_env}
        self.logs = [self.workdir / "actions.log", self.workdir / "rasa.log"]
        commands = [
            [str(VENV_BIN / "python"), "-m", "channels.action_server", "--port", str(self.actions_port)],
            # Rasa behind the log redaction (channels/rasa_server.py), as scripts/serve.sh starts it.
            [str(VENV_BIN / "python"), "-m", "channels.rasa_server", "run", "--interface", "127.0.0.1",
             "--enable-api", "--port",
             str(self.rasa_port), "--model",
             str(self.model), "--credentials", str(settings.PROJECT_ROOT / "credentials.yml"),
             "--endpoints", str(endpoints)],
        ]
        self.processes, self._log_files = [], []
        deadline = time.monotonic() + self.startup_timeout_s
        try:
            for command, log in zip(commands, self.logs):
                self._log_files.append(log.open("w"))
                self.processes.append(subprocess.Popen(command, cwd=settings.PROJECT_ROOT, env=env,
                                                       stdout=self._log_files[-1], stderr=subprocess.STDOUT))
            self._wait_until_up(f"http://127.0.0.1:{self.actions_port}/health", deadline)
            self._wait_until_up(f"{self.base_url}/status", deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM both servers, SIGKILL any still running `stop_grace_s` seconds later; returns within about
        `stop_grace_s` + 5 s whatever the servers do. Safe to call twice."""
        try:
            for process in self.processes:
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + self.stop_grace_s
            for process in self.processes:
                try:
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        finally:  # also when interrupted (Ctrl-C, a test's timeout): never leave a server running
            for process in self.processes:
                if process.poll() is None:
                    process.kill()
                    try:
                        process.wait(timeout=5)
                    except subprocess.TimeoutExpired:  # unkillable for now (in the kernel); nothing more to do
                        pass
            for log_file in self._log_files:
                log_file.close()
            self._log_files.clear()

    def __enter__(self) -> "AssistantServers":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of each server (with its child processes), in MB, read from /proc."""
        names = ("action server", "Rasa server")
        return {name: _tree_rss_kb(process.pid) / 1024 for name, process in zip(names, self.processes)}

    def _wait_until_up(self, url: str, deadline: float) -> None:
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
        raise RuntimeError(f"{url} did not answer within {self.startup_timeout_s:.0f} s of starting the servers")


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


@dataclass
class InboxServer:
    """The DSL web inbox (`python -m bot.dsl_inbox`) on a free loopback port, over its own concern database, for
    end-to-end tests and `make bench`. `env` adds variables (POLICYBOT_SAFEGUARDING_CONFIG, say)."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 60.0
    port: int = 0
    process: subprocess.Popen | None = None
    log: Path | None = None
    _log_file: IO[str] | None = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.workdir / 'concerns.db'}"

    def environment(self) -> dict[str, str]:
        """What the server runs with; a test's own store and CLI calls use the same to see the same records."""
        return {**os.environ, "POLICYBOT_CONCERNS_DATABASE_URL": self.database_url, **self.env}

    def start(self) -> "InboxServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = self.workdir / "inbox.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen([str(VENV_BIN / "python"), "-m", "bot.dsl_inbox", "--port", str(self.port)],
                                        cwd=settings.PROJECT_ROOT, env=self.environment(), stdout=self._log_file,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout_s
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the DSL inbox exited early:\n{self.log.read_text(errors='replace')[-2000:]}")
                try:
                    with urllib.request.urlopen(f"{self.base_url}/dsl/health", timeout=2):
                        return self
                except OSError:
                    time.sleep(0.2)
            raise RuntimeError(f"the DSL inbox did not answer within {self.startup_timeout_s:.0f} s")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "InboxServer":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
