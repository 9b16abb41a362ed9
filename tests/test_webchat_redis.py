"""The web chat in cluster mode (channels/webchat/cluster.py): bindings shared by two Rasa servers through a real
Redis (the `redis_url` fixture), socket.io's emits and disconnects crossing servers, and the channel failing closed
when Redis cannot be reached."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
import redis
import socketio
from socketio.async_manager import AsyncManager

from bot.safeguarding.types import ScreenResult
from bot.schools import SchoolDirectory
from channels.guard import NO_REPLY_TEXT
from channels.webchat.channel import WebChatInput, WebChatOutput
from channels.webchat.cluster import (BINDING_TTL_S, KEY_PREFIX, SOCKETIO_CHANNEL, RedisBindings, bindings_for,
                                      client_manager_for)
from channels.webchat.formatting import widget_markdown
from channels.webchat.security import Bindings, BindingsUnavailable, Conversation, ConversationSigner
from channels.webchat.settings import WebChatSettings
from redis_process import free_port  # tests/ is on sys.path (rootdir conftest)

SECRET = b"s" * 32
QUIET = ScreenResult("question", "none", "online_safety", 0.9)
HAND_OFF = ScreenResult("disclosure", "high", "physical_abuse", 0.9, signpost=True)
PRIVATE = "a private worry about home"


def conversation(nonce: str = "a" * 32, school: str | None = "ouston", role: str | None = "pupil") -> Conversation:
    return Conversation(nonce, 1_800_000_000, school, role, f"w1.{nonce}.1800000000.{'f' * 64}")


def dead_url() -> str:
    return f"redis://:nopassword@127.0.0.1:{free_port()}/0"


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


async def replicas(url: str, n: int = 2, **kwargs: Any) -> list[RedisBindings]:
    return [RedisBindings.from_url(url, **kwargs) for _ in range(n)]


async def close(*bindings: RedisBindings) -> None:
    for each in bindings:
        await each.close()


# ------------------------------------------------------------------------------------------------ bindings
def test_a_conversation_bound_on_a_second_replica_moves_there_and_names_the_first_socket(redis_url: str) -> None:
    async def scenario() -> None:
        a, b = await replicas(redis_url)
        try:
            assert await a.bind("sid-a", conversation()) is None
            assert await b.bind("sid-b", conversation()) == "sid-a", "the caller disconnects the old socket"
            for replica in (a, b):
                assert await replica.socket_for(conversation().sender_id) == "sid-b"
                assert await replica.conversation("sid-a") is None, "the old socket speaks for nothing now"
            found = await a.conversation("sid-b")
            assert found is not None and found.sender_id == conversation().sender_id
            assert (found.nonce, found.issued, found.school, found.role) == (
                "a" * 32, 1_800_000_000, "ouston", "pupil")
            assert found.token == "", "a token is never stored"
        finally:
            await close(a, b)

    asyncio.run(scenario())


def test_an_old_sockets_unbind_does_not_remove_the_new_owner(redis_url: str) -> None:
    async def scenario() -> None:
        a, b = await replicas(redis_url)
        try:
            await a.bind("sid-old", conversation())
            await b.bind("sid-new", conversation())
            await a.unbind("sid-old")  # the old socket's disconnect arrives late, on its own replica
            assert await a.socket_for(conversation().sender_id) == "sid-new"
            assert await b.conversation("sid-new") is not None
            await b.unbind("sid-new")
            assert await a.socket_for(conversation().sender_id) is None
            assert await a.conversation("sid-new") is None
            assert sync_client(redis_url).keys("*") == []
        finally:
            await close(a, b)

    asyncio.run(scenario())


def test_a_socket_that_starts_another_conversation_leaves_the_first(redis_url: str) -> None:
    async def scenario() -> None:
        (a,) = await replicas(redis_url, 1)
        try:
            await a.bind("sid-1", conversation("a" * 32))
            assert await a.bind("sid-1", conversation("b" * 32)) is None
            assert await a.socket_for(conversation("a" * 32).sender_id) is None
            assert await a.socket_for(conversation("b" * 32).sender_id) == "sid-1"
            assert await a.bind("sid-1", conversation("b" * 32)) is None, "binding again is not a takeover"
        finally:
            await close(a)

    asyncio.run(scenario())


def test_concurrent_binds_on_two_replicas_leave_exactly_one_consistent_owner(redis_url: str) -> None:
    sids = [f"sid-{i}" for i in range(60)]

    async def scenario() -> None:
        a, b = await replicas(redis_url)
        try:
            results = await asyncio.gather(*((a if i % 2 else b).bind(sid, conversation())
                                             for i, sid in enumerate(sids)))
            owner = await a.socket_for(conversation().sender_id)
            assert owner in sids and await b.socket_for(conversation().sender_id) == owner
            assert await b.conversation(owner) is not None
            for sid in sids:
                if sid != owner:
                    assert await a.conversation(sid) is None, f"{sid} still speaks for the conversation"
            # One owner at every step: each bind displaced the one before it, so every socket but the last was
            # named exactly once to be disconnected, and only the very first bind displaced none.
            assert results.count(None) == 1
            displaced = [r for r in results if r is not None]
            assert sorted(displaced + [owner]) == sorted(sids)
        finally:
            await close(a, b)

    asyncio.run(scenario())
    assert len(sync_client(redis_url).keys(f"{KEY_PREFIX}sid:*")) == 1


def test_bindings_expire_and_a_message_keeps_an_active_one_alive(redis_url: str) -> None:
    client = sync_client(redis_url)

    async def scenario() -> None:
        a, b = await replicas(redis_url)
        short = RedisBindings.from_url(redis_url, ttl_s=1)
        try:
            await a.bind("sid-a", conversation())
            sid_key, sender_key = a.sid_key("sid-a"), a.sender_key(conversation().sender_id)
            for key in (sid_key, sender_key):
                assert BINDING_TTL_S - 5 <= client.ttl(key) <= BINDING_TTL_S
            client.expire(sid_key, 30)
            client.expire(sender_key, 30)
            assert await b.conversation("sid-a") is not None  # a message on the socket
            assert client.ttl(sid_key) > 30 and client.ttl(sender_key) > 30, "refreshed"

            await short.bind("sid-s", conversation("c" * 32))
            await asyncio.sleep(1.5)
            assert await short.conversation("sid-s") is None
            assert await short.socket_for(conversation("c" * 32).sender_id) is None
        finally:
            await close(a, b, short)

    asyncio.run(scenario())


def test_only_namespaced_keys_sids_sender_ids_and_the_conversations_fields_are_stored(redis_url: str) -> None:
    client = sync_client(redis_url)
    minted = ConversationSigner(SECRET, 3600).mint("ouston", "parent")
    mac = minted.token.rsplit(".", 1)[1]

    async def scenario() -> None:
        (a,) = await replicas(redis_url, 1)
        try:
            await a.bind("sid-a", minted)
        finally:
            await close(a)

    asyncio.run(scenario())
    keys = sorted(client.keys("*"))
    assert keys == [f"policybot:webchat:sender:{minted.sender_id}", "policybot:webchat:sid:sid-a"]
    assert client.get(keys[0]) == "sid-a"
    assert client.hgetall(keys[1]) == {"sender": minted.sender_id, "nonce": minted.nonce,
                                       "issued": str(minted.issued), "school": "ouston", "role": "parent"}
    assert mac not in repr(client.hgetall(keys[1]))


def test_an_unreachable_redis_raises_bindings_unavailable_naming_only_the_error_class() -> None:
    url = dead_url()

    async def scenario() -> None:
        (a,) = await replicas(url, 1)
        try:
            for call in (a.bind("sid", conversation()), a.unbind("sid"), a.conversation("sid"),
                         a.socket_for(conversation().sender_id)):
                with pytest.raises(BindingsUnavailable) as raised:
                    await call
                assert raised.value.kind == "ConnectionError"
                assert url.split("@")[1] not in str(raised.value) and "nopassword" not in str(raised.value)
        finally:
            await close(a)

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 10


def test_without_a_redis_url_the_bindings_stay_in_memory_with_socketios_own_manager(redis_url: str) -> None:
    assert isinstance(bindings_for(None), Bindings)
    assert client_manager_for(None) is None and client_manager_for("") is None
    assert isinstance(bindings_for(redis_url), RedisBindings)
    manager = client_manager_for(redis_url)
    assert isinstance(manager, socketio.AsyncRedisManager) and manager.channel == SOCKETIO_CHANNEL


def test_the_channel_uses_redis_only_when_given_a_url(redis_url: str) -> None:
    embedded = channel(None)
    embedded.blueprint(never_called)
    assert isinstance(embedded.bindings, Bindings)
    assert type(embedded.sio.manager) is AsyncManager

    cluster = channel(redis_url)
    cluster.blueprint(never_called)
    assert isinstance(cluster.bindings, RedisBindings)
    assert isinstance(cluster.sio.manager, socketio.AsyncRedisManager)
    assert cluster.sio.manager.channel == SOCKETIO_CHANNEL


def test_from_credentials_reads_the_redis_url_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                                    redis_url: str) -> None:
    import channels.webchat.channel as module

    monkeypatch.setattr(module, "server_secret", lambda: SECRET)
    monkeypatch.setenv("POLICYBOT_REDIS_URL", redis_url)
    assert isinstance(WebChatInput.from_credentials({}).bindings, RedisBindings)
    monkeypatch.delenv("POLICYBOT_REDIS_URL")
    assert isinstance(WebChatInput.from_credentials({}).bindings, Bindings)


# ------------------------------------------------------------------------------------------------ the channel
async def never_called(_: Any) -> None:
    raise AssertionError("the message must not reach Rasa")


def channel(redis_url: str | None) -> WebChatInput:
    return WebChatInput(WebChatSettings(), SECRET, SchoolDirectory([]), redis_url=redis_url)


class Replica:
    """One server's channel with its socket.io I/O recorded instead of sent (the handlers are the real ones)."""

    def __init__(self, redis_url: str | None, on_new_message: Any = never_called) -> None:
        self.channel = channel(redis_url)
        self.channel.blueprint(on_new_message)
        self.sio = self.channel.sio
        self.emitted: list[tuple[str, Any, str]] = []
        self.disconnected: list[str] = []

        async def emit(event: str, data: Any = None, room: str | None = None, **_: Any) -> None:
            self.emitted.append((event, data, room))

        async def disconnect(sid: str, **_: Any) -> None:
            self.disconnected.append(sid)

        async def get_session(sid: str, **_: Any) -> dict[str, Any]:
            return {"school": None, "role": None}

        self.sio.emit, self.sio.disconnect, self.sio.get_session = emit, disconnect, get_session  # type: ignore

    async def on(self, event: str, sid: str, data: Any = None) -> None:
        await self.sio.handlers["/"][event](sid, data)

    def texts(self, sid: str) -> list[str]:
        return [data.get("text") for event, data, room in self.emitted if event == "bot_uttered" and room == sid]


def test_two_replicas_share_one_conversation_through_redis(redis_url: str, screen: list[ScreenResult]) -> None:
    turns: list[str] = []

    async def assistant(message: Any) -> None:
        turns.append(message.sender_id)
        await message.output_channel.send_text_message(message.sender_id, "An answer.")

    async def scenario() -> None:
        a, b = Replica(redis_url), Replica(redis_url, assistant)
        await a.on("session_request", "sid-a")
        (token,) = [data for event, data, _ in a.emitted if event == "session_confirm"]
        await b.on("session_request", "sid-b", {"session_id": token})
        assert b.disconnected == ["sid-a"], "the other replica's socket is disconnected (through the manager)"
        await a.on("user_uttered", "sid-a", {"message": "hello"})
        assert ("message_refused", {"reason": "no_session"}, "sid-a") in a.emitted
        await b.on("user_uttered", "sid-b", {"message": "hello"})
        assert turns == ["web-" + token.split(".")[1]] and b.texts("sid-b") == ["An answer."]
        await b.on("disconnect", "sid-b")
        await a.on("disconnect", "sid-a")
        assert sync_client(redis_url).keys("*") == []
        await close(a.channel.bindings, b.channel.bindings)  # type: ignore[arg-type]

    asyncio.run(scenario())


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> list[ScreenResult]:
    verdict = [QUIET]

    class Stub:
        def screen(self, text: str, role: str | None = None) -> ScreenResult:
            return verdict[0]

    monkeypatch.setattr("bot.safeguarding.screen.default_screen", lambda: Stub())
    return verdict


@pytest.mark.parametrize("risky", [False, True])
def test_a_message_while_redis_is_unreachable_gets_the_kind_reply_and_an_alert(
        screen: list[ScreenResult], caplog: pytest.LogCaptureFixture, risky: bool) -> None:
    screen[0] = HAND_OFF if risky else QUIET
    replica = Replica(dead_url())
    caplog.set_level(logging.INFO)
    asyncio.run(replica.on("user_uttered", "sid-a", {"message": PRIVATE, "customData": {"role": "pupil"}}))
    replies = "\n".join(replica.texts("sid-a"))
    if risky:
        assert "999" in replies and "0800 1111" in replies
    else:
        assert replica.texts("sid-a") == [widget_markdown(NO_REPLY_TEXT)]
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert alerts and "(ConnectionError)" in alerts[0]
    assert all(PRIVATE not in r.getMessage() for r in caplog.records)
    asyncio.run(close(replica.channel.bindings))  # type: ignore[arg-type]


def test_a_session_request_while_redis_is_unreachable_starts_nothing_and_is_answered_kindly(
        caplog: pytest.LogCaptureFixture) -> None:
    replica = Replica(dead_url())
    asyncio.run(replica.on("session_request", "sid-a"))
    assert [event for event, _, _ in replica.emitted] == ["bot_uttered"]
    assert replica.texts("sid-a") == [widget_markdown(NO_REPLY_TEXT)]
    assert any(r.getMessage().startswith("ALERT") and "(ConnectionError)" in r.getMessage() for r in caplog.records)
    asyncio.run(close(replica.channel.bindings))  # type: ignore[arg-type]


class Unreachable(Bindings):
    async def socket_for(self, sender_id: str) -> str | None:
        raise BindingsUnavailable(ConnectionError())


def test_mid_turn_replies_go_only_to_the_turns_own_socket_and_none_outside_a_turn() -> None:
    sent: list[tuple[str, Any, str]] = []

    class Sio:
        async def emit(self, event: str, data: Any, room: str) -> None:
            sent.append((event, data, room))

    async def scenario() -> None:
        await WebChatOutput(Sio(), "bot_uttered", Unreachable(), turn_sid="sid-turn").send_text_message("web-x", "hi")
        await WebChatOutput(Sio(), "bot_uttered", Unreachable()).send_text_message("web-x", "reminder")

    asyncio.run(scenario())
    assert sent == [("bot_uttered", {"text": "hi"}, "sid-turn")]


# ------------------------------------------------------------------------------------------------ socket.io
def test_an_emit_and_a_disconnect_for_a_socket_on_another_server_reach_it_through_redis(redis_url: str) -> None:
    async def scenario() -> None:
        servers = [socketio.AsyncServer(async_mode="asgi", client_manager=client_manager_for(redis_url))
                   for _ in range(2)]
        a, b = servers
        for server in servers:
            server.manager.initialize()  # what the first connection does; starts the listener
        packets: list[Any] = []
        disconnected: list[str] = []

        async def send_eio_packet(eio_sid: str, packet: Any) -> None:
            packets.append((eio_sid, packet.data))

        async def send_packet(eio_sid: str, packet: Any) -> None:
            packets.append((eio_sid, "disconnect-packet"))

        b._send_eio_packet, b._send_packet = send_eio_packet, send_packet  # type: ignore[method-assign]
        b.on("disconnect", lambda sid, *_: disconnected.append(sid))
        sid_b = await b.manager.connect("eio-b", "/")
        probe = redis.asyncio.Redis.from_url(redis_url)
        try:
            deadline = time.monotonic() + 10
            while dict(await probe.pubsub_numsub(SOCKETIO_CHANNEL)).get(SOCKETIO_CHANNEL.encode(), 0) < 2:
                assert time.monotonic() < deadline, "the servers did not subscribe"
                await asyncio.sleep(0.05)

            assert not a.manager.is_connected(sid_b, "/"), "the socket lives on server b only"
            await a.emit("bot_uttered", {"text": "a reply"}, room=sid_b)
            while not packets and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert len(packets) == 1 and packets[0][0] == "eio-b" and "a reply" in packets[0][1]

            await a.disconnect(sid_b)
            while not disconnected and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert disconnected == [sid_b] and packets[-1] == ("eio-b", "disconnect-packet")
            assert not b.manager.is_connected(sid_b, "/")
        finally:
            for server in servers:
                server.manager.thread.cancel()
                await asyncio.gather(server.manager.thread, return_exceptions=True)
                await server.manager.redis.close(close_connection_pool=True)
            await probe.close(close_connection_pool=True)

    asyncio.run(scenario())
