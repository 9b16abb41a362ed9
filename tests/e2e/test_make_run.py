"""`make run`'s start script as a school's IT admin runs it (scripts/serve.sh, on the CI-sized model): every server
it starts listens on loopback only, every file it writes is private (umask 077), a canary disclosure reaches the
concern store and nowhere else in plain text (tracker store, logs, caught mail, feedback store), the notification
links to the web inbox, and Ctrl-C (SIGTERM here) stops everything."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest


from .serve_script import ROOT, serve_script
from .test_closed_surface import _listening_addresses

pytestmark = pytest.mark.e2e

CANARY = "quokka-canary-6120"


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with serve_script(tmp_path_factory.mktemp("make-run")) as running:
        yield running


def _written_since(began: float) -> list[Path]:
    folders = [ROOT / "logs", ROOT / "artifacts" / "rasa", ROOT / "artifacts" / "mail"]
    found = [ROOT / "artifacts" / name for name in ("action-token", "tracker-key")]
    for folder in folders:
        if folder.is_dir():
            found += [path for path in folder.rglob("*") if path.is_file() and path.stat().st_mtime >= began - 1]
    return [path for path in found if path.exists()]


def test_a_disclosure_reaches_the_concern_store_and_no_plain_text_anywhere_else(make_run: dict) -> None:
    ports = make_run["ports"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook",
        data=json.dumps({"sender": "make-run-canary", "message": f"my uncle touches me at night {CANARY}",
                         "metadata": {"school": "ouston", "role": "pupil"}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as reply:
        body = reply.read().decode()
    assert "0800 1111" in body and "reference" in body.lower()
    assert CANARY.encode() in (make_run["scratch"] / "concerns.db").read_bytes()
    mail_dir = ROOT / "artifacts" / "mail"
    deadline = time.monotonic() + 60
    while not [p for p in mail_dir.glob("*.eml") if p.stat().st_mtime >= make_run["began"]]:
        assert time.monotonic() < deadline, "no notification reached the local mail catcher"
        time.sleep(1)
    mail = max(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime).read_text(errors="replace")
    assert f"127.0.0.1:{ports['INBOX_PORT']}/dsl/concerns/" in mail.replace("=\n", "")
    for path in _written_since(make_run["began"]) + [make_run["scratch"] / "policybot.db"]:
        if path.exists():
            assert CANARY.encode() not in path.read_bytes(), f"the canary is in {path.relative_to(path.anchor)}"


def test_every_server_listens_on_loopback_only(make_run: dict) -> None:
    if not Path("/proc/net/tcp").is_file():
        pytest.skip("no /proc/net/tcp on this system")
    loopback = {"0100007F", "00000000000000000000000001000000"}
    for name, port in make_run["ports"].items():
        addresses = _listening_addresses(port)
        assert addresses and addresses <= loopback, f"{name} {port} listens on {addresses}"


def test_every_file_it_writes_is_for_its_own_user_only(make_run: dict) -> None:
    written = _written_since(make_run["began"])
    assert any(path.parent.name == "logs" for path in written)
    loose = [f"{path.relative_to(ROOT)} {stat.filemode(path.stat().st_mode)}" for path in written
             if path.stat().st_mode & 0o077]
    assert loose == []


def test_the_inbox_answers_and_ctrl_c_stops_everything(make_run: dict) -> None:
    ports = make_run["ports"]
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['INBOX_PORT']}/dsl/health", timeout=10) as reply:
        assert reply.read() == b"ok"
    assert f"DSL inbox:       http://127.0.0.1:{ports['INBOX_PORT']}/dsl/" in make_run["output"].read_text()
    process = make_run["process"]
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    time.sleep(1)
    for name, port in ports.items():
        assert not _listening_addresses(port), f"{name} {port} still listening after the stop"
