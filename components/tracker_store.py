"""Rasa's SQL tracker store with every event's data encrypted at rest.

Rasa keeps each conversation's events (every message verbatim, disclosures included) as JSON text in its tracker
store, forever, readable by anyone who can read the file. This store is Rasa's `SQLTrackerStore` with one change:
the `data` column holds a Fernet token (AES-128-CBC + HMAC-SHA256, from `cryptography`) instead of the JSON. The
columns Rasa queries by (sender id, event type, intent and action names, timestamp) stay as they are, so nothing
else changes. The key is POLICYBOT_TRACKER_KEY (a Fernet key; `make run` makes one, 0600, in
artifacts/tracker-key); without it the store will not start, rather than fall back to storing words in plain text.

endpoints.yml: `tracker_store: {type: components.tracker_store.EncryptedSQLTrackerStore, dialect: sqlite, db: …}`.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Optional

from cryptography.fernet import Fernet, InvalidToken
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

KEY_ENV = "POLICYBOT_TRACKER_KEY"


class TrackerKeyError(ValueError):
    """No usable encryption key for the tracker store."""


def tracker_cipher(environ: dict[str, str] | None = None) -> Fernet:
    key = (environ if environ is not None else os.environ).get(KEY_ENV, "").strip()
    try:
        return Fernet(key.encode())
    except ValueError:
        raise TrackerKeyError(f"{KEY_ENV} must hold a Fernet key (32 url-safe base64-encoded bytes; `make run` makes "
                              f"one in artifacts/tracker-key) so conversations are encrypted at rest") from None


class EncryptedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._cipher = tracker_cipher()  # before connecting: no key, no store
        super().__init__(*args, **kwargs)

    def seal(self, data: dict[str, Any]) -> str:
        return self._cipher.encrypt(json.dumps(data).encode()).decode("ascii")

    def open(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self._cipher.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError):
            # Another key, or a row from before encryption: say so without the row's contents.
            raise TrackerKeyError("a tracker store event cannot be decrypted with POLICYBOT_TRACKER_KEY (another "
                                  "key, or a plain-text store from before encryption)") from None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """SQLTrackerStore.save with the event data sealed (the loop is Rasa 3.6's own)."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                session.add(self.SQLEvent(sender_id=tracker.sender_id, type_name=event.type_name,
                                          timestamp=data.get("timestamp"), intent_name=intent,
                                          action_name=data.get("name"), data=self.seal(data)))
            session.commit()

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool
                        ) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            sealed = [row.data for row in self._event_query(
                session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions).all()]
        # Opened outside the session: Rasa's session_scope reads any ValueError as a missing PostgreSQL schema
        # and exits the server.
        events = [self.open(token) for token in sealed]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None


# ------------------------------------------------------------------------------------------------ fail closed


class TrackerStoreUnavailable(RuntimeError):
    """The tracker store failed; the turn is refused (the channel guard then replies kindly, with the safety
    signposting when the message carries risk). The message names the error's class only."""


def _fail_closed(error: Exception) -> None:
    logger.error("ALERT: the tracker store failed (%s); this turn is refused, not continued without its history",
                 type(error).__name__)
    raise TrackerStoreUnavailable(f"the tracker store is unavailable ({type(error).__name__})") from None


def install_fail_closed() -> None:
    """Make Rasa's FailSafeTrackerStore fail closed.

    Rasa wraps every tracker store in a FailSafeTrackerStore that, when the database fails, logs the error (with
    its message, which may quote the conversation) and carries on: a failed read becomes a NEW, empty conversation
    and a failed write goes to memory, so history and messages are lost without anyone being told, and on several
    replicas conversations diverge. With this installed (channels/rasa_server.py does, before Rasa starts) the
    wrapper's error callback logs an alert naming the error's class and raises, so the turn fails instead."""
    from rasa.core.tracker_store import FailSafeTrackerStore

    if getattr(FailSafeTrackerStore.__init__, "_policybot_fail_closed", False):
        return
    original = FailSafeTrackerStore.__init__

    def init(self: FailSafeTrackerStore, tracker_store: Any, on_tracker_store_error: Any = None,
             fallback_tracker_store: Any = None) -> None:
        original(self, tracker_store, on_tracker_store_error or _fail_closed, fallback_tracker_store)

    init._policybot_fail_closed = True  # type: ignore[attr-defined]
    FailSafeTrackerStore.__init__ = init  # type: ignore[method-assign]
