"""The end-to-end harness stops what it starts within a bound (bot/servers.py): no server or client can hang a run.

These need no model and no servers of ours, so they run in every plain `pytest`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.servers import AssistantServers, run_within

#: A process that ignores SIGTERM, as a wedged server would, and says when it is ready.
STUBBORN = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(600)")
POLITE = "import time; print('ready', flush=True); time.sleep(600)"


def started(code: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def servers_running(tmp_path: Path, *processes: subprocess.Popen, grace_s: float) -> AssistantServers:
    servers = AssistantServers(Path("no-model.tar.gz"), tmp_path, stop_grace_s=grace_s)
    servers.processes = list(processes)
    return servers


def test_run_within_returns_when_the_step_does_and_passes_on_its_error() -> None:
    done: list[bool] = []
    run_within(lambda: done.append(True), 5, "a quick step")
    assert done == [True]

    def broken() -> None:
        raise ValueError("broken step")

    with pytest.raises(ValueError, match="broken step"):
        run_within(broken, 5, "a broken step")


def test_run_within_gives_up_on_a_step_that_never_returns() -> None:
    forever = threading.Event()
    began = time.monotonic()
    with pytest.raises(TimeoutError, match="a stuck step did not finish within 0.3 s"):
        run_within(forever.wait, 0.3, "a stuck step")
    assert time.monotonic() - began < 2
    forever.set()


def test_stop_terminates_servers_that_exit_on_sigterm(tmp_path: Path) -> None:
    first, second = started(POLITE), started(POLITE)
    servers = servers_running(tmp_path, first, second, grace_s=10)
    began = time.monotonic()
    servers.stop()
    assert time.monotonic() - began < 5
    assert first.returncode == second.returncode == -signal.SIGTERM


def test_stop_kills_a_server_that_ignores_sigterm_after_the_grace_period(tmp_path: Path) -> None:
    stubborn, polite = started(STUBBORN), started(POLITE)
    servers = servers_running(tmp_path, stubborn, polite, grace_s=1)
    began = time.monotonic()
    servers.stop()
    took = time.monotonic() - began
    assert 1 <= took < 5
    assert stubborn.returncode == -signal.SIGKILL and polite.returncode == -signal.SIGTERM
    servers.stop()  # twice is harmless


def test_stop_still_kills_the_servers_when_it_is_interrupted(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A test's timeout (pytest-timeout raises from SIGALRM) can land while stop() waits: the servers still die."""
    stubborn = started(STUBBORN)
    servers = servers_running(tmp_path, stubborn, grace_s=60)
    real_wait, waits = stubborn.wait, []

    def interrupted_once(timeout: float | None = None) -> int:
        waits.append(timeout)
        if len(waits) == 1:
            raise KeyboardInterrupt
        return real_wait(timeout=timeout)

    monkeypatch.setattr(stubborn, "wait", interrupted_once)
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        servers.stop()
    assert time.monotonic() - began < 5
    assert stubborn.returncode == -signal.SIGKILL
