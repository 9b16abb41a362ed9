"""What the DSL inbox shows, apart from HTTP: labels in a DSL's words, UK times, and one concern's chronology built
from its audit rows and the DSL's notes. Pure functions, so they are tested without a server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from bot.safeguarding.records import ACTIONS, AuditEntry, ConcernNote, ConcernRecord

URGENCY_LABELS: dict[str, str] = {"immediate": "Immediate", "high": "High", "standard": "Standard",
                                  "concern": "Less urgent"}
STATUS_LABELS: dict[str, str] = {"new": "New", "acknowledged": "Acknowledged", "closed": "Closed"}
CATEGORY_LABELS: dict[str, str] = {
    "self_harm": "Self-harm or suicidal thoughts", "online_sexual": "Online sexual abuse or images",
    "grooming": "Grooming", "sexual_abuse": "Sexual abuse", "physical_abuse": "Physical abuse",
    "emotional_abuse": "Emotional abuse", "domestic_abuse": "Domestic abuse", "neglect": "Neglect",
    "exploitation": "Exploitation (criminal or sexual)", "honour_based_abuse": "FGM, forced marriage or honour-based abuse",
    "bullying": "Bullying", "radicalisation": "Radicalisation", "staff_conduct": "Allegation about an adult",
    "danger": "Danger now (weapons, threats)", "online_safety": "Online safety", "other": "Other",
}
KIND_LABELS: dict[str, str] = {"disclosure": "Disclosure (about themselves)", "report": "Report (about someone else)",
                               "concern": "Concern"}
#: How each audit action reads in the chronology ({actor} is filled in); reads and sign-ins go to the access log.
_CHANGE_WORDS: dict[str, str] = {
    "created": "Recorded by the assistant", "acknowledged": "Acknowledged by {actor}", "closed": "Closed by {actor}",
    "notified": "DSL notified", "notify_failed": "A notification could not be delivered (will retry)",
}
_ACCESS_WORDS: dict[str, str] = {"read": "Read by {actor}", "exported": "Exported by {actor}",
                                 "denied": "Refused to {actor}"}


def uk_time(value: datetime | str | None) -> str:
    """'Mon 05 Jan 2026, 14:03' in UK time, as the notification emails write it."""
    from bot.safeguarding.notify import UK

    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UK).strftime("%a %d %b %Y, %H:%M")


def age(created: datetime, now: datetime) -> str:
    """'12 min', '3 h', '2 days': how long a concern has waited."""
    minutes = max(0, int((now - created).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


@dataclass(frozen=True)
class ChronologyEntry:
    """One line of a concern's chronology: when, what, who, and a note's text (record content) when there is one."""

    at: str
    what: str
    actor: str
    text: str = ""


def _detail(entry: AuditEntry, key: str) -> str | None:
    for part in entry.detail.split():
        name, _, value = part.partition("=")
        if name == key:
            return value
    return None


def chronology(record: ConcernRecord) -> list[ChronologyEntry]:
    """What happened, in order: the record, acknowledgement, notes and actions, notifications, closing."""
    entries = [_change_entry(entry) for entry in record.history if entry.action in _CHANGE_WORDS]
    entries += [_note_entry(note) for note in record.notes]
    if record.close_note:
        closed_at = next((entry.at for entry in record.history if entry.action == "closed"), None)
        if closed_at:
            entries.append(ChronologyEntry(closed_at, "Close note", record.closed_by or "", record.close_note))
    return sorted(entries, key=lambda entry: entry.at)


def _change_entry(entry: AuditEntry) -> ChronologyEntry:
    what = _CHANGE_WORDS[entry.action].format(actor=entry.actor)
    outcome = _detail(entry, "outcome") if entry.action == "closed" else None
    if outcome:
        what += f" — outcome: {ACTIONS.get(outcome, outcome)}"
    return ChronologyEntry(entry.at, what, "" if entry.action in ("created", "notified", "notify_failed")
                           else entry.actor)


def _note_entry(note: ConcernNote) -> ChronologyEntry:
    return ChronologyEntry(note.at.isoformat(timespec="microseconds"), note.label, note.actor, note.text)


def access_log(history: Iterable[AuditEntry]) -> list[ChronologyEntry]:
    """Who read or exported the record (each view is audited)."""
    return [ChronologyEntry(entry.at, _ACCESS_WORDS[entry.action].format(actor=entry.actor), entry.actor)
            for entry in history if entry.action in _ACCESS_WORDS]
