"""The REST channel, through the channel guard (channels/guard.py): every message gets a reply, an over-long one
a kind refusal, a risky one the signposting. The metadata's school and role are believed (a trusted backend signs
people in); the keys only a channel may set (message id, whole text) are never taken from the client.
Registered in credentials.yml as `channels.rest.GuardedRestInput`; its URL stays /webhooks/rest/webhook.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.constants import DEFAULT_SENDER_ID
from sanic import Blueprint
from sanic.request import Request

from bot.core import contract
from channels.guard import guarded_turn

logger = logging.getLogger(__name__)

#: A client may send its own id for a message (top-level "message_id"), so that a retried request is recognised as
#: the same message: a concern record is keyed by it and never written twice. The key is scoped to the sender (see
#: scoped_message_id), so no client can make its message collapse into another sender's record.
MAX_MESSAGE_ID_CHARS = 128
#: Metadata keys only the channel may set: what a client sends under these names is dropped.
CHANNEL_KEYS = (contract.MESSAGE_ID_KEY, contract.FULL_TEXT_KEY)


def scoped_message_id(sender_id: str, client_id: object) -> str | None:
    """The id Rasa records a REST client's message under: stable for the same sender and client id (so a retry is
    the same message), different for every other sender. None when the client gave no usable id.

    `sender_id` is the conversation id as Rasa will use it (see _conversation_id). Sender and id are hashed as a
    JSON pair: REST senders are any string, so a plain separator could be forged, and JSON escapes what UTF-8
    cannot encode (lone surrogates)."""
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_MESSAGE_ID_CHARS:
        return None
    return "rest-" + hashlib.sha256(json.dumps([sender_id, client_id]).encode()).hexdigest()[:40]


def _conversation_id(request: Request) -> str:
    """The sender id Rasa's RestInput gives the message: the request's "sender" as a string, else Rasa's default."""
    sender = request.json.get("sender")
    return str(sender) if sender is not None else DEFAULT_SENDER_ID


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = request.json.get("metadata")
        metadata = dict(metadata) if isinstance(metadata, dict) else {}
        # Only the channel sets the key a message is recorded under and the whole text a record keeps.
        for key in CHANNEL_KEYS:
            metadata.pop(key, None)
        message_id = scoped_message_id(_conversation_id(request), request.json.get("message_id"))
        if message_id:
            metadata["message_id"] = message_id
        return metadata or None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def guarded(message: UserMessage) -> None:
            if message.metadata and message.metadata.get(contract.MESSAGE_ID_KEY):
                message.message_id = message.metadata[contract.MESSAGE_ID_KEY]
            await guarded_turn(message, on_new_message, "rest")

        return super().blueprint(guarded)
