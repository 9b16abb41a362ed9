"""The web chat end to end: socket.io clients and headless Chromium against the real servers (tests/e2e/conftest.py).

A "school website" on another loopback port stands in for a school's own site: its origin is added to the allowed
origins here, at collection, so the Rasa server started later for the session allows it (the variable is only read
when the server starts). A second site on a port that is never allowed shows what an unlisted website gets.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot import settings
from bot.servers import AssistantServers, free_port, run_within

from .chat_client import ChatClient

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
#: Longest a website stub may take to stop, and Chromium to close before its browser process is killed.
SITE_STOP_TIMEOUT_S = 5.0
BROWSER_CLOSE_TIMEOUT_S = 30.0


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
        _close_browser(context, profile)


def _close_browser(context: Any, profile: str) -> None:
    """Close the context (which ends the browser); if that takes over BROWSER_CLOSE_TIMEOUT_S, kill the browser.

    Playwright's sync API must be called from this thread, so the bound is a timer that SIGKILLs the Chromium
    process started with this test's own profile folder; Playwright then sees the browser gone and returns."""
    killed: list[int] = []
    watchdog = threading.Timer(BROWSER_CLOSE_TIMEOUT_S, lambda: killed.extend(_kill_browser_using(profile)))
    watchdog.daemon = True
    watchdog.start()
    try:
        context.close()
    finally:
        watchdog.cancel()
        shutil.rmtree(profile, ignore_errors=True)
    if killed:
        raise TimeoutError(f"Chromium did not close within {BROWSER_CLOSE_TIMEOUT_S:g} s; killed pid {killed}")


def _kill_browser_using(profile: str) -> list[int]:
    """SIGKILL the browser process whose command line names `profile` as its --user-data-dir; returns the pids."""
    marker = f"--user-data-dir={profile}".encode()
    killed = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "cmdline").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return killed


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
