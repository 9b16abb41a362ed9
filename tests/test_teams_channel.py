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
from bot.safeguarding.types import ScreenResult
from bot.schools import SchoolDirectory
from channels.teams import (MOVED_TO_PRIVATE_TEXT, NO_REPLY_TEXT, NOT_CONFIGURED_TEXT, PRIVATE_CHAT_FAILED_TEXT,
                            UNKNOWN_TENANT_TEXT, UNMAPPED_TEAM_TEXT, TeamsInput)
from channels.teams_activity import Activity, message_id, sender_id
from channels.teams_config import TeamsSettings, TenantMap
from e2e.teams.stubs import FakeConnector, IdentityStub, message_activity, personal_conversation_id

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


# --- only msteams, with an endorsed key (issue 14 item 6) ---------------------------------------------------------


@pytest.mark.parametrize("channel_id", ["webchat", "slack", "emulator", "MSTeams", "msteams ", None],
                         ids=["webchat", "slack", "emulator", "wrong-case", "trailing-space", "missing"])
def test_an_activity_from_any_channel_but_msteams_is_403_and_reaches_nobody(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput, channel_id: str | None,
        caplog: pytest.LogCaptureFixture) -> None:
    """The stub's key is endorsed for msteams and webchat: a valid token does not make a webchat (or channel-less)
    activity a Teams one."""
    assistant = Assistant()
    body = activity(connector)
    if channel_id is None:
        del body["channelId"]
    else:
        body["channelId"] = channel_id
    with caplog.at_level(logging.INFO, logger="channels.teams"):
        answer = post(channel, assistant, body, bearer(identity, connector))
    assert answer.status == 403 and answer.body.decode() == "Forbidden"
    assert not assistant.messages and not connector.replies and not connector.conversations
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "teams: refused an activity (not_msteams)"]


@pytest.mark.parametrize("endorsements", [None, ["webchat", "slack"], []], ids=["none", "others-only", "empty"])
def test_a_key_not_endorsed_for_msteams_is_403_and_reaches_nobody(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput, endorsements: list[str] | None,
        caplog: pytest.LogCaptureFixture) -> None:
    kid = f"key-{uuid.uuid4().hex[:8]}"
    identity.add_key(kid, endorsements=endorsements)
    assistant = Assistant()
    body = activity(connector)
    with caplog.at_level(logging.INFO, logger="channels.teams"):
        answer = post(channel, assistant, body, f"Bearer {identity.token(APP_ID, connector.service_url, kid=kid)}")
    assert answer.status == 403 and answer.body.decode() == "Forbidden"
    assert not assistant.messages and not connector.replies and not connector.conversations
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "teams: refused an activity (not_endorsed)"]


def test_an_msteams_activity_signed_with_an_endorsed_key_is_accepted(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput) -> None:
    kid = f"key-{uuid.uuid4().hex[:8]}"
    identity.add_key(kid, endorsements=["msteams"])
    assistant = Assistant()
    body = activity(connector)
    assert body["channelId"] == "msteams"
    answer = post(channel, assistant, body, f"Bearer {identity.token(APP_ID, connector.service_url, kid=kid)}")
    assert answer.status == 200 and len(assistant.messages) == 1


def test_a_bad_token_is_still_401_whatever_the_channel(identity: IdentityStub, connector: FakeConnector,
                                                       channel: TeamsInput) -> None:
    """Authentication first: an unauthenticated request learns nothing about which channels are accepted."""
    assistant = Assistant()
    body = activity(connector, channelId="webchat")
    answer = post(channel, assistant, body, bearer(identity, connector, aud=str(uuid.uuid4())))
    assert answer.status == 401 and not assistant.messages


# --- team channels and group chats: safeguarding content moves to a personal chat ---------------------------------

QUIET = ScreenResult("question", "none", "online_safety", 0.9)
HAND_OFF = ScreenResult("disclosure", "high", "physical_abuse", 0.9, signpost=True)
CONCERN = ScreenResult("concern", "standard", "online_safety", 0.7, signpost=True)
CHECK_IN = ScreenResult("other", "none", "emotional_abuse", 0.4, check_in=True, signpost=True)
SIGNPOST = ScreenResult("question", "none", "bullying", 0.6, signpost=True)
DISCLOSURE = "a girl in my tutor group told me her stepdad hits her with a belt"
#: What the assistant says to a flagged message (with the numbers, so the guard adds nothing of its own).
SAFE_REPLY = "Thank you for telling me. I've passed this on to the DSL. If anyone is in danger now, call 999."
TEAM = {"id": "19:staffroom@thread.tacv2", "aadGroupId": GROUP}


class StubScreen:
    """Stands in for the safeguarding screen: one verdict for every message, and what it was asked."""

    def __init__(self, result: ScreenResult | Exception) -> None:
        self.result = result
        self.seen: list[tuple[str, str | None]] = []

    def screen(self, text: str, role: str | None = None) -> ScreenResult:
        self.seen.append((text, role))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> StubScreen:
    stub = StubScreen(QUIET)
    monkeypatch.setattr("bot.safeguarding.screen.default_screen", lambda: stub)
    return stub


def in_team(connector: FakeConnector, text: str = DISCLOSURE, conversation_type: str = "channel",
            **extra: Any) -> dict[str, Any]:
    if conversation_type == "channel":
        extra.setdefault("team", TEAM)
    return activity(connector, text=text, conversation_type=conversation_type, **extra)


def all_text(connector: FakeConnector) -> str:
    return "\n".join(json.dumps(reply.activity) for reply in connector.replies)


@pytest.mark.parametrize("verdict", [HAND_OFF, CONCERN, CHECK_IN, SIGNPOST, RuntimeError("screen down")],
                         ids=["disclosure", "concern", "check-in", "signpost", "screen-failed"])
def test_safeguarding_content_in_a_team_channel_moves_to_a_personal_chat(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput, screen: StubScreen,
        verdict: ScreenResult | Exception, caplog: pytest.LogCaptureFixture) -> None:
    screen.result = verdict
    assistant = Assistant(reply="I've passed this on to the DSL. Your reference is KSC-2026-0001. Call 999 if ...")
    body = in_team(connector)
    with caplog.at_level(logging.DEBUG):
        answer = post(channel, assistant, body, bearer(identity, connector))
    assert answer.status == 200
    # The channel: one kind line, as a reply to the message, with nothing of what was said or answered.
    [in_channel] = connector.replies_to(body["conversation"]["id"])
    assert in_channel.activity["text"] == MOVED_TO_PRIVATE_TEXT and in_channel.reply_to_id == body["id"]
    # A personal conversation with that person, created through the Connector ...
    [created] = connector.conversations
    assert created["isGroup"] is False and created["members"] == [{"id": "29:teacher"}]
    assert created["bot"] == {"id": "28:policybot"} and created["channelData"] == {"tenant": {"id": TENANT}}
    assert created["tenantId"] == TENANT and "activity" not in created and "topicName" not in created
    personal = personal_conversation_id(TENANT, "29:teacher")
    # ... where the assistant's answer goes, as new activities (not replies to the channel message).
    [private] = connector.replies_to(personal)
    assert "KSC-2026-0001" in private.text() and private.reply_to_id is None and "replyToId" not in private.activity
    assert private.activity["conversation"] == {"id": personal}
    assert private.activity["recipient"] == {"id": "29:teacher"}
    # The assistant got the message once, placed by the team (Ouston), as the same person's conversation.
    [message] = assistant.messages
    assert message.text == DISCLOSURE
    assert message.metadata["school"] == "ouston" and message.metadata["teams_conversation_type"] == "personal"
    assert message.metadata["teams_moved_from"] == "channel"
    assert message.sender_id == sender_id(PASSWORD, TENANT, "29:teacher", "ouston")
    assert message.message_id == message_id(Activity.parse(body))
    echoed = "stepdad" in all_text(connector)  # outside the assert: a failure never prints what was posted
    assert not echoed, "the words are never echoed, in the channel or privately"
    assert not any("stepdad" in r.getMessage() for r in caplog.records), "message text never logged"


def test_a_disclosure_in_a_group_chat_moves_to_a_personal_chat_at_the_tenants_school(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput, screen: StubScreen) -> None:
    screen.result = HAND_OFF
    assistant = Assistant(reply=SAFE_REPLY)
    body = in_team(connector, conversation_type="groupChat")
    post(channel, assistant, body, bearer(identity, connector))
    assert [r.activity["text"] for r in connector.replies_to(body["conversation"]["id"])] == [MOVED_TO_PRIVATE_TEXT]
    assert len(connector.replies_to(personal_conversation_id(TENANT, "29:teacher"))) == 1
    [message] = assistant.messages
    assert message.metadata["school"] == "ken-stimpson" and message.metadata["teams_moved_from"] == "groupChat"


def test_a_policy_question_in_a_team_channel_is_answered_in_the_channel(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput, screen: StubScreen) -> None:
    assistant = Assistant()
    body = in_team(connector, text="can I use my phone in lessons?")
    post(channel, assistant, body, bearer(identity, connector))
    [reply] = connector.replies_to(body["conversation"]["id"])
    assert reply.reply_to_id == body["id"] and "E-Safety Policy" in reply.text()
    assert not connector.conversations
    [message] = assistant.messages
    assert message.metadata["teams_conversation_type"] == "channel" and "teams_moved_from" not in message.metadata
    assert screen.seen[0] == ("can I use my phone in lessons?", "staff")


def test_a_personal_chat_is_not_screened_twice_or_moved(identity: IdentityStub, connector: FakeConnector,
                                                        channel: TeamsInput, screen: StubScreen) -> None:
    screen.result = HAND_OFF
    assistant = Assistant(reply=SAFE_REPLY)
    body = activity(connector, text=DISCLOSURE)
    post(channel, assistant, body, bearer(identity, connector))
    assert not connector.conversations and len(connector.replies_to(body["conversation"]["id"])) == 1
    assert len(screen.seen) == 1, "the guard screens once; the channel adds no screen of its own"


def test_when_no_personal_chat_can_be_started_the_channel_gets_signposting_and_the_concern_is_still_recorded(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput, screen: StubScreen,
        caplog: pytest.LogCaptureFixture) -> None:
    screen.result = HAND_OFF
    connector.refuse_conversations = True
    assistant = Assistant(reply="I've passed this on to the DSL. Your reference is KSC-2026-0002.")
    body = in_team(connector)
    with caplog.at_level(logging.INFO, logger="channels.teams"):
        answer = post(channel, assistant, body, bearer(identity, connector))
    assert answer.status == 200
    [in_channel] = connector.replies_to(body["conversation"]["id"])
    assert in_channel.activity["text"] == PRIVATE_CHAT_FAILED_TEXT.replace("\n", "\n\n")
    assert "999" in PRIVATE_CHAT_FAILED_TEXT and "0800 1111" in PRIVATE_CHAT_FAILED_TEXT
    assert len(connector.replies) == 1, "the assistant's reply (with the reference) went nowhere"
    posted = all_text(connector)
    leaked = "KSC-2026-0002" in posted or "stepdad" in posted  # outside the assert: never print what was posted
    assert not leaked
    [message] = assistant.messages  # handed on all the same, so the concern record is written
    assert message.metadata["school"] == "ouston" and message.metadata["teams_conversation_type"] == "channel"
    assert message.metadata["teams_moved_from"] == "channel" and message.metadata["teams_private_chat"] == "failed"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "teams: could not start a personal chat (the Bot Connector answered HTTP 403 (BotNotInConversationRoster) "
        "to a new conversation); signposted in the channel, replies to this turn discarded"]
    assert len(connector.conversations) == 2, "tried twice: once more with a fresh token"


def test_the_personal_chat_carries_on_at_the_school_the_channel_was_placed_at(
        identity: IdentityStub, connector: FakeConnector, screen: StubScreen) -> None:
    """A trust tenant without a default school: personal chats are refused, except the one the channel moved
    someone to, which continues their conversation (same school, same sender id) for a while."""
    tenants = TenantMap.parse({"tenants": {TENANT: {"teams": {GROUP: "ouston"}}}}, "test",
                              SchoolDirectory.load(settings.PROJECT_ROOT / "data" / "schools.yml"))
    trust = TeamsInput(TeamsSettings(APP_ID, PASSWORD, identity.openid_url, connector.token_url, Path("unused")),
                       tenants)
    screen.result = CHECK_IN
    assistant = Assistant(reply="Are you OK? Would you like me to tell someone?")
    post(trust, assistant, in_team(connector), bearer(identity, connector))
    personal = personal_conversation_id(TENANT, "29:teacher")
    screen.result = QUIET
    answer = message_activity(connector.service_url, text="yes please", tenant_id=TENANT, user_id="29:teacher",
                              conversation_id=personal)
    post(trust, assistant, answer, bearer(identity, connector))
    first, second = assistant.messages
    assert second.metadata["school"] == "ouston" and second.sender_id == first.sender_id
    assert second.metadata["teams_conversation_type"] == "personal" and "teams_moved_from" not in second.metadata
    # Someone else's personal chat in the same tenant is still refused.
    stranger = message_activity(connector.service_url, text="hello", tenant_id=TENANT, user_id="29:other",
                                conversation_id=personal_conversation_id(TENANT, "29:other"))
    post(trust, assistant, stranger, bearer(identity, connector))
    assert len(assistant.messages) == 2
    assert connector.replies_to(stranger["conversation"]["id"])[0].activity["text"] == \
        UNMAPPED_TEAM_TEXT.replace("\n", "\n\n")


def test_after_a_move_the_same_persons_next_channel_message_moves_too(
        identity: IdentityStub, connector: FakeConnector, channel: TeamsInput, screen: StubScreen) -> None:
    """While their conversation is in a personal chat, a quiet "yes" typed in the channel must not be answered
    there (the answer could be "I've passed it on")."""
    screen.result = CHECK_IN
    assistant = Assistant(reply=SAFE_REPLY)
    post(channel, assistant, in_team(connector), bearer(identity, connector))
    screen.result = QUIET
    follow_up = in_team(connector, text="yes")
    post(channel, assistant, follow_up, bearer(identity, connector))
    assert [r.activity["text"] for r in connector.replies_to(follow_up["conversation"]["id"])] == [
        MOVED_TO_PRIVATE_TEXT]
    assert len(connector.replies_to(personal_conversation_id(TENANT, "29:teacher"))) == 2
    # A colleague's question in the same channel is answered there as usual.
    colleague = message_activity(connector.service_url, text="can I use my phone in lessons?", tenant_id=TENANT,
                                 user_id="29:colleague", conversation_id=follow_up["conversation"]["id"],
                                 team=TEAM, conversation_type="channel")
    post(channel, assistant, colleague, bearer(identity, connector))
    assert connector.replies_to(colleague["conversation"]["id"])[-1].reply_to_id == colleague["id"]
    assert len(connector.conversations) == 2
