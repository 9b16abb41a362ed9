"""Tell the DSL a concern is waiting: deliver the outbox rows that `ConcernStore.record` wrote, by email and Teams.

A notification carries no disclosure content and no names: only the school, the urgency, the reference, the time
and the command that shows the record. A failed send is retried with exponential backoff (30 s doubling, capped at
an hour) for as long as it takes; the record itself is never touched. Each success and failure is audited.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import threading
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Callable
from zoneinfo import ZoneInfo

from bot import settings
from bot.safeguarding.records import NOTIFICATION_OVERDUE_AFTER, ConcernStore, OutboxItem, RecordStoreUnavailable

log = logging.getLogger(__name__)

UK = ZoneInfo("Europe/London")
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
#: How long a claimed row is held before another deliverer may try it (covers a crash mid-send).
LEASE = timedelta(minutes=5)

#: How the subject line and body name each urgency (a `concern` is the least urgent level).
URGENCY_LABELS = {"immediate": "IMMEDIATE", "high": "HIGH", "standard": "STANDARD", "concern": "LESS URGENT"}
URGENCY_ADVICE = {
    "immediate": "A child may be in danger now. Read it and act straight away.",
    "high": "Read it and act today.",
    "standard": "Read it and follow it up within the school's usual safeguarding timescales.",
    "concern": "Read it and follow it up within the school's usual safeguarding timescales.",
}


class TeamsWebhookError(RuntimeError):
    """The Teams webhook answered with a non-2xx status (the class name is what the outbox records)."""


def backoff(attempts_before: int) -> timedelta:
    """Delay after a failed attempt: 30 s, 60 s, 120 s ... capped at one hour."""
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** min(attempts_before, 20), BACKOFF_CAP_S))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpSettings:
    """Where notification emails go; from POLICYBOT_SMTP_* (defaults: the local mailcatcher on 127.0.0.1:8025)."""

    host: str = "127.0.0.1"
    port: int = 8025
    sender: str = "policybot@localhost"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> "SmtpSettings":
        """POLICYBOT_SMTP_HOST, _PORT, _FROM, _USER, _PASSWORD, _STARTTLS (1/true/yes), _TIMEOUT (seconds)."""
        port_text = os.environ.get("POLICYBOT_SMTP_PORT", "8025")
        timeout_text = os.environ.get("POLICYBOT_SMTP_TIMEOUT", "10")
        try:
            port = int(port_text)
            timeout = float(timeout_text)
        except ValueError:
            raise ValueError(f"POLICYBOT_SMTP_PORT must be a whole number and POLICYBOT_SMTP_TIMEOUT a number of "
                             f"seconds; got {port_text!r} and {timeout_text!r}") from None
        return cls(host=os.environ.get("POLICYBOT_SMTP_HOST") or "127.0.0.1", port=port,
                   sender=os.environ.get("POLICYBOT_SMTP_FROM") or "policybot@localhost",
                   user=os.environ.get("POLICYBOT_SMTP_USER") or None,
                   password=os.environ.get("POLICYBOT_SMTP_PASSWORD") or None,
                   starttls=_flag("POLICYBOT_SMTP_STARTTLS"), timeout=timeout)


@dataclass(frozen=True)
class Notification:
    """The content-free text of one notification: subject and body."""

    subject: str
    body: str


def compose(item: OutboxItem, school_name: str) -> Notification:
    """Subject and body naming only the school, urgency, reference, time and how to read it."""
    label = URGENCY_LABELS.get(item.urgency, item.urgency.upper())
    when = item.concern_created_at.astimezone(UK).strftime("%a %d %b %Y, %H:%M (UK time)")
    subject = f"[Safeguarding] {label} concern {item.reference} — {school_name}"
    body = (
        f"A safeguarding concern has been recorded for {school_name}.\n"
        "\n"
        f"  Reference:  {item.reference}\n"
        f"  Urgency:    {label}\n"
        f"  Recorded:   {when}\n"
        "\n"
        f"{URGENCY_ADVICE.get(item.urgency, URGENCY_ADVICE['standard'])}\n"
        "\n"
        "This message deliberately holds no details. Read it, and acknowledge it once you have picked it up, in\n"
        "the safeguarding inbox (you sign in with your password and authenticator code):\n"
        "\n"
        f"  {settings.inbox_url()}/dsl/concerns/{item.reference}\n"
        "\n"
        "IT admins on the server can also use:\n"
        "\n"
        f"  policybot concerns show {item.reference} --school {item.school} --as YOURNAME\n"
    )
    return Notification(subject, body)


def teams_payload(note: Notification) -> dict:
    """A Teams 'message' with one Adaptive Card (what Teams Workflows webhooks accept), same content-free text."""
    blocks = [{"type": "TextBlock", "text": note.subject, "weight": "Bolder", "size": "Medium", "wrap": True}]
    for paragraph in (p for p in note.body.split("\n\n") if p.strip()):
        command, link = paragraph.startswith("  policybot"), paragraph.startswith("  http")
        text = f"[{paragraph.strip()}]({paragraph.strip()})" if link else paragraph.strip() if command else paragraph
        blocks.append({"type": "TextBlock", "text": text, "wrap": True,
                       "fontType": "Monospace" if command else "Default"})
    return {
        "type": "message",
        "summary": note.subject,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                        "version": "1.4", "body": blocks},
        }],
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is not delivery: urllib would replay the POST as a GET and call a 200 success."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class DeliveryReport:
    """One pass of the outbox: sent and failed in this pass, and pending (not yet sent) after it."""

    sent: int
    failed: int
    pending: int


class OutboxDelivery:
    """Sends due outbox rows by SMTP or Teams webhook and records each outcome in the store."""

    def __init__(self, store: ConcernStore, smtp: SmtpSettings | None = None, http_timeout: float = 10.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.smtp = smtp or SmtpSettings.from_env()
        self.http_timeout = http_timeout
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def deliver_due(self, now: datetime | None = None) -> DeliveryReport:
        """Send every row due by `now`; a failure counts the attempt and schedules the next with backoff."""
        now = now or self._clock()
        sent = failed = 0
        for item in self.store.claim_due(now, LEASE):
            try:
                self.send(item)
            except Exception as problem:  # any failure is retried later; only its class name is kept
                retry_at = now + backoff(item.attempts)
                self.store.mark_failed(item, type(problem).__name__, retry_at)
                log.warning("notification for %s by %s failed (%s, attempt %d); retrying at %s", item.reference,
                            item.channel, type(problem).__name__, item.attempts + 1,
                            retry_at.isoformat(timespec="seconds"))
                failed += 1
            else:
                self.store.mark_sent(item, now)
                log.info("notification for %s sent by %s", item.reference, item.channel)
                sent += 1
        return DeliveryReport(sent, failed, self.store.outbox_counts(now).pending)

    def send(self, item: OutboxItem) -> None:
        """Deliver one notification; raises on any failure."""
        note = compose(item, self.store.schools.get(item.school).name)
        if item.channel == "email":
            self._send_email(item.destination, note)
        elif item.channel == "teams":
            self._send_teams(item.destination, note)
        else:
            raise ValueError(f"unknown outbox channel {item.channel!r}")

    def _send_email(self, address: str, note: Notification) -> None:
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = address
        message["Subject"] = note.subject
        message["Date"] = format_datetime(datetime.now(timezone.utc))
        message["Message-ID"] = make_msgid(domain=self.smtp.sender.rpartition("@")[2] or "localhost")
        message.set_content(note.body)
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout) as smtp:
            if self.smtp.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.smtp.user:
                smtp.login(self.smtp.user, self.smtp.password or "")
            smtp.send_message(message)

    def _send_teams(self, url: str, note: Notification) -> None:
        request = urllib.request.Request(url, data=json.dumps(teams_payload(note)).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json"})
        with _OPENER.open(request, timeout=self.http_timeout) as response:  # 4xx/5xx raise HTTPError
            if not 200 <= response.status < 300:
                raise TeamsWebhookError(f"status {response.status}")


def _overdue_minutes() -> int:
    return int(NOTIFICATION_OVERDUE_AFTER.total_seconds() // 60)


class OutboxWorker:
    """A daemon thread that delivers the outbox every `interval_s`, and at once after `kick()`."""

    def __init__(self, delivery: OutboxDelivery, interval_s: float = 30.0) -> None:
        self.delivery = delivery
        self.interval_s = interval_s
        #: When each school's overdue alert was last logged (once per NOTIFICATION_OVERDUE_AFTER, not every pass).
        self._alerted: dict[str, datetime] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="policybot-outbox", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """Deliver now rather than at the next interval (call it right after a record is written)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish its current pass and wait for it."""
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return bool(self._thread and self._thread.is_alive())

    def alert_overdue(self, now: datetime | None = None) -> dict[str, int]:
        """Log an alert per school whose notifications are undelivered past NOTIFICATION_OVERDUE_AFTER (counts
        only), at most once per that interval; returns the schools alerted now."""
        now = now or self.delivery._clock()
        alerted = {}
        for school, count in self.delivery.store.overdue_notifications(now=now).items():
            last = self._alerted.get(school)
            if last is not None and now - last < NOTIFICATION_OVERDUE_AFTER:
                continue
            self._alerted[school] = now
            alerted[school] = count
            log.error("ALERT: %d DSL notification(s) for school %s undelivered for over %d minutes; the concerns "
                      "are recorded and shown in the DSL inbox; check the SMTP settings (POLICYBOT_SMTP_HOST)",
                      count, school, _overdue_minutes())
        return alerted

    def _run(self) -> None:
        while not self._stopping.is_set():
            # Cleared before the pass, so a kick that arrives during it triggers another pass at once.
            self._wake.clear()
            try:
                self.delivery.deliver_due()
                self.alert_overdue()
            except RecordStoreUnavailable:
                log.error("outbox: the concern store is unavailable; trying again in %.0f s", self.interval_s)
            except Exception as problem:  # the worker must outlive any one bad pass
                log.error("outbox pass failed: %s", type(problem).__name__)
            self._wake.wait(self.interval_s)
