"""The encrypted tracker store (components/tracker_store.py): children's words are not in the file, Rasa reads
its trackers back unchanged, and without the right key nothing is stored or read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.tracker_store import EncryptedSQLTrackerStore, TrackerKeyError

CANARY = "pangolin-canary-5120"
DOMAIN = Domain.from_dict({"intents": ["safeguarding_disclosure"], "slots": {
    "school": {"type": "text", "mappings": [{"type": "custom"}]}}})


def store(tmp_path: Path) -> EncryptedSQLTrackerStore:
    return EncryptedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))


def conversation() -> DialogueStateTracker:
    tracker = DialogueStateTracker("pupil-1", DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(f"my uncle hurts me {CANARY}", {"name": "safeguarding_disclosure", "confidence": 1.0}))
    tracker.update(SlotSet("school", "ouston"))
    return tracker


def test_the_words_are_not_in_the_file_and_come_back_unchanged(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_TRACKER_KEY", Fernet.generate_key().decode())
    saved = conversation()
    asyncio.run(store(tmp_path).save(saved))
    assert CANARY.encode() not in (tmp_path / "tracker.db").read_bytes()
    again = asyncio.run(store(tmp_path).retrieve("pupil-1"))
    assert again is not None
    assert again.latest_message.text == f"my uncle hurts me {CANARY}"
    assert again.get_slot("school") == "ouston"
    assert [e.as_dict() for e in again.events] == [e.as_dict() for e in saved.events]


@pytest.mark.parametrize("key", [None, "", "not-a-fernet-key"])
def test_without_a_key_the_store_does_not_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                key: str | None) -> None:
    if key is None:
        monkeypatch.delenv("POLICYBOT_TRACKER_KEY", raising=False)
    else:
        monkeypatch.setenv("POLICYBOT_TRACKER_KEY", key)
    with pytest.raises(TrackerKeyError, match=r"^POLICYBOT_TRACKER_KEY must hold a Fernet key"):
        store(tmp_path)
    assert not (tmp_path / "tracker.db").exists()


def test_another_key_reads_nothing_and_says_so_without_the_words(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_TRACKER_KEY", Fernet.generate_key().decode())
    asyncio.run(store(tmp_path).save(conversation()))
    monkeypatch.setenv("POLICYBOT_TRACKER_KEY", Fernet.generate_key().decode())
    with pytest.raises(TrackerKeyError, match=r"cannot be decrypted with POLICYBOT_TRACKER_KEY") as raised:
        asyncio.run(store(tmp_path).retrieve("pupil-1"))
    assert CANARY not in str(raised.value)


def test_a_failing_tracker_store_refuses_the_turn_instead_of_starting_an_empty_conversation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Rasa's FailSafeTrackerStore would answer a failed read with a new, empty tracker (and a failed write with
    memory); installed, the failure is an alert naming the error's class, and the turn fails."""
    from rasa.core.tracker_store import FailSafeTrackerStore

    from components.tracker_store import TrackerStoreUnavailable, install_fail_closed

    monkeypatch.setenv("POLICYBOT_TRACKER_KEY", Fernet.generate_key().decode())
    asyncio.run(store(tmp_path).save(conversation()))
    monkeypatch.setenv("POLICYBOT_TRACKER_KEY", Fernet.generate_key().decode())  # every read now fails
    before = FailSafeTrackerStore(store(tmp_path))
    assert asyncio.run(before.retrieve("pupil-1")) is None  # Rasa's own behaviour: silently a fresh conversation
    # Put back after the test: the change is process-wide, as it is in the Rasa server.
    monkeypatch.setattr(FailSafeTrackerStore, "__init__", FailSafeTrackerStore.__init__)
    install_fail_closed()
    install_fail_closed()  # idempotent
    wrapped = FailSafeTrackerStore(store(tmp_path))
    with pytest.raises(TrackerStoreUnavailable, match=r"^the tracker store is unavailable \(TrackerKeyError\)$"):
        asyncio.run(wrapped.retrieve("pupil-1"))
    from rasa.core.tracker_store import InMemoryTrackerStore

    class DiskFull(InMemoryTrackerStore):
        async def save(self, tracker: DialogueStateTracker) -> None:
            raise OSError(28, "No space left on device")

    with pytest.raises(TrackerStoreUnavailable, match=r"\(OSError\)$"):
        asyncio.run(FailSafeTrackerStore(DiskFull(DOMAIN)).save(conversation()))
    assert "ALERT: the tracker store failed (TrackerKeyError)" in caplog.text
    assert CANARY not in caplog.text

