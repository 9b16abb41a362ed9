"""Outbound replies and the app token (channels/teams_connector.py), against a loopback fake Bot Connector."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from channels.teams_connector import AppTokens, ConnectorClient, ConnectorError, reply_url
from e2e.teams.stubs import FakeConnector

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
