"""The web chat end to end: socket.io clients and headless Chromium against the real servers (tests/e2e/conftest.py).

A "school website" on another loopback port stands in for a school's own site: its origin is added to the allowed
origins here, at collection, so the Rasa server started later for the session allows it (the variable is only read
when the server starts). A second site on a port that is never allowed shows what an unlisted website gets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.servers import AssistantServers, free_port, run_within

# Headless Chromium, shared with the DSL inbox tests (pytest finds the fixtures through these names).
from ..browser import PHONE_VIEWPORT, _kill_browser_using, browser, playwright_driver, screenshots  # noqa: F401

from .chat_client import ChatClient

SCHOOL_SITE_PORT = free_port()
SCHOOL_SITE = f"http://127.0.0.1:{SCHOOL_SITE_PORT}"
os.environ["POLICYBOT_WEB_ALLOWED_ORIGINS"] = " ".join(
    filter(None, (os.environ.get("POLICYBOT_WEB_ALLOWED_ORIGINS"), SCHOOL_SITE)))

#: Longest a website stub may take to stop.
SITE_STOP_TIMEOUT_S = 5.0


@pytest.fixture(scope="session")
def web(servers: AssistantServers) -> str:
    """Base URL of the running Rasa server, which serves the chat pages and the socket."""
    return servers.base_url


# ------------------------------------------------------------------------------------------------ socket.io
@pytest.fixture
def chat(web: str) -> Iterator[Any]:
    """Makes connected ChatClients; closes them all after the test."""
    made: list[ChatClient] = []

    def make(query: str = "school=ouston&role=pupil", headers: dict[str, str] | None = None) -> ChatClient:
        client = ChatClient(web, query, headers or {})
        made.append(client)
        return client.connect()

    yield make
    _close_all(made)


def _close_all(clients: list[ChatClient]) -> None:
    """Close every client (each within CLOSE_TIMEOUT_S), then report those that did not close."""
    problems = []
    for client in clients:
        try:
            client.close()
        except Exception as error:  # noqa: BLE001 - close the others first, then fail
            problems.append(f"{type(error).__name__}: {error}")
    if problems:
        raise RuntimeError("web chat clients did not close cleanly: " + "; ".join(problems))


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


def _stop_site(server: ThreadingHTTPServer) -> None:
    try:
        run_within(server.shutdown, SITE_STOP_TIMEOUT_S, "stopping a school website stub")
    finally:
        server.server_close()


@pytest.fixture(scope="session")
def school_site(web: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchoolSite]:
    """Rolvenden's website, an allowed origin."""
    server = _serve_site(tmp_path_factory.mktemp("school-site"), SCHOOL_SITE_PORT, web, "rolvenden")
    try:
        yield SchoolSite(f"{SCHOOL_SITE}/index.html")
    finally:
        _stop_site(server)


@pytest.fixture(scope="session")
def unlisted_site(web: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchoolSite]:
    """A website whose origin nobody allowed, with the same snippet."""
    port = free_port()
    server = _serve_site(tmp_path_factory.mktemp("unlisted-site"), port, web, "rolvenden")
    try:
        yield SchoolSite(f"http://127.0.0.1:{port}/index.html")
    finally:
        _stop_site(server)
