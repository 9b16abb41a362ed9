"""Outbound replies and the app token (channels/teams_connector.py), against a loopback fake Bot Connector."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from channels.teams_connector import AppTokens, ConnectorClient, ConnectorError, reply_url
from e2e.teams.stubs import FakeConnector, personal_conversation_id

APP_ID = str(uuid.uuid4())
PASSWORD = "stub-app-password-" + uuid.uuid4().hex


@pytest.fixture
def connector() -> Iterator[FakeConnector]:
    fake = FakeConnector(APP_ID, PASSWORD).start()
    try:
        yield fake
    finally:
        fake.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def client_for(fake: FakeConnector, clock: Clock | None = None, password: str = PASSWORD) -> ConnectorClient:
    return ConnectorClient(AppTokens(APP_ID, password, fake.token_url, clock=clock or Clock()))


def send(client: ConnectorClient, fake: FakeConnector, conversation: str = "a:1conv", reply_to: str = "1700",
         text: str = "hello") -> object:
    return asyncio.run(client.reply(fake.service_url, conversation, reply_to, {"type": "message", "text": text}))


def test_a_reply_is_posted_to_the_activitys_service_url_with_the_bot_token(connector: FakeConnector) -> None:
    client = client_for(connector)
    answer = send(client, connector, "a:1Xyz;messageid=1700", "1700")
    assert isinstance(answer, dict) and answer.get("id")
    [reply] = connector.replies_to("a:1Xyz;messageid=1700")
    assert reply.reply_to_id == "1700" and reply.authorized and reply.activity["text"] == "hello"


def test_the_token_is_requested_lazily_and_reused(connector: FakeConnector) -> None:
    client = client_for(connector)
    assert connector.token_requests == 0, "constructing the client fetches nothing"
    for _ in range(3):
        send(client, connector)
    assert connector.token_requests == 1 and client.tokens.requests == 1


def test_the_token_is_renewed_five_minutes_before_it_expires(connector: FakeConnector) -> None:
    clock = Clock()
    client = client_for(connector, clock)
    send(client, connector)
    clock.now += 3600 - 301
    send(client, connector)
    assert connector.token_requests == 1
    clock.now += 2  # now inside the last five minutes
    send(client, connector)
    assert connector.token_requests == 2


def test_a_revoked_token_is_replaced_once_and_the_reply_still_goes(connector: FakeConnector) -> None:
    client = client_for(connector)
    send(client, connector)
    connector.tokens.clear()  # the Connector no longer accepts the cached token
    send(client, connector, text="second")
    assert connector.token_requests == 2
    assert [r.activity["text"] for r in connector.replies_to("a:1conv")] == ["hello", "second"]


def test_a_wrong_app_password_is_a_clear_error_without_the_secret(connector: FakeConnector) -> None:
    wrong = "wrong-password-" + uuid.uuid4().hex
    client = client_for(connector, password=wrong)
    with pytest.raises(ConnectorError) as failed:
        send(client, connector)
    assert "HTTP 401" in str(failed.value) and "invalid_client" in str(failed.value)
    assert wrong not in str(failed.value) and PASSWORD not in str(failed.value)
    assert wrong not in repr(client.tokens)
    assert not connector.replies


def test_a_plain_http_service_url_off_loopback_gets_nothing_not_even_a_token_request(
        connector: FakeConnector) -> None:
    client = client_for(connector)
    with pytest.raises(ConnectorError):
        asyncio.run(client.reply("http://attacker.example/", "a:1conv", "1", {"type": "message"}))
    assert connector.token_requests == 0


def test_an_unreachable_connector_is_a_connector_error(connector: FakeConnector) -> None:
    client = client_for(connector)
    with pytest.raises(ConnectorError):
        asyncio.run(client.reply("http://127.0.0.1:9/", "a:1conv", "1", {"type": "message"}))


def test_reply_urls_encode_teams_ids() -> None:
    url = reply_url("https://smba.trafficmanager.net/emea/", "19:abc@thread.tacv2;messageid=17", "17")
    assert url == ("https://smba.trafficmanager.net/emea/v3/conversations/"
                   "19%3Aabc%40thread.tacv2%3Bmessageid%3D17/activities/17")
    assert reply_url("https://x.example", "a:1", None) == "https://x.example/v3/conversations/a%3A1/activities"


def test_app_tokens_need_both_id_and_password() -> None:
    with pytest.raises(ValueError):
        AppTokens(APP_ID, "")
    with pytest.raises(ValueError):
        AppTokens(APP_ID, PASSWORD, "http://login.example/token")


# --- starting a personal chat (a flagged message in a team channel moves there) ------------------------------------

TENANT = "1111aaaa-2222-4333-8444-55555555555b"


def test_a_personal_chat_is_created_with_the_bot_the_person_and_the_tenant(connector: FakeConnector) -> None:
    client = client_for(connector)
    conversation = asyncio.run(client.create_personal_conversation(connector.service_url, "28:policybot",
                                                                   "29:teacher", TENANT))
    assert conversation == personal_conversation_id(TENANT, "29:teacher")
    assert connector.conversations == [{"bot": {"id": "28:policybot"}, "members": [{"id": "29:teacher"}],
                                        "channelData": {"tenant": {"id": TENANT}}, "tenantId": TENANT,
                                        "isGroup": False}]
    # Posting into it: a new message, not a reply to anything.
    asyncio.run(client.reply(connector.service_url, conversation, None, {"type": "message", "text": "hi"}))
    [posted] = connector.replies_to(conversation)
    assert posted.reply_to_id is None and posted.activity["text"] == "hi"


def test_a_refused_personal_chat_is_a_connector_error_naming_the_status_and_code(connector: FakeConnector) -> None:
    connector.refuse_conversations = True
    client = client_for(connector)
    with pytest.raises(ConnectorError, match=r"^the Bot Connector answered HTTP 403 \(BotNotInConversationRoster\) "
                                             r"to a new conversation$"):
        asyncio.run(client.create_personal_conversation(connector.service_url, "28:policybot", "29:teacher",
                                                        TENANT))
    assert connector.token_requests == 2, "once more with a fresh token, then given up"


def test_a_new_conversation_answer_without_an_id_is_a_connector_error() -> None:
    async def post(url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        if url.endswith("/token"):
            return 200, {"access_token": "t", "expires_in": 3600}
        return 201, {"activityId": "1"}

    client = ConnectorClient(AppTokens(APP_ID, PASSWORD, "https://login.example/token", post=post), post=post)
    with pytest.raises(ConnectorError, match=r"^the Bot Connector's answer to a new conversation has no usable id$"):
        asyncio.run(client.create_personal_conversation("https://smba.example/teams/", "28:b", "29:u", TENANT))


def test_a_personal_chat_is_never_requested_from_a_plain_http_service_url_off_loopback(
        connector: FakeConnector) -> None:
    client = client_for(connector)
    with pytest.raises(ConnectorError, match=r"^the activity's serviceUrl must use https"):
        asyncio.run(client.create_personal_conversation("http://attacker.example/", "28:b", "29:u", TENANT))
    assert connector.token_requests == 0
