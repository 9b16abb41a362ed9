"""The REST channel, through the channel guard (channels/guard.py): every message gets a reply, an over-long one
a kind refusal, a risky one the signposting. The metadata's school and role are believed (a trusted backend signs
people in); the keys only a channel may set (message id, whole text, trust staff) are never taken from the client.

Who may call it: with POLICYBOT_REST_TOKEN set, only a client sending `Authorization: Bearer <token>` (the school's
backend); without one, only a client on this machine, talking to it directly (loopback, and no proxy's
X-Forwarded-For / Forwarded header: a reverse proxy on the same machine would make everyone look local).
Registered in credentials.yml as `channels.rest.GuardedRestInput`; its URL stays /webhooks/rest/webhook.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.constants import DEFAULT_SENDER_ID
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.core import contract
from channels.bearer import bearer_matches
from channels.guard import guarded_turn

logger = logging.getLogger(__name__)

#: A client may send its own id for a message (top-level "message_id"), so that a retried request is recognised as
#: the same message: a concern record is keyed by it and never written twice. The key is scoped to the sender (see
#: scoped_message_id), so no client can make its message collapse into another sender's record.
MAX_MESSAGE_ID_CHARS = 128
#: Metadata keys only the channel may set: what a client sends under these names is dropped.
CHANNEL_KEYS = (contract.MESSAGE_ID_KEY, contract.FULL_TEXT_KEY, contract.TRUST_STAFF_KEY)
TOKEN_ENV = "POLICYBOT_REST_TOKEN"
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def client_allowed(headers: Any, client_ip: str, token: str | None) -> bool:
    """With a token, the exact bearer token (constant time); without one, a direct client on loopback only."""
    if token:
        return bearer_matches(headers.get("authorization"), token)
    if any(headers.get(name) for name in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(client_ip).is_loopback
    except ValueError:
        return False


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

        blueprint = super().blueprint(guarded)
        token = os.environ.get(TOKEN_ENV, "").strip() or None

        @blueprint.middleware("request")
        async def only_allowed_clients(request: Request) -> HTTPResponse | None:
            if request.path.endswith("/webhook") and not client_allowed(request.headers, request.ip, token):
                logger.warning("REST channel: refused a client (%s)", "no or wrong token" if token
                               else "not a direct loopback client; set POLICYBOT_REST_TOKEN to serve others")
                return response.json({"error": "unauthorised"}, status=401)
            return None

        return blueprint
