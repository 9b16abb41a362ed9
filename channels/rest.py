"""The REST channel, with two guarantees added: every message gets a reply, and an over-long one a kind refusal.

If the action server is down, Rasa logs the failed custom action and sends nothing back, which leaves a pupil
staring at silence. This channel notices an empty reply and sends a kind one that says who to ask instead.
Registered in credentials.yml as `channels.rest.GuardedRestInput`; its URL stays /webhooks/rest/webhook.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.constants import DEFAULT_SENDER_ID
from sanic import Blueprint
from sanic.request import Request

from bot.answer import MAX_QUESTION_CHARS
from bot.safeguarding.handoff import SAFE_SIGNPOSTING_MESSAGES

logger = logging.getLogger(__name__)

# Same words as the domain's utter_action_server_down: a channel cannot render domain responses itself.
TOO_LONG_TEXT = (f"That's a very long message! Could you ask your question in fewer words "
                 f"(under {MAX_QUESTION_CHARS:,} characters)?")
NO_REPLY_TEXT = ("I can't look that up right now. Please ask a teacher or the school office — and if you're "
                 "worried about anything, talk to a trusted adult or call Childline on 0800 1111.")


#: A client may send its own id for a message (top-level "message_id"), so that a retried request is recognised as
#: the same message: a concern record is keyed by it and never written twice. The key is scoped to the sender (see
#: scoped_message_id), so no client can make its message collapse into another sender's record.
MAX_MESSAGE_ID_CHARS = 128
#: Metadata key carrying an over-long message's whole text to the hand-off action (the pipeline gets a shortened
#: copy); actions/handing_off.py reads it.
FULL_TEXT_KEY = "full_text"


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


def _might_be_a_disclosure(text: str | None) -> bool:
    """Screen text the pipeline will not see (too long) or could not answer (action server down).

    Errs towards True: if the screen itself fails, the person is treated as possibly at risk.
    """
    if not text:
        return False
    try:
        from bot.safeguarding.screen import default_screen

        if len(text) > 2 * MAX_QUESTION_CHARS:
            text = f"{text[:MAX_QUESTION_CHARS]}\n{text[-MAX_QUESTION_CHARS:]}"
        return default_screen().screen(text).hand_off
    except Exception as error:  # noqa: BLE001
        logger.error("safeguarding screen failed in the REST channel (%s)", type(error).__name__)
        return True


def shorten_for_pipeline(text: str, metadata: dict[str, Any]) -> str | None:
    """For a message over MAX_QUESTION_CHARS, what every channel does: None when it cannot be a disclosure (the
    caller refuses it kindly); otherwise its start and end for the pipeline (DIET's cost grows with length), with
    the whole text put in `metadata[FULL_TEXT_KEY]` for the concern record."""
    if not _might_be_a_disclosure(text):
        return None
    metadata[FULL_TEXT_KEY] = text
    half = MAX_QUESTION_CHARS // 2
    return f"{text[:half]} … {text[-half:]}"


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = request.json.get("metadata")
        metadata = dict(metadata) if isinstance(metadata, dict) else {}
        # Only the channel sets the key a message is recorded under, never the client's own metadata.
        metadata.pop("message_id", None)
        message_id = scoped_message_id(_conversation_id(request), request.json.get("message_id"))
        if message_id:
            metadata["message_id"] = message_id
        return metadata or None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def reply_at_least_once(message: UserMessage) -> None:
            if message.metadata and message.metadata.get("message_id"):
                message.message_id = message.metadata["message_id"]
            # A huge message is answered here, before NLU spends time on it (and misreads it) -- unless it may
            # be someone telling us they are at risk: that goes through the whole pipeline to the DSL hand-off.
            if message.text and len(message.text) > MAX_QUESTION_CHARS:
                metadata = dict(message.metadata or {})
                shortened = shorten_for_pipeline(message.text, metadata)
                if shortened is None:
                    await message.output_channel.send_text_message(message.sender_id, TOO_LONG_TEXT)
                    return
                message.metadata, message.text = metadata, shortened
            try:
                await on_new_message(message)
            except Exception as error:  # noqa: BLE001 - Rasa would log the failure *with the message text*
                logger.error("handling a REST message failed (%s); replied kindly", type(error).__name__)
            output = message.output_channel
            # Exactly the collecting channel: the streaming QueueOutputChannel cannot be peeked at.
            if type(output) is CollectingOutputChannel and not output.messages:
                if _might_be_a_disclosure(message.text):
                    for bubble in SAFE_SIGNPOSTING_MESSAGES:  # claims nothing was recorded: nothing was
                        await output.send_text_message(message.sender_id, bubble)
                else:
                    await output.send_text_message(message.sender_id, NO_REPLY_TEXT)

        return super().blueprint(reply_at_least_once)
