"""The Teams channel's Rasa glue (channels/teams.py) against the loopback OpenID stub and fake Bot Connector.

The assistant itself is stood in for by a small coroutine that records what Rasa would receive and answers through
the channel's output; tests/e2e/teams/ runs the same paths through the real Rasa and action servers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import settings
from bot.schools import SchoolDirectory
from channels.teams import NOT_CONFIGURED_TEXT, NO_REPLY_TEXT, UNKNOWN_TENANT_TEXT, TeamsInput
from channels.teams_activity import sender_id
from channels.teams_config import TeamsSettings, TenantMap
from e2e.teams.stubs import FakeConnector, IdentityStub, message_activity

APP_ID = str(uuid.uuid4())
PASSWORD = "stub-password-" + uuid.uuid4().hex
TENANT = "1111aaaa-2222-4333-8444-55555555555b"
STRANGER_TENANT = "2222bbbb-2222-4333-8444-55555555555b"
GROUP = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


@pytest.fixture(scope="module")
def identity() -> Iterator[IdentityStub]:
    stub = IdentityStub().start()
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture
def connector() -> Iterator[FakeConnector]:
    fake = FakeConnector(APP_ID, PASSWORD).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def channel(identity: IdentityStub, connector: FakeConnector) -> TeamsInput:
    tenants = TenantMap.parse({"tenants": {TENANT: {"school": "ken-stimpson", "teams": {GROUP: "ouston"}}}},
                              "test", SchoolDirectory.load(settings.PROJECT_ROOT / "data" / "schools.yml"))
    return TeamsInput(TeamsSettings(APP_ID, PASSWORD, identity.openid_url, connector.token_url, Path("unused")),
                      tenants)


class Assistant:
    """Stands in for Rasa's on_new_message: records each message and answers through its output channel."""

    def __init__(self, reply: str | None = "An answer.\n— Ken Stimpson Community School, E-Safety Policy") -> None:
        self.messages: list[Any] = []
        self.reply = reply

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        if self.reply:
            await message.output_channel.send_text_with_buttons(
                message.sender_id, self.reply, [{"title": "👍", "payload": "/feedback_positive"}])


def post(channel: TeamsInput, assistant: Assistant, body: Any, authorization: str | None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return asyncio.run(channel.handle(authorization, raw, assistant))


def activity(connector: FakeConnector, tenant: str | None = TENANT, **extra: Any) -> dict[str, Any]:
    extra.setdefault("text", "can I use my phone in lessons?")
    extra.setdefault("activity_id", uuid.uuid4().hex[:12])
    return message_activity(connector.service_url, tenant_id=tenant, user_id="29:teacher",
                            conversation_id=f"a:{uuid.uuid4().hex}", **extra)


def bearer(identity: IdentityStub, connector: FakeConnector, **claims: Any) -> str:
    return f"Bearer {identity.token(APP_ID, connector.service_url, **claims)}"


def test_without_settings_the_channel_starts_and_answers_503(monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    for name in ("POLICYBOT_TEAMS_APP_ID", "POLICYBOT_TEAMS_APP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.INFO, logger="channels.teams"):
        channel = TeamsInput.from_credentials(None)
    assert [r.getMessage() for r in caplog.records if "not configured" in r.getMessage()] == [
        "teams: not configured (POLICYBOT_TEAMS_APP_ID and POLICYBOT_TEAMS_APP_PASSWORD unset); "
        "/webhooks/teams/webhook will answer 503"]
    assistant = Assistant()
    answer = post(channel, assistant, {"type": "message"}, "Bearer x")
    assert answer.status == 503
    assert answer.body.decode() == NOT_CONFIGURED_TEXT.format(
        missing="POLICYBOT_TEAMS_APP_ID and POLICYBOT_TEAMS_APP_PASSWORD")
    assert not assistant.messages


def test_constructing_the_channel_fetches_nothing(connector: FakeConnector) -> None:
    fresh = IdentityStub().start()
    try:
        TeamsInput(TeamsSettings(APP_ID, PASSWORD, fresh.openid_url, connector.token_url, Path("unused")),
                   TenantMap({}))
        assert fresh.fetches() == 0 and connector.token_requests == 0
    finally:
        fresh.stop()


def test_a_staff_message_reaches_the_assistant_with_school_role_and_message_id(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput) -> None:
    assistant = Assistant()
    body = activity(connector)
    answer = post(channel, assistant, body, bearer(identity, connector))
    assert answer.status == 200
    [message] = assistant.messages
    assert message.text == "can I use my phone in lessons?" and message.input_channel == "teams"
    assert message.metadata["school"] == "ken-stimpson" and message.metadata["role"] == "staff"
    assert message.metadata["channel"] == "teams" and message.metadata["teams_tenant"] == TENANT
    assert message.message_id == message.metadata["message_id"] and message.message_id.startswith("teams:")
    assert message.sender_id == sender_id(PASSWORD, TENANT, "29:teacher", "ken-stimpson")
    [reply] = connector.replies_to(body["conversation"]["id"])
    assert reply.reply_to_id == body["id"] and reply.activity["replyToId"] == body["id"]
    assert reply.activity["recipient"] == {"id": "29:teacher"} and reply.activity["from"] == {"id": "28:policybot"}
    assert "— Ken Stimpson Community School, E-Safety Policy" in reply.text()


def test_a_retried_activity_is_answered_once(identity: IdentityStub, connector: FakeConnector,
                                             channel: TeamsInput) -> None:
    assistant = Assistant()
    body = activity(connector)
    for _ in range(3):
        answer = post(channel, assistant, body, bearer(identity, connector))
        assert answer.status == 200
    assert len(assistant.messages) == 1 and len(connector.replies_to(body["conversation"]["id"])) == 1


def test_a_team_mapped_to_another_school_is_answered_for_that_school(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput) -> None:
    assistant = Assistant()
    body = activity(connector, team={"id": "19:staffroom@thread.tacv2", "aadGroupId": GROUP},
                    conversation_type="channel")
    post(channel, assistant, body, bearer(identity, connector))
    assert assistant.messages[0].metadata["school"] == "ouston"
    assert assistant.messages[0].metadata["teams_conversation_type"] == "channel"


def test_an_unknown_tenant_is_refused_politely_and_nothing_reaches_the_assistant(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput) -> None:
    assistant = Assistant()
    body = activity(connector, tenant=STRANGER_TENANT)
    answer = post(channel, assistant, body, bearer(identity, connector))
    assert answer.status == 200
    assert not assistant.messages
    [reply] = connector.replies_to(body["conversation"]["id"])
    assert reply.activity["text"] == UNKNOWN_TENANT_TEXT.replace("\n", "\n\n")


@pytest.mark.parametrize("claims, reason", [({"iss": "https://evil.example/"}, "issuer"),
                                            ({"aud": str(uuid.uuid4())}, "audience"),
                                            ({"serviceurl": "https://attacker.example/"}, "service_url")])
def test_a_bad_token_is_401_and_nothing_is_answered(identity: IdentityStub, connector: FakeConnector,
                                                    channel: TeamsInput, claims: dict, reason: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    assistant = Assistant()
    body = activity(connector)
    with caplog.at_level(logging.WARNING, logger="channels.teams"):
        answer = post(channel, assistant, body, bearer(identity, connector, **claims))
    assert answer.status == 401 and not assistant.messages and not connector.replies
    assert any(f"({reason})" in r.getMessage() for r in caplog.records)
    assert not any("phone" in r.getMessage() for r in caplog.records), "message text never logged"


def test_a_malformed_activity_with_a_good_token_is_400(identity: IdentityStub, connector: FakeConnector,
                                                       channel: TeamsInput) -> None:
    assistant = Assistant()
    body = activity(connector)
    del body["from"]
    answer = post(channel, assistant, body, bearer(identity, connector))
    assert answer.status == 400 and answer.body.decode() == "Bad activity: the activity has no usable 'from.id'"
    not_json = post(channel, assistant, b"{not json", bearer(identity, connector))
    assert not_json.status == 400 and not assistant.messages


def test_other_activity_types_are_acknowledged_and_ignored(identity: IdentityStub, connector: FakeConnector,
                                                          channel: TeamsInput) -> None:
    assistant = Assistant()
    body = {"type": "conversationUpdate", "serviceUrl": connector.service_url, "channelId": "msteams",
            "membersAdded": [{"id": "28:policybot"}]}
    answer = post(channel, assistant, body, bearer(identity, connector))
    assert answer.status == 200
    assert not assistant.messages and not connector.replies


def test_silence_from_the_assistant_becomes_a_kind_reply(identity: IdentityStub, connector: FakeConnector,
                                                         channel: TeamsInput) -> None:
    body = activity(connector)
    post(channel, Assistant(reply=None), body, bearer(identity, connector))
    [reply] = connector.replies_to(body["conversation"]["id"])
    assert reply.activity["text"] == NO_REPLY_TEXT
