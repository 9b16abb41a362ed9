"""Headless Chromium for end-to-end tests (the web chat, the DSL inbox): Debian's /usr/bin/chromium driven by
Playwright, never a downloaded browser. A conftest imports the fixtures to use them."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import settings

CHROMIUM = Path("/usr/bin/chromium")
#: What keeps headless Chromium quiet on a closed network (see /work/shared/reference/CHANNEL-NOTES.md).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = settings.PROJECT_ROOT / "artifacts" / "e2e-screenshots"
PHONE_VIEWPORT = {"width": 390, "height": 844}
#: Longest Chromium may take to close before its browser process is killed.
BROWSER_CLOSE_TIMEOUT_S = 30.0


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
