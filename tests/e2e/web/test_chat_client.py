"""Closing a ChatClient never waits on the server (tests/e2e/web/chat_client.py says why it used to take 30 s).

Against a bare python-socketio server with the channel's transport settings and engine.io's default ping timing (the
same server code Rasa runs, on aiohttp instead of Sanic), started here: no model, no Rasa, so these run in every
plain `pytest`.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.servers import free_port

from .chat_client import ChatClient, PollingSession, carries_close
from .conftest import _close_all, _kill_browser_using

#: The channel's socket settings (channels/webchat/channel.py) and nothing else; default pingInterval 25 s,
#: pingTimeout 20 s, so a poll the server does not answer lasts until the client's 30 s read timeout.
SERVER = """
import sys
import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", transports=["polling"], allow_upgrades=False)

@sio.on("session_request")
async def session_request(sid, data=None):
    await sio.emit("session_confirm", "w1.test.0.0", room=sid)

app = web.Application()
sio.attach(app)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


@pytest.fixture(scope="module")
def polling_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the socket.io server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


def test_a_client_closes_at_once_and_its_polling_thread_ends(polling_server: str) -> None:
    client = ChatClient(polling_server).connect()
    assert client.start() == "w1.test.0.0"
    poller = client.sio.eio.read_loop_task
    time.sleep(1)  # a poll is now waiting on the server, as at the end of every test
    began = time.monotonic()
    client.close()
    took = time.monotonic() - began
    assert took < 3, f"close took {took:.1f} s (a plain python-socketio client takes about 29 s here)"
    assert not poller.is_alive(), "the long-polling thread outlived the disconnect"
    assert not client.sio.connected


def test_many_clients_close_quickly(polling_server: str) -> None:
    clients = [ChatClient(polling_server).connect() for _ in range(4)]
    for client in clients:
        client.start()
    began = time.monotonic()
    _close_all(clients)
    assert time.monotonic() - began < 5


def test_closing_a_client_that_never_connected_does_nothing(polling_server: str) -> None:
    ChatClient(polling_server).close()


class _StuckSocketIO:
    """Stands in for socketio.Client: connected, and its disconnect never returns (the hang seen in CI)."""

    def __init__(self) -> None:
        self.connected = True
        self.release = threading.Event()

    def disconnect(self) -> None:
        self.release.wait()


def stuck_client() -> tuple[ChatClient, _StuckSocketIO]:
    client = ChatClient("http://127.0.0.1:9")
    stuck = _StuckSocketIO()
    client.sio = stuck  # type: ignore[assignment]
    return client, stuck


def test_a_close_whose_disconnect_never_returns_gives_up_within_its_bound() -> None:
    client, stuck = stuck_client()
    began = time.monotonic()
    with pytest.raises(TimeoutError, match="closing a web chat socket.io client did not finish within 0.5 s"):
        client.close(timeout_s=0.5)
    assert time.monotonic() - began < 2
    stuck.release.set()


def test_the_chat_fixture_closes_every_client_and_then_reports_the_stuck_one(polling_server: str,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ChatClient.close, "__defaults__", (0.5,))
    stuck, released = stuck_client()
    healthy = ChatClient(polling_server).connect()
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="did not close cleanly: TimeoutError"):
        _close_all([stuck, healthy])
    assert time.monotonic() - began < 3
    assert not healthy.sio.connected, "the client after the stuck one was still closed"
    released.release.set()


def test_only_a_post_that_carries_engineio_close_ends_the_polls() -> None:
    assert carries_close("1")
    assert carries_close('41\x1e1')  # socket.io DISCONNECT, then engine.io CLOSE
    assert not carries_close("41")
    assert not carries_close('42["user_uttered",{"message":"1"}]')
    assert not carries_close(None)


def test_ending_requests_fails_a_request_in_flight_at_once() -> None:
    """A server that accepts and never answers, like a long poll after CLOSE: the GET fails as soon as it is ended."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        session = PollingSession()
        outcome: list[Any] = []

        def poll() -> None:
            try:
                outcome.append(session.get(f"http://127.0.0.1:{port}/socket.io/", timeout=30))
            except Exception as error:  # noqa: BLE001 - what the poll ended with
                outcome.append(error)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        accepted, _ = listener.accept()
        time.sleep(0.3)  # the GET is now waiting for an answer
        began = time.monotonic()
        session.end_requests()
        poller.join(5)
        accepted.close()
        assert not poller.is_alive() and time.monotonic() - began < 2
        assert isinstance(outcome[0], Exception)


# ------------------------------------------------------------------------------------------------ the browser's bound
def test_a_browser_that_will_not_close_is_found_by_its_profile_and_killed(tmp_path: Any) -> None:
    profile = str(tmp_path / "policybot-chromium-x")
    browser = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", f"--user-data-dir={profile}"])
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)",
                                  f"--user-data-dir={profile}-other"])
    try:
        assert _kill_browser_using(profile) == [browser.pid]
        assert browser.wait(timeout=10) == -signal.SIGKILL
        assert bystander.poll() is None, "only the process with exactly this profile folder"
    finally:
        for process in (browser, bystander):
            process.kill()
            process.wait(timeout=10)
