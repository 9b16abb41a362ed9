"""The DSL web inbox end to end: the real inbox server (`python -m bot.dsl_inbox`) over a scratch concern database,
with readers enrolled through the real CLI. Two schools, so every test can check that the other school sees nothing.
No Rasa model is needed: concerns are recorded through the concern store, as the action server records them."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from bot import settings
from bot.dsl_inbox.accounts import InboxAccounts
from bot.safeguarding.records import ConcernStore, SafeguardingConfig
from bot.schools import SchoolDirectory
from bot.servers import VENV_BIN, InboxServer

# Headless Chromium, shared with the web chat tests (pytest finds the fixtures through these names).
from ..browser import browser, playwright_driver, screenshots  # noqa: F401

SCHOOL, OTHER_SCHOOL = "ken-stimpson", "ouston"
PASSWORD = "a long inbox passphrase"
SAFEGUARDING_YML = """schools:
  ken-stimpson:
    dsl_readers: [ks-dsl, ks-deputy, ks-code, ks-link, ks-out, ks-browser]
    notify_email: [dsl@ks.example]
    allegation_readers: [ks-head]
    allegation_email: [head@ks.example]
  ouston:
    dsl_readers: [ouston-dsl, ouston-browser]
    notify_email: [dsl@ouston.example]
"""
_SECRET = re.compile(r"Or type this secret into the app: ([A-Z2-7]+)")


@dataclass
class Reader:
    """An enrolled inbox account and the last TOTP step it used (a code is accepted once)."""

    name: str
    school: str
    secret: str
    last_step: int = -1

    def next_code(self) -> str:
        """A code the server has not seen: this step's, or the next one's (accepted for clock drift), else wait."""
        totp = pyotp.TOTP(self.secret)
        while True:
            current = int(time.time()) // totp.interval
            for step in (current, current + 1):
                if step > self.last_step:
                    self.last_step = step
                    return totp.generate_otp(step)
            time.sleep(1)


class Browser:
    """An HTTP client that keeps cookies the way a browser on a loopback address does: Chromium treats
    http://127.0.0.1 as a secure context and sends `Secure` cookies there, where httpx's cookie jar would not."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        reply = self._http.request(method, path, headers=sent, **kwargs)
        for name, value in reply.headers.multi_items():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if "max-age=0" in value.lower() or not cookie_value:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = cookie_value
        return reply

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@dataclass
class Inbox:
    server: InboxServer
    store: ConcernStore
    readers: dict[str, Reader] = field(default_factory=dict)
    _messages: int = 0
    _sessions: dict[str, "Browser"] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.base_url

    def record(self, school: str = SCHOOL, words: str = "my uncle hits me when mum is out", urgency: str = "high",
               category: str = "physical_abuse", kind: str = "disclosure") -> str:
        self._messages += 1
        return self.store.record(message_id=f"dsl-e2e-{time.time_ns()}-{self._messages}", school=school,
                                 role="pupil", channel="webchat", urgency=urgency, category=category, kind=kind,
                                 words=words, excerpt=("hi", "can I tell you something")).reference

    def client(self) -> Browser:
        return Browser(self.url)

    def session(self, name: str) -> Browser:
        """One signed-in client per reader, shared by the tests (a code is accepted once, so signing in afresh
        every time would wait for the authenticator's next 30-second step)."""
        if name not in self._sessions:
            self._sessions[name] = self.sign_in(name)
        return self._sessions[name]

    def sign_in(self, name: str, client: Browser | None = None) -> Browser:
        """A client signed in as `name` (password, then code), the way a browser does it."""
        client = client or self.client()
        reader = self.readers[name]
        form = client.get("/dsl/sign-in")
        csrf = hidden(form.text, "csrf")
        first = client.post("/dsl/sign-in", data={"csrf": csrf, "username": name, "password": PASSWORD})
        assert first.status_code == 302 and first.headers["location"].startswith("/dsl/sign-in/code"), first.text
        page = client.get("/dsl/sign-in/code")
        done = client.post("/dsl/sign-in/code", data={"csrf": hidden(page.text, "csrf"), "code": reader.next_code()})
        assert done.status_code == 302, done.text
        return client


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} field in the page"
    return found.group(1)


def enrol(server: InboxServer, school: str, name: str) -> Reader:
    result = subprocess.run([str(VENV_BIN / "policybot"), "dsl", "add-user", "--school", school, "--user", name,
                             "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True,
                            env=server.environment(), cwd=settings.PROJECT_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    found = _SECRET.search(result.stdout)
    assert found, "add-user printed no secret"
    return Reader(name, school, found.group(1))


@pytest.fixture(scope="session")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbox]:
    workdir = tmp_path_factory.mktemp("dsl-inbox")
    config = workdir / "safeguarding.yml"
    config.write_text(SAFEGUARDING_YML, encoding="utf-8")
    with InboxServer(workdir, env={"POLICYBOT_SAFEGUARDING_CONFIG": str(config)}) as server:
        schools = SchoolDirectory.load()
        store = ConcernStore(server.database_url, schools=schools,
                             config=SafeguardingConfig.load(config, schools=schools),
                             clock=lambda: datetime.now(timezone.utc))
        found = Inbox(server, store)
        found.readers["ks-dsl"] = enrol(server, SCHOOL, "ks-dsl")  # through the real CLI
        accounts = InboxAccounts(server.database_url, schools=schools, config=store.config)
        for school, name in ((SCHOOL, "ks-deputy"), (SCHOOL, "ks-code"), (SCHOOL, "ks-link"), (SCHOOL, "ks-out"),
                             (SCHOOL, "ks-browser"), (SCHOOL, "ks-head"), (OTHER_SCHOOL, "ouston-dsl"),
                             (OTHER_SCHOOL, "ouston-browser")):
            found.readers[name] = Reader(name, school, accounts.enrol(school, name, PASSWORD).secret)
        yield found


@pytest.fixture
def inbox_log(inbox: Inbox) -> Any:
    """The server's log as text (to check that no record content reaches it)."""
    assert inbox.server.log is not None
    return lambda: inbox.server.log.read_text(errors="replace")
