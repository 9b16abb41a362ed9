"""The Teams channel's state shared through Redis (cluster mode, issue 15 item 2): channels/teams_activity.py's
RedisRecentActivities and RedisPrivateChats against a real Redis server, and two channel instances -- as two
replicas behind a load balancer would be -- sharing one Redis."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest
import redis
from redis_process import free_port
from test_teams_channel import (identity, connector,  # noqa: F401  (the channel tests' fixtures)
                                APP_ID, CHECK_IN, HAND_OFF, PASSWORD, QUIET, TENANT, Assistant, StubScreen,
                                activity, bearer, in_team, post)

from bot import settings
from bot.safeguarding.handoff import safe_signposting
from bot.safeguarding.types import ScreenResult
from bot.schools import SchoolDirectory
from channels.teams import MOVED_TO_PRIVATE_TEXT, NO_REPLY_TEXT, PRIVATE_CHAT_FAILED_TEXT, TeamsInput
from channels.teams_activity import (MOVED_PREFIX, SEEN_PREFIX, PrivateChats, RecentActivities, RedisPrivateChats,
                                     RedisRecentActivities, StateUnavailable, redis_client, shared_state)
from channels.teams_config import TeamsSettings, TenantMap
from e2e.teams.stubs import FakeConnector, IdentityStub, message_activity, personal_conversation_id

GROUP = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
USER = "29:1a2b3c-teacher-aad-object"


def replicas(url: str) -> list[tuple[RedisRecentActivities, RedisPrivateChats]]:
    """Two replicas' state: separate clients (and connection pools) on the same Redis."""
    clients = [redis_client(url) for _ in range(2)]
    return [(RedisRecentActivities(client), RedisPrivateChats(client)) for client in clients]


def closed_port_url() -> str:
    return f"redis://:secret@127.0.0.1:{free_port()}/0"


# --- retry de-duplication -----------------------------------------------------------------------------------------


def test_an_activity_seen_by_one_replica_is_a_repeat_on_the_other(redis_url: str) -> None:
    (one, _), (two, _) = replicas(redis_url)
    assert one.first_time("teams:abc")
    assert not two.first_time("teams:abc") and not one.first_time("teams:abc")
    assert two.first_time("teams:def"), "another activity is new"
    two.forget("teams:abc")
    assert one.first_time("teams:abc"), "forgotten on one replica: handled again on the other"


def test_two_replicas_offered_the_same_activity_at_once_let_exactly_one_through(redis_url: str) -> None:
    stores = [RedisRecentActivities(redis_client(redis_url)) for _ in range(8)]
    results: list[bool] = []
    start = threading.Barrier(len(stores))

    def offer(store: RedisRecentActivities) -> None:
        start.wait()
        results.append(store.first_time("teams:race"))

    threads = [threading.Thread(target=offer, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_seen_activities_expire_after_their_time_limit(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    default = RedisRecentActivities(client)
    assert default.first_time("teams:hour")
    [key] = client.keys(f"{SEEN_PREFIX}*")
    assert 3590 < client.ttl(key) <= 3600, "an hour, like the in-memory store"
    client.flushall()
    brief = RedisRecentActivities(client, ttl_s=1)
    assert brief.first_time("teams:short") and not brief.first_time("teams:short")
    time.sleep(1.2)
    assert brief.first_time("teams:short"), "forgotten after the time limit"


def test_seen_keys_are_namespaced_and_hashed(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    RedisRecentActivities(client).first_time("teams:0123456789abcdef")
    [key] = client.keys("*")
    assert key.decode().startswith(SEEN_PREFIX) and "0123456789abcdef" not in key.decode()
    assert client.get(key) == b"1"


# --- personal chats people were moved to --------------------------------------------------------------------------


def test_a_move_remembered_by_one_replica_is_known_to_the_other(redis_url: str) -> None:
    (_, one), (_, two) = replicas(redis_url)
    one.remember(TENANT.upper(), USER, "ouston", "a:personal-1")
    assert two.school_for("a:personal-1", TENANT, USER) == "ouston", "tenant ids compare without case"
    assert two.school_for("a:another-chat", TENANT, USER) is None, "only the chat they were moved to"
    assert two.school_for("a:personal-1", TENANT, "29:someone-else") is None, "only the person moved"
    assert two.moved(TENANT, USER, "ouston") and not two.moved(TENANT, USER, "ken-stimpson")
    assert two.school_for(None, TENANT, USER) is None and not two.moved(TENANT, None, "ouston")
    two.remember(TENANT, USER, "ken-stimpson", "a:personal-1")
    assert one.school_for("a:personal-1", TENANT, USER) == "ken-stimpson", "the latest move wins"


def test_moves_are_kept_under_hashed_keys_with_no_message_text(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    RedisPrivateChats(client).remember(TENANT, USER, "ouston", "a:personal-1")
    [key] = client.keys("*")
    name = key.decode()
    assert name.startswith(MOVED_PREFIX) and name == RedisPrivateChats.key(TENANT.upper(), USER)
    assert "teacher" not in name and "1a2b3c" not in name and TENANT not in name, "no raw Teams ids in key names"
    assert json.loads(client.get(key)) == {"conversation_id": "a:personal-1", "school": "ouston"}


def test_a_move_has_a_sliding_time_limit(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    chats = RedisPrivateChats(client)
    chats.remember(TENANT, USER, "ouston", "a:personal-1")
    key = RedisPrivateChats.key(TENANT, USER)
    assert 3590 < client.ttl(key) <= 3600
    client.expire(key, 5)
    assert chats.moved(TENANT, USER, "ouston")
    assert client.ttl(key) > 3590, "in use: the time limit starts again"
    short = RedisPrivateChats(client, ttl_s=1)
    short.remember(TENANT, "29:b", "ouston", "a:personal-b")
    time.sleep(1.2)
    assert short.school_for("a:personal-b", TENANT, "29:b") is None and not short.moved(TENANT, "29:b", "ouston")


# --- Redis unreachable or wrong: fail closed ----------------------------------------------------------------------


def test_an_unreachable_redis_raises_state_unavailable_naming_only_the_error_class() -> None:
    recent, private = shared_state(closed_port_url())
    calls = [lambda: recent.first_time("teams:abc"), lambda: recent.forget("teams:abc"),
             lambda: private.remember(TENANT, USER, "ouston", "a:personal-1"),
             lambda: private.school_for("a:personal-1", TENANT, USER), lambda: private.moved(TENANT, USER, "ouston")]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(StateUnavailable) as raised:
            call()
        assert time.monotonic() - started < 2, "a short timeout, never a hang"
        assert raised.value.cause == "ConnectionError"
        assert str(raised.value) == "the Teams channel's shared state is unavailable (ConnectionError)"


def test_a_wrong_password_or_a_garbled_move_is_unavailable_too(redis_url: str) -> None:
    wrong = redis_url.replace("redis://:", "redis://:wrong", 1)
    with pytest.raises(StateUnavailable):
        shared_state(wrong)[0].first_time("teams:abc")
    client = redis.Redis.from_url(redis_url)
    client.set(RedisPrivateChats.key(TENANT, USER), b"not json")
    with pytest.raises(StateUnavailable) as raised:
        RedisPrivateChats(client).moved(TENANT, USER, "ouston")
    assert "not json" not in str(raised.value)


# --- the factory --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [None, ""], ids=["unset", "empty"])
def test_without_a_url_the_state_stays_in_memory(url: str | None) -> None:
    recent, private = shared_state(url)
    assert type(recent) is RecentActivities and type(private) is PrivateChats


def test_with_a_url_the_state_is_in_redis_and_nothing_is_connected_yet() -> None:
    recent, private = shared_state(closed_port_url())  # a closed port: constructing must not fail
    assert isinstance(recent, RedisRecentActivities) and isinstance(private, RedisPrivateChats)
    assert redis_client(closed_port_url()).connection_pool.connection_kwargs["socket_timeout"] <= 1


# --- through the channel: two replicas sharing one Redis ----------------------------------------------------------


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> StubScreen:
    stub = StubScreen(QUIET)
    monkeypatch.setattr("bot.safeguarding.screen.default_screen", lambda: stub)
    return stub


def replica(identity: IdentityStub, connector: FakeConnector, default_school: str | None = "ken-stimpson"
            ) -> TeamsInput:
    mapping: dict = {"teams": {GROUP: "ouston"}}
    if default_school:
        mapping["school"] = default_school
    tenants = TenantMap.parse({"tenants": {TENANT: mapping}}, "test",
                              SchoolDirectory.load(settings.PROJECT_ROOT / "data" / "schools.yml"))
    return TeamsInput(TeamsSettings(APP_ID, PASSWORD, identity.openid_url, connector.token_url, Path("unused")),
                      tenants)


def test_a_retried_activity_reaching_either_replica_is_answered_once(
        identity: IdentityStub, connector: FakeConnector, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_REDIS_URL", redis_url)
    one, two = replica(identity, connector), replica(identity, connector)
    assert isinstance(one.recent, RedisRecentActivities) and one.recent is not two.recent
    assistant = Assistant()
    body = activity(connector)
    for channel in (one, two, one, two):
        assert post(channel, assistant, body, bearer(identity, connector)).status == 200
    assert len(assistant.messages) == 1 and len(connector.replies_to(body["conversation"]["id"])) == 1


def test_a_move_made_on_one_replica_carries_on_at_that_school_on_the_other(
        identity: IdentityStub, connector: FakeConnector, screen: StubScreen, redis_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A trust tenant without a default school: the personal chat someone was moved to on one replica keeps the
    team's school when their "yes please" lands on the other."""
    monkeypatch.setenv("POLICYBOT_REDIS_URL", redis_url)
    one, two = replica(identity, connector, None), replica(identity, connector, None)
    screen.result = CHECK_IN
    assistant = Assistant(reply="Are you OK? Would you like me to tell someone? (999 in an emergency)")
    post(one, assistant, in_team(connector), bearer(identity, connector))
    personal = personal_conversation_id(TENANT, "29:teacher")
    screen.result = QUIET
    answer = message_activity(connector.service_url, text="yes please", tenant_id=TENANT, user_id="29:teacher",
                              conversation_id=personal)
    post(two, assistant, answer, bearer(identity, connector))
    first, second = assistant.messages
    assert second.metadata["school"] == "ouston" and second.sender_id == first.sender_id
    follow_up = in_team(connector, text="yes")
    post(two, assistant, follow_up, bearer(identity, connector))
    assert len(assistant.messages) == 3 and assistant.messages[2].metadata["teams_conversation_type"] == "personal"
    assert [r.activity["text"] for r in connector.replies_to(follow_up["conversation"]["id"])] == [
        MOVED_TO_PRIVATE_TEXT], "their next channel message moves too, on either replica"


@pytest.mark.parametrize("verdict, conversation_type", [(QUIET, "personal"), (HAND_OFF, "personal"),
                                                        (HAND_OFF, "channel"), (QUIET, "channel")],
                         ids=["question", "disclosure", "disclosure-in-channel", "question-in-channel"])
def test_with_redis_down_the_person_gets_the_kind_reply_and_nothing_reaches_the_assistant(
        identity: IdentityStub, connector: FakeConnector, screen: StubScreen, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, verdict: ScreenResult, conversation_type: str) -> None:
    monkeypatch.setenv("POLICYBOT_REDIS_URL", closed_port_url())
    screen.result = verdict
    channel = replica(identity, connector)
    assistant = Assistant()
    body = (in_team(connector, text="my colleague said a pupil is being hurt at home")
            if conversation_type == "channel" else activity(connector, text="my colleague said a pupil is hurt"))
    with caplog.at_level(logging.INFO, logger="channels.teams"):
        answer = post(channel, assistant, body, bearer(identity, connector))
    assert answer.status == 200 and not assistant.messages and not connector.conversations
    texts = [reply.activity["text"] for reply in connector.replies_to(body["conversation"]["id"])]
    if verdict is QUIET:
        assert texts == [NO_REPLY_TEXT]
    elif conversation_type == "channel":
        assert texts == [PRIVATE_CHAT_FAILED_TEXT.replace("\n", "\n\n")], "nothing about it in front of the team"
    else:
        assert texts == [text.replace("\n", "\n\n") for text in safe_signposting("staff")]
        assert any("999" in text for text in texts)
    alerts = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert alerts == ["ALERT: teams: the shared state in Redis failed (ConnectionError); replied kindly, nothing "
                      "passed to the assistant"]
    assert not any(word in caplog.text for word in ("pupil", "29:teacher", TENANT)), "no text, names or ids logged"
