"""The web chat end to end: socket.io clients and headless Chromium against the real servers (tests/e2e/conftest.py).

A "school website" on another loopback port stands in for a school's own site: its origin is added to the allowed
origins here, at collection, so the Rasa server started later for the session allows it (the variable is only read
when the server starts). A second site on a port that is never allowed shows what an unlisted website gets.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import socketio

from bot import settings
from bot.servers import AssistantServers, free_port

SCHOOL_SITE_PORT = free_port()
SCHOOL_SITE = f"http://127.0.0.1:{SCHOOL_SITE_PORT}"
os.environ["POLICYBOT_WEB_ALLOWED_ORIGINS"] = " ".join(
    filter(None, (os.environ.get("POLICYBOT_WEB_ALLOWED_ORIGINS"), SCHOOL_SITE)))

CHROMIUM = Path("/usr/bin/chromium")
#: What keeps headless Chromium quiet on a closed network (see /work/shared/reference/CHANNEL-NOTES.md).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = settings.PROJECT_ROOT / "artifacts" / "e2e-screenshots"
PHONE_VIEWPORT = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def web(servers: AssistantServers) -> str:
    """Base URL of the running Rasa server, which serves the chat pages and the socket."""
    return servers.base_url


# ------------------------------------------------------------------------------------------------ socket.io
@dataclass
class ChatClient:
    """A socket.io client speaking the widget's events, with every event it receives kept in arrival order."""

    base_url: str
    query: str = "school=ouston&role=pupil"
    headers: dict[str, str] = field(default_factory=dict)
    events: "queue.Queue[tuple[str, Any]]" = field(default_factory=queue.Queue)
    token: str | None = None

    def __post_init__(self) -> None:
        self.sio = socketio.Client(reconnection=False)
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

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


@pytest.fixture
def chat(web: str) -> Iterator[Any]:
    """Makes connected ChatClients; closes them all after the test."""
    made: list[ChatClient] = []

    def make(query: str = "school=ouston&role=pupil", headers: dict[str, str] | None = None) -> ChatClient:
        client = ChatClient(web, query, headers or {})
        made.append(client)
        return client.connect()

    yield make
    for client in made:
        client.close()


def text_of(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(reply.get("text", "")) for reply in replies)


# ------------------------------------------------------------------------------------------------ websites
class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass


@dataclass
class SchoolSite:
    """A school's website on loopback with the embed snippet pasted in."""

    url: str


def _serve_site(root: Path, port: int, chat_url: str, slug: str) -> ThreadingHTTPServer:
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>A school</title></head><body>"
        "<h1>Welcome to our school</h1><p>News, term dates and letters home.</p>"
        f'<script src="{chat_url}/chat/embed.js" data-school="{slug}" defer></script></body></html>',
        encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def school_site(web: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchoolSite]:
    """Rolvenden's website, an allowed origin."""
    server = _serve_site(tmp_path_factory.mktemp("school-site"), SCHOOL_SITE_PORT, web, "rolvenden")
    yield SchoolSite(f"{SCHOOL_SITE}/index.html")
    server.shutdown()


@pytest.fixture(scope="session")
def unlisted_site(web: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchoolSite]:
    """A website whose origin nobody allowed, with the same snippet."""
    port = free_port()
    server = _serve_site(tmp_path_factory.mktemp("unlisted-site"), port, web, "rolvenden")
    yield SchoolSite(f"http://127.0.0.1:{port}/index.html")
    server.shutdown()


# ------------------------------------------------------------------------------------------------ browser
# Module scope, not session: Playwright's sync API keeps an event loop running in the main thread until it
# stops, and every later test that calls asyncio.run() (the action tests) would fail while it runs.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium is not installed; run scripts/install-chromium.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright_driver: Any) -> Iterator[Any]:
    """A fresh Chromium profile (Debian's /usr/bin/chromium, never a downloaded browser) at phone size."""
    profile = tempfile.mkdtemp(prefix="policybot-chromium-")
    context = playwright_driver.chromium.launch_persistent_context(
        profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, viewport=PHONE_VIEWPORT)
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
