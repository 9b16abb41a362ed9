"""The REST channel's message ids (channels/rest.py): a client's `message_id` is scoped to its sender.

A concern record is keyed by the message id, so a retry by the same sender is recorded once, while another sender
using the same client id gets a record of its own. The assistant is stood in for by a small coroutine that records
what Rasa would receive; tests/e2e/test_rest_safeguarding.py runs the same path through the real servers.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from channels.rest import MAX_MESSAGE_ID_CHARS, GuardedRestInput, scoped_message_id


class Assistant:
    """Stands in for Rasa's on_new_message: records each message and answers through its output channel."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, "An answer.")


def request(body: dict[str, Any]) -> Any:
    """What the channel reads of a Sanic request: the JSON body and the query arguments."""
    return SimpleNamespace(json=body, args={})


def post(assistant: Assistant, body: dict[str, Any]) -> Any:
    """POST `body` to the channel's /webhook handler; returns the message the assistant received."""
    blueprint = GuardedRestInput().blueprint(assistant)
    [webhook] = [route.handler for route in blueprint._future_routes if route.uri == "/webhook"]
    answer = asyncio.run(webhook(request(body)))
    assert answer.status == 200 and json.loads(answer.body) == [{"recipient_id": assistant.messages[-1].sender_id,
                                                                 "text": "An answer."}]
    return assistant.messages[-1]


def body(sender: object = "pupil-1", message_id: object = "m-1", **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"message": "can I bring my phone?", "metadata": {"school": "ouston", "role": "pupil"}}
    if sender is not None:
        fields["sender"] = sender
    if message_id is not None:
        fields["message_id"] = message_id
    return {**fields, **extra}


def test_the_same_sender_and_message_id_give_the_same_key() -> None:
    assistant = Assistant()
    first, retry = post(assistant, body()), post(assistant, body())
    assert first.message_id == retry.message_id == scoped_message_id("pupil-1", "m-1")
    assert first.metadata == retry.metadata == {"school": "ouston", "role": "pupil", "message_id": first.message_id}


def test_different_senders_with_the_same_message_id_get_different_keys() -> None:
    assistant = Assistant()
    mine, theirs = post(assistant, body(sender="pupil-1")), post(assistant, body(sender="pupil-2"))
    assert mine.message_id != theirs.message_id
    assert mine.metadata["message_id"] == mine.message_id and theirs.metadata["message_id"] == theirs.message_id


def test_the_key_is_a_hash_that_does_not_carry_the_client_id() -> None:
    key = scoped_message_id("pupil-1", "client-message-0001")
    assert key is not None and key.startswith("rest-") and len(key) == len("rest-") + 40
    assert "client-message-0001" not in key and "pupil-1" not in key


def test_the_key_is_scoped_to_the_conversation_rasa_uses() -> None:
    """A missing sender is Rasa's default conversation; a numeric sender is the conversation of its string."""
    assistant = Assistant()
    anonymous = post(assistant, body(sender=None))
    assert anonymous.message_id == scoped_message_id(anonymous.sender_id, "m-1")
    numeric, text = post(assistant, body(sender=12345)), post(assistant, body(sender="12345"))
    assert numeric.sender_id == text.sender_id and numeric.message_id == text.message_id


def test_a_sender_cannot_forge_another_senders_key_through_a_separator() -> None:
    assert scoped_message_id("a|b", "c") != scoped_message_id("a", "b|c")
    assert scoped_message_id("a\nb", "c") != scoped_message_id("a", "b\nc")


def test_a_missing_message_id_behaves_as_before() -> None:
    """No client id: Rasa's own random message id, and the client's metadata passes through unchanged."""
    assistant = Assistant()
    first, second = post(assistant, body(message_id=None)), post(assistant, body(message_id=None))
    assert first.message_id != second.message_id and len(first.message_id) == 32
    assert not first.message_id.startswith("rest-")
    assert first.metadata == {"school": "ouston", "role": "pupil"}
    bare = post(assistant, {"sender": "pupil-1", "message": "hello"})
    assert bare.metadata is None


@pytest.mark.parametrize("client_id", [None, "", 7, ["m"], "x" * (MAX_MESSAGE_ID_CHARS + 1)])
def test_an_unusable_client_message_id_is_ignored(client_id: object) -> None:
    assert scoped_message_id("pupil-1", client_id) is None
    assert GuardedRestInput().get_metadata(request(body(message_id=client_id))) == {"school": "ouston",
                                                                                   "role": "pupil"}
    assert scoped_message_id("pupil-1", "x" * MAX_MESSAGE_ID_CHARS) is not None


def test_a_client_cannot_set_the_key_through_its_metadata() -> None:
    assistant = Assistant()
    claimed = {"school": "ouston", "role": "pupil", "message_id": "someone-elses-id"}
    unscoped = post(assistant, body(message_id=None, metadata=claimed))
    assert unscoped.message_id != "someone-elses-id" and unscoped.metadata == {"school": "ouston", "role": "pupil"}
    scoped = post(assistant, body(metadata=claimed))
    assert scoped.message_id == scoped.metadata["message_id"] == scoped_message_id("pupil-1", "m-1")


def test_a_client_id_utf8_cannot_encode_still_gets_a_key() -> None:
    """json.loads accepts lone surrogates ("\\ud800"); the key must not fail on them."""
    key = scoped_message_id("pupil-\ud800", "m-\udfff")
    assert key is not None and key != scoped_message_id("pupil-", "m-")


# ------------------------------------------------------------------------------------------------ who may call


@pytest.mark.parametrize("headers, ip, token, allowed", [
    ({}, "127.0.0.1", None, True),
    ({}, "::1", None, True),
    ({}, "10.0.0.7", None, False),
    ({"x-forwarded-for": "203.0.113.9"}, "127.0.0.1", None, False),   # proxied: the real client is elsewhere
    ({"forwarded": "for=203.0.113.9"}, "127.0.0.1", None, False),
    ({}, "not-an-ip", None, False),
    ({"authorization": "Bearer backend-secret"}, "10.0.0.7", "backend-secret", True),
    ({"authorization": "Bearer wrong"}, "127.0.0.1", "backend-secret", False),
    ({}, "127.0.0.1", "backend-secret", False),                         # a token, once set, is always needed
])
def test_who_may_call_the_rest_channel(headers: dict[str, str], ip: str, token: str | None, allowed: bool) -> None:
    from channels.rest import client_allowed

    assert client_allowed(headers, ip, token) is allowed


def test_a_client_cannot_claim_trust_staff_or_set_the_whole_text() -> None:
    message = post(Assistant(), {"sender": "s", "message": "hi", "metadata": {
        "school": "ouston", "trust_staff": True, "full_text": "something else"}})
    assert message.metadata == {"school": "ouston"}
