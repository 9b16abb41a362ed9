"""A socket.io client that speaks the web chat widget's events, for the end-to-end tests (tests/e2e/web/conftest.py).

Closing one never waits on the server. python-socketio's `Client.disconnect` posts engine.io's CLOSE packet and then
joins the long-polling thread with no timeout (engineio/client.py:132-133), and that thread sits in a GET the server
never answers: a CLOSE from the client makes python-engineio's server close the socket with abort=True
(engineio/async_socket.py:49-51), which queues nothing (async_socket.py:116-128), so the pending poll waits out
pingInterval + pingTimeout, 45 s (async_socket.py:15-17). The client gives up on the GET only at its read timeout,
max(pingInterval, pingTimeout) + 5 = 30 s (engineio/client.py:509-511), so every close took up to 30 s. A browser
aborts its poll request when it closes; `PollingSession` does the same, and `ChatClient.close` bounds whatever is left.
"""

from __future__ import annotations

import queue
import socket
import threading
import weakref
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests
import socketio
from engineio import packet
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from bot.servers import run_within

#: Longest a ChatClient may take to close; it takes milliseconds once its poll is ended. 30 s, not 10: on a machine
#: running three CPU-bound jobs on two cores (2026-12-07) one close took over 10 s and failed a passing run.
CLOSE_TIMEOUT_S = 30.0
#: engine.io's CLOSE packet as it appears in a polling payload (packets are separated by the record separator).
_CLOSE = str(packet.CLOSE)


def carries_close(body: object) -> bool:
    """Whether a polling POST body holds engine.io's CLOSE packet."""
    return isinstance(body, str) and _CLOSE in body.split("\x1e")


class PollingSession(requests.Session):
    """The HTTP session an engine.io client polls through, which ends its own long-poll once its CLOSE is sent.

    It remembers the socket of every connection it opens; when a POST carrying the CLOSE packet has been sent (answered
    or not), it shuts them all down, so the GET still waiting fails at once and the polling thread ends. Loopback only:
    proxy settings from the environment are ignored.
    """

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        opened: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        lock = threading.Lock()  # engine.io's two threads open connections while another thread may end them
        # Once ending, a connection opened afterwards is ended too: the read loop may be between two polls when the
        # CLOSE goes out, and its next GET, reaching the server before the CLOSE is processed, would wait out the
        # server's 45 s poll (the teardown that timed out in CI on 2026-12-06).
        ending = threading.Event()
        self._opened, self._lock, self._ending = opened, lock, ending

        class Connection(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                with lock:
                    opened.add(self.sock)
                if ending.is_set():
                    self.sock.shutdown(socket.SHUT_RDWR)

        class Pool(HTTPConnectionPool):
            ConnectionCls = Connection

        adapter = HTTPAdapter()
        adapter.poolmanager.pool_classes_by_scheme = {**adapter.poolmanager.pool_classes_by_scheme, "http": Pool}
        self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            return super().request(method, url, *args, **kwargs)
        finally:
            if method == "POST" and carries_close(kwargs.get("data")):
                self.end_requests()

    def end_requests(self) -> None:
        """Shut down every connection this session opened, and any it opens from now on: requests in flight and
        to come fail at once."""
        self._ending.set()
        with self._lock:
            sockets = list(self._opened)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed
                pass


@dataclass
class ChatClient:
    """A socket.io client speaking the widget's events, with every event it receives kept in arrival order."""

    base_url: str
    query: str = "school=ouston&role=pupil"
    headers: dict[str, str] = field(default_factory=dict)
    events: "queue.Queue[tuple[str, Any]]" = field(default_factory=queue.Queue)
    token: str | None = None

    def __post_init__(self) -> None:
        self.http = PollingSession()
        # handle_sigint=False: on Ctrl-C python-socketio would disconnect every client from the signal handler.
        self.sio = socketio.Client(reconnection=False, http_session=self.http, handle_sigint=False)
        for name in ("session_confirm", "bot_uttered", "message_refused"):
            self.sio.on(name, partial(self._keep, name))
        self.sio.on("disconnect", lambda *_: self.events.put(("disconnect", None)))

    def _keep(self, name: str, data: Any = None) -> None:
        self.events.put((name, data))

    def connect(self) -> "ChatClient":
        # Long-polling: the channel offers no WebSocket (see channels/webchat/channel.py TRANSPORTS).
        self.sio.connect(f"{self.base_url}/?{self.query}", headers=self.headers, transports=["polling"],
                         socketio_path="/socket.io", wait_timeout=20)
        return self

    def start(self, session_id: object = None) -> str:
        """session_request with `session_id`; returns the token the server confirms."""
        self.sio.emit("session_request", {"session_id": session_id})
        self.token = self.expect("session_confirm")
        return self.token

    def say(self, text: str, **extra: Any) -> None:
        self.sio.emit("user_uttered", {"message": text, "session_id": self.token, **extra})

    def expect(self, name: str, timeout: float = 60) -> Any:
        """The next event called `name` (others before it are dropped)."""
        while True:
            event, data = self.events.get(timeout=timeout)
            if event == name:
                return data

    def replies(self, first_timeout: float = 60, quiet: float = 2.5) -> list[dict[str, Any]]:
        """The bot messages of one turn: waits for the first, then until none arrives for `quiet` seconds."""
        got: list[dict[str, Any]] = []
        timeout = first_timeout
        while True:
            try:
                event, data = self.events.get(timeout=timeout)
            except queue.Empty:
                return got
            if event == "bot_uttered":
                got.append(data)
                timeout = quiet

    def received(self, wait: float = 6) -> list[tuple[str, Any]]:
        """Everything that arrives within `wait` seconds (to show that nothing does)."""
        got = []
        try:
            while True:
                got.append(self.events.get(timeout=wait))
        except queue.Empty:
            return got

    @property
    def sender_id(self) -> str:
        assert self.token, "start() first"
        return "web-" + self.token.split(".")[1]

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Disconnect, waiting at most `timeout_s` seconds: TimeoutError after that (the stuck thread is a daemon,
        and this client's connections are shut so it ends soon after)."""
        try:
            if self.sio.connected:
                run_within(self.sio.disconnect, timeout_s, "closing a web chat socket.io client")
        finally:
            self.http.end_requests()
            self.http.close()
