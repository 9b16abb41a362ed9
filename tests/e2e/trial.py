"""What the fault trials share (tests/e2e/test_crash_survival.py on `make run`, tests/e2e/cluster/ on `make
cluster`): pupils' disclosures carrying a canary, one REST turn as an `Outcome` whose text is never printed, and
finding a server's process by its module and port."""

from __future__ import annotations

import itertools
import json
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SCHOOL = "kingsmeadow"
CANARY = "numbat-canary-7730"
WHO = ("my stepdad", "my uncle", "my mum's boyfriend", "my older brother", "a man at my football club", "my dad",
       "my cousin", "my babysitter", "my grandad", "our neighbour")
WHAT = ("hits me with a belt", "touches me in places I don't like", "locks me in my room without food",
        "punches me when he is drunk")
#: 40 distinct disclosures, each one the screen hands off to the DSL for a pupil (checked when they were chosen).
DISCLOSURES = tuple(f"{who} {what} {CANARY}" for what, who in itertools.product(WHAT, WHO))
REFERENCE = re.compile(r"reference (?:number )?is ([A-Z0-9]+(?:-[A-Z0-9]+)+)")
SIGNPOSTS = ("999", "0800 1111")
QUESTION = "can I use my phone in lessons?"
#: The channel guard's reply when nothing came back and the message carried no risk (channels/guard.py).
KIND_REPLY = "I can't look that up right now"
#: What the hand-off says once the record is written (bot/safeguarding/handoff/compose.py).
PASSED_ON = "I have passed this on"


@dataclass
class Outcome:
    """What one request came back with: the reply's text (never printed), or the error's type."""

    status: int | None = None
    text: str = field(default="", repr=False)  # kept out of any failure's output
    error: str | None = None

    @property
    def reference(self) -> str | None:
        found = REFERENCE.search(self.text)
        return found.group(1) if found else None

    @property
    def kind(self) -> str:
        if self.error or not self.text.strip():
            return "no reply"
        if self.reference:
            return "reference"
        return "signposting" if any(marker in self.text for marker in SIGNPOSTS) else "other reply"


def post_turn(url: str, payload: dict, headers: dict[str, str] | None = None, timeout: float = 120,
              context: ssl.SSLContext | None = None) -> Outcome:
    """POST one REST turn; the replies' texts joined, or the HTTP status / error type."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            replies = json.loads(response.read() or b"null")
            text = "\n".join(str(r.get("text") or "") for r in replies) if isinstance(replies, list) else ""
            return Outcome(response.status, text)
    except urllib.error.HTTPError as error:
        return Outcome(error.code, error=type(error).__name__)
    except OSError as error:  # refused, reset, timed out: no reply at all
        return Outcome(error=type(error).__name__)


def answers(url: str) -> bool:
    """Whether `url` answers a GET within a second (any status below 400)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


def disclosure(index: int, prefix: str) -> dict:
    """Pupil `index`'s disclosure (its own sender and message id; the texts repeat every 40 pupils)."""
    return {"sender": f"{prefix}-pupil-{index:03d}", "message": DISCLOSURES[index % len(DISCLOSURES)],
            "message_id": f"{prefix}-msg-{index:03d}", "metadata": {"school": SCHOOL, "role": "pupil"}}


def server_pid(module: str, port: int) -> int | None:
    """The pid of `python -m <module> ... --port <port>` (this test's own server: its port is unique). Only a process
    running the module itself: the supervisor's own command line names every server's command too."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [word.decode(errors="replace") for word in argv]
        if words[1:3] == ["-m", module] and "--port" in words and words[words.index("--port") + 1] == str(port):
            return int(entry.name)
    return None
