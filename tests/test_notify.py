"""The outbox: content-free DSL notifications over a real SMTP server (aiosmtpd) and a real HTTP server (Teams),
retried with backoff when the server is down, never losing the record. No mocks; the clock is injected."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import stat
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot.safeguarding.mailcatcher import MailCatcher
from bot.safeguarding.notify import (DeliveryReport, OutboxDelivery, OutboxWorker, SmtpSettings, backoff, compose,
                                     teams_payload)
from bot.safeguarding.records import (ConcernStore, OutboxCounts, OutboxItem, SafeguardingConfig,
                                      SchoolSafeguarding, concern_outbox, concerns)
from test_concern_records import (CANARY, START, Clock, assert_no_canary, make_store, record)
from test_concern_records import clock, concerns_env  # noqa: F401 - fixtures


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping each received message, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def start_smtp(port: int) -> tuple[Controller, Inbox]:
    """A real aiosmtpd server on `port`, with the inbox that collects its mail."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    """A real SMTP server on a free loopback port."""
    port = free_port()
    controller, inbox = start_smtp(port)
    yield port, inbox
    controller.stop()


class TeamsHook:
    """A real HTTP server on loopback that records each POST and answers with `status`."""

    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.posts: list[tuple[str, str, bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append((self.path, self.headers["Content-Type"], body))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhookb2/SECRET-TOKEN"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def teams() -> Iterator[TeamsHook]:
    hook = TeamsHook()
    yield hook
    hook.close()


def config_for(webhook: str | None = None, emails: tuple[str, ...] = ("dsl@alder.example",)) -> SafeguardingConfig:
    return SafeguardingConfig({"alder": SchoolSafeguarding("alder", ("mary.oak",), emails, webhook),
                               "birch": SchoolSafeguarding("birch", ("tom.reed",), (), None)})


def smtp_on(port: int) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, sender="policybot@alder.example", timeout=5)


def outbox_rows(store: ConcernStore) -> list[Any]:
    with store.engine.connect() as connection:
        return connection.execute(select(concern_outbox).order_by(concern_outbox.c.id)).all()


# ------------------------------------------------------------------------------------------------ email


def test_the_dsl_gets_an_email_with_reference_and_instructions_but_no_content(
        concerns_env: Path, clock: Clock, smtp_server: tuple[int, Inbox], caplog: pytest.LogCaptureFixture) -> None:
    """A real SMTP server receives one mail: subject and body name the reference and school, never the words."""
    port, inbox = smtp_server
    store = make_store(concerns_env, clock, config_for())
    ref = record(store).reference
    caplog.set_level(logging.DEBUG)
    report = OutboxDelivery(store, smtp_on(port), clock=clock).deliver_due()
    assert report == DeliveryReport(sent=1, failed=0, pending=0)
    (message,) = inbox.messages
    assert inbox.recipients == [["dsl@alder.example"]]
    assert message["subject"] == f"[Safeguarding] HIGH concern {ref} — Alder Primary School"
    assert message["from"] == "policybot@alder.example" and message["to"] == "dsl@alder.example"
    body = message.get_content()
    assert f"Reference:  {ref}" in body and "Urgency:    HIGH" in body
    assert "Recorded:   Mon 02 Mar 2026, 09:30 (UK time)" in body
    assert f"policybot concerns show {ref} --school alder --as YOURNAME" in body
    assert "grooming" not in body and "pupil" not in body  # no category, role or kind either
    assert_no_canary(message.as_string(), caplog.text)
    row, = outbox_rows(store)
    assert (row.status, row.attempts, row.last_error, row.sent_at is not None) == ("sent", 1, None, True)
    notified = store.audit_entries()[-1]
    assert (notified.action, notified.reference, notified.detail) == ("notified", ref,
                                                                      "email to dsl@alder.example attempt=1")


def test_a_dead_smtp_server_keeps_the_record_and_retries_after_backoff(
        concerns_env: Path, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listening: the record stays, the row is pending with attempts=1 and a retry 30 s on; once the
    server is up and the time has come, the next pass delivers it."""
    port = free_port()  # nothing listens here yet
    store = make_store(concerns_env, clock, config_for())
    ref = record(store).reference
    delivery = OutboxDelivery(store, smtp_on(port), clock=clock)
    caplog.set_level(logging.DEBUG)
    assert delivery.deliver_due(START) == DeliveryReport(sent=0, failed=1, pending=1)
    row, = outbox_rows(store)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "ConnectionRefusedError")
    assert row.next_attempt_at.replace(tzinfo=START.tzinfo) == START + timedelta(seconds=30)
    with store.engine.connect() as connection:
        assert connection.execute(select(concerns.c.words).where(concerns.c.reference == ref)).scalar_one() == CANARY
    failed = store.audit_entries()[-1]
    assert failed.action == "notify_failed"
    assert failed.detail == ("email to dsl@alder.example attempt=1 error=ConnectionRefusedError "
                             "retry_at=2026-03-02T09:30:30+00:00")
    assert "ConnectionRefusedError" in caplog.text
    assert_no_canary(caplog.text)

    assert delivery.deliver_due(START + timedelta(seconds=10)) == DeliveryReport(0, 0, 1)  # not due yet
    controller, inbox = start_smtp(port)
    try:
        assert delivery.deliver_due(START + timedelta(seconds=31)) == DeliveryReport(sent=1, failed=0, pending=0)
    finally:
        controller.stop()
    assert len(inbox.messages) == 1 and ref in inbox.messages[0]["subject"]
    row, = outbox_rows(store)
    assert (row.status, row.attempts) == ("sent", 2)
    assert [e.action for e in store.audit_entries()] == ["created", "notify_failed", "notified"]
    assert store.verify_audit().ok


def test_backoff_doubles_from_30_seconds_and_is_capped_at_an_hour() -> None:
    """30 s x 2^n, never more than an hour however many attempts."""
    assert [backoff(n).total_seconds() for n in range(9)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff(500) == timedelta(hours=1)


def test_repeated_failures_push_the_next_attempt_further_out(concerns_env: Path, clock: Clock) -> None:
    """Three failed passes: attempts 3, next try 120 s after the third."""
    store = make_store(concerns_env, clock, config_for())
    record(store)
    delivery = OutboxDelivery(store, smtp_on(free_port()), clock=clock)
    now = START
    for expected_delay in (30, 60, 120):
        assert delivery.deliver_due(now).failed == 1
        row, = outbox_rows(store)
        next_at = row.next_attempt_at.replace(tzinfo=START.tzinfo)
        assert next_at - now == timedelta(seconds=expected_delay)
        now = next_at
    assert (row.attempts, row.last_error) == (3, "ConnectionRefusedError")
    assert store.outbox_counts(now) == OutboxCounts(pending=1, due=1, failing=1, sent=0)


def test_a_claimed_row_is_not_claimed_twice(concerns_env: Path, clock: Clock) -> None:
    """Two deliverers at the same moment (worker and CLI): the second finds nothing, so no double email."""
    store = make_store(concerns_env, clock, config_for())
    record(store)
    first = store.claim_due(START, timedelta(minutes=5))
    assert [item.reference for item in first] == ["APS-2026-0001"]
    assert store.claim_due(START, timedelta(minutes=5)) == []
    assert len(store.claim_due(START + timedelta(minutes=6), timedelta(minutes=5))) == 1  # lease ran out


# ------------------------------------------------------------------------------------------------ teams


def test_the_teams_webhook_gets_a_card_with_the_same_content_free_text(
        concerns_env: Path, clock: Clock, teams: TeamsHook, smtp_server: tuple[int, Inbox]) -> None:
    """A real HTTP server receives one JSON POST (Adaptive Card in a message); the URL's secret is never audited."""
    port, inbox = smtp_server
    store = make_store(concerns_env, clock, config_for(teams.url))
    ref = record(store, urgency="immediate").reference
    assert OutboxDelivery(store, smtp_on(port), clock=clock).deliver_due() == DeliveryReport(2, 0, 0)
    (path, content_type, body), = teams.posts
    assert path == "/webhookb2/SECRET-TOKEN" and content_type == "application/json"
    payload = json.loads(body)
    assert payload["type"] == "message"
    card = payload["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [block["text"] for block in card["content"]["body"]]
    assert texts[0] == f"[Safeguarding] IMMEDIATE concern {ref} — Alder Primary School"
    assert f"policybot concerns show {ref} --school alder --as YOURNAME" in texts
    assert_no_canary(body.decode())
    audit = store.audit_entries()
    assert [e.detail for e in audit if e.action == "notified"] == ["email to dsl@alder.example attempt=1",
                                                                   "teams webhook attempt=1"]
    assert all("SECRET" not in e.detail for e in audit)


def test_a_teams_error_status_is_a_failure_retried_later(concerns_env: Path, clock: Clock, teams: TeamsHook,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """A 500 from the webhook: pending, attempts 1, last_error HTTPError; the URL is in no log line."""
    teams.status = 500
    store = make_store(concerns_env, clock, config_for(teams.url, emails=()))
    record(store)
    caplog.set_level(logging.DEBUG)
    assert OutboxDelivery(store, smtp_on(free_port()), clock=clock).deliver_due() == DeliveryReport(0, 1, 1)
    row, = outbox_rows(store)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTPError")
    assert "SECRET" not in caplog.text
    teams.status = 200
    assert OutboxDelivery(store, smtp_on(free_port()), clock=clock).deliver_due(
        START + timedelta(seconds=30)) == DeliveryReport(1, 0, 0)


def test_a_teams_redirect_is_not_taken_for_delivery(concerns_env: Path, clock: Clock, teams: TeamsHook) -> None:
    """A 302 would make urllib replay the POST as a GET; it counts as a failure instead."""
    teams.status = 302
    store = make_store(concerns_env, clock, config_for(teams.url, emails=()))
    record(store)
    assert OutboxDelivery(store, smtp_on(free_port()), clock=clock).deliver_due().failed == 1


# ------------------------------------------------------------------------------------------------ text


def _item(urgency: str) -> OutboxItem:
    return OutboxItem(7, "KMS-2026-0007", "kingsmeadow", "email", "dsl@kingsmeadow.example", 0, urgency, START)


@pytest.mark.parametrize("urgency, label", [("immediate", "IMMEDIATE"), ("high", "HIGH"), ("standard", "STANDARD"),
                                            ("concern", "LESS URGENT")])
def test_the_subject_names_urgency_reference_and_school(urgency: str, label: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Each urgency has a plain label; the body links to the concern in the web inbox (POLICYBOT_INBOX_URL)."""
    monkeypatch.setenv("POLICYBOT_INBOX_URL", "https://safeguarding.kingsmeadow.example/")
    note = compose(_item(urgency), "Kingsmeadow School")
    assert note.subject == f"[Safeguarding] {label} concern KMS-2026-0007 — Kingsmeadow School"
    assert "  https://safeguarding.kingsmeadow.example/dsl/concerns/KMS-2026-0007\n" in note.body


def test_british_summer_time_is_shown_as_uk_time() -> None:
    """09:30 UTC in July is 10:30 in the UK."""
    item = OutboxItem(1, "KMS-2026-0001", "kingsmeadow", "email", "x@y.example", 0, "high",
                      START.replace(month=7, day=6))
    assert "Recorded:   Mon 06 Jul 2026, 10:30 (UK time)" in compose(item, "Kingsmeadow School").body


def test_the_teams_payload_is_plain_json() -> None:
    """The payload round-trips through JSON unchanged (no datetimes or objects in it)."""
    payload = teams_payload(compose(_item("high"), "Kingsmeadow School"))
    assert json.loads(json.dumps(payload)) == payload


# ------------------------------------------------------------------------------------------------ settings


def test_smtp_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defaults point at the local mailcatcher; the password never shows in repr."""
    for name in ("HOST", "PORT", "FROM", "USER", "PASSWORD", "STARTTLS", "TIMEOUT"):
        monkeypatch.delenv(f"POLICYBOT_SMTP_{name}", raising=False)
    assert SmtpSettings.from_env() == SmtpSettings("127.0.0.1", 8025, "policybot@localhost", None, None, False, 10.0)
    monkeypatch.setenv("POLICYBOT_SMTP_HOST", "smtp.school.example")
    monkeypatch.setenv("POLICYBOT_SMTP_PORT", "587")
    monkeypatch.setenv("POLICYBOT_SMTP_FROM", "safeguarding@school.example")
    monkeypatch.setenv("POLICYBOT_SMTP_USER", "bot")
    monkeypatch.setenv("POLICYBOT_SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("POLICYBOT_SMTP_STARTTLS", "yes")
    settings_ = SmtpSettings.from_env()
    assert (settings_.host, settings_.port, settings_.sender, settings_.user, settings_.starttls) == (
        "smtp.school.example", 587, "safeguarding@school.example", "bot", True)
    assert "hunter2" not in repr(settings_)
    monkeypatch.setenv("POLICYBOT_SMTP_PORT", "smtp")
    with pytest.raises(ValueError, match="^POLICYBOT_SMTP_PORT must be a whole number .* got 'smtp' and '10'$"):
        SmtpSettings.from_env()


# ------------------------------------------------------------------------------------------------ worker


def test_the_worker_delivers_straight_away_when_kicked(
        concerns_env: Path, smtp_server: tuple[int, Inbox]) -> None:
    """With an hour-long interval, a kick after recording still sends the email within seconds."""
    port, inbox = smtp_server
    store = make_store(concerns_env, None, config_for())  # real clock: the worker uses now
    worker = OutboxWorker(OutboxDelivery(store, smtp_on(port)), interval_s=3600)
    worker.start()
    try:
        time.sleep(0.2)  # the first (empty) pass is done; the worker now waits up to an hour
        ref = record(store).reference
        worker.kick()
        deadline = time.monotonic() + 10
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(inbox.messages) == 1 and ref in inbox.messages[0]["subject"]
    finally:
        worker.stop()
    assert not worker.running


def test_the_worker_survives_a_store_that_is_down(data_dir: Path, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A pass that cannot reach the store is logged (class name only) and the thread keeps going."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    worker = OutboxWorker(OutboxDelivery(make_store(blocker / "c.db"), smtp_on(free_port())), interval_s=0.05)
    caplog.set_level(logging.ERROR)
    worker.start()
    time.sleep(0.3)
    assert worker.running
    worker.stop()
    assert "outbox: the concern store is unavailable" in caplog.text


# ------------------------------------------------------------------------------------------------ mailcatcher


def test_the_mailcatcher_saves_each_notification_as_a_private_eml_file(
        concerns_env: Path, clock: Clock, tmp_path: Path) -> None:
    """`policybot mailcatcher` on a free port: one delivered notification becomes one readable .eml (0600)."""
    port = free_port()
    store = make_store(concerns_env, clock, config_for())
    ref = record(store).reference
    with MailCatcher(tmp_path / "mail", port=port):
        assert OutboxDelivery(store, smtp_on(port), clock=clock).deliver_due() == DeliveryReport(1, 0, 0)
    saved, = (tmp_path / "mail").glob("*.eml")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    message = email.message_from_bytes(saved.read_bytes(), policy=email.policy.default)
    assert message["subject"] == f"[Safeguarding] HIGH concern {ref} — Alder Primary School"
    assert_no_canary(saved.read_text())


def test_a_notification_undelivered_for_15_minutes_is_logged_as_an_alert_once_per_interval(
        concerns_env: Path, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    """Mail that cannot be delivered does not fail silently: an ERROR per school, counts only, no content."""
    store = make_store(concerns_env, clock)
    record(store, "m-overdue")
    worker = OutboxWorker(OutboxDelivery(store, smtp_on(free_port()), clock=clock), interval_s=3600)
    with caplog.at_level(logging.ERROR, logger="bot.safeguarding.notify"):
        assert worker.alert_overdue() == {}  # just recorded: not overdue yet
        clock.advance(16 * 60)
        assert worker.alert_overdue() == {"alder": 1}
        clock.advance(60)
        assert worker.alert_overdue() == {}  # logged a minute ago: not again every pass
        clock.advance(15 * 60)
        assert worker.alert_overdue() == {"alder": 1}
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert alerts == ["ALERT: 1 DSL notification(s) for school alder undelivered for over 15 minutes; the concerns "
                      "are recorded and shown in the DSL inbox; check the SMTP settings (POLICYBOT_SMTP_HOST)"] * 2
    assert_no_canary(caplog.text)
