"""Read an inbound Bot Framework activity from Teams: who, where, which tenant and team, and the text (no Rasa).

Also the two ids the channel derives from it: the message id (stable across the Connector's retries of the same
activity, so a concern record is never written twice and a retry is not answered twice) and the conversation id
Rasa keys the tracker by (a keyed hash, so the REST channel -- where anyone picks their own sender id -- cannot
name a Teams user's conversation, and no Teams user id is stored).

And the channel's short-lived state: the message ids seen lately and the personal chats people were moved to. In
memory for one server (the embedded default); in Redis when POLICYBOT_REDIS_URL is set (cluster mode), because with
two replicas behind a load balancer a retry or a follow-up may reach the other replica. `shared_state` picks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

MAX_ID_CHARS = 512


class ActivityError(ValueError):
    """The activity lacks a field the channel needs; the message names the field, never a value."""


def _get(body: Mapping[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _required(body: Mapping[str, Any], path: str) -> str:
    value = _get(body, path)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
        raise ActivityError(f"the activity has no usable '{path}'")
    return value


def _optional(body: Mapping[str, Any], path: str) -> str | None:
    value = _get(body, path)
    return value if isinstance(value, str) and value.strip() and len(value) <= MAX_ID_CHARS else None


@dataclass(frozen=True)
class Activity:
    """The parts of an inbound activity the channel uses (the raw body is not kept)."""

    type: str
    id: str | None
    channel_id: str | None
    service_url: str | None
    conversation_id: str | None
    conversation_type: str | None
    user_id: str | None
    bot_id: str | None
    tenant_id: str | None
    team_ids: tuple[str, ...]
    text: str = field(repr=False)

    @classmethod
    def parse(cls, body: Any) -> "Activity":
        """Read `body`; ActivityError if it is not an activity, or a message activity lacks what a reply needs."""
        if not isinstance(body, Mapping):
            raise ActivityError("the request body is not a JSON object")
        kind = _required(body, "type")
        is_message = kind == "message"
        pick = _required if is_message else _optional
        return cls(
            type=kind,
            id=pick(body, "id"),
            channel_id=_optional(body, "channelId"),
            service_url=_required(body, "serviceUrl"),
            conversation_id=pick(body, "conversation.id"),
            conversation_type=_optional(body, "conversation.conversationType"),
            user_id=pick(body, "from.id"),
            bot_id=pick(body, "recipient.id"),
            tenant_id=tenant_of(body),
            team_ids=tuple(t for t in (_optional(body, "channelData.team.aadGroupId"),
                                       _optional(body, "channelData.team.id")) if t),
            text=message_text(body) if is_message else "",
        )


def tenant_of(body: Mapping[str, Any]) -> str | None:
    """The Microsoft 365 tenant id (channelData.tenant.id, else conversation.tenantId); None if they disagree."""
    from_channel_data = _optional(body, "channelData.tenant.id")
    from_conversation = _optional(body, "conversation.tenantId")
    if from_channel_data and from_conversation and from_channel_data.lower() != from_conversation.lower():
        return None  # contradictory: treat as unknown rather than guess
    return from_channel_data or from_conversation


def message_text(body: Mapping[str, Any]) -> str:
    """The user's words: the text without the "@bot" mention Teams puts in channel messages; for a card action
    without text, the payload it carries."""
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    bot_id = _optional(body, "recipient.id")
    for entity in body.get("entities") or ():
        if (isinstance(entity, Mapping) and entity.get("type") == "mention"
                and _get(entity, "mentioned.id") == bot_id and isinstance(entity.get("text"), str)):
            text = text.replace(entity["text"], " ")
    text = text.strip()
    if not text:
        value = body.get("value")
        payload = value.get("payload") if isinstance(value, Mapping) else None
        if isinstance(payload, str):
            text = payload.strip()
    return text


def message_id(activity: Activity) -> str | None:
    """A stable id for this activity across the Connector's retries (activity ids are unique per conversation)."""
    if not activity.id or not activity.conversation_id:
        return None
    digest = hashlib.sha256(f"{activity.conversation_id}\n{activity.id}".encode("utf-8")).hexdigest()
    return f"teams:{digest[:48]}"


def sender_id(secret: str, tenant_id: str, user_id: str, school: str) -> str:
    """Rasa's conversation id for a Teams user at a school: HMAC-SHA256 keyed by the app password.

    Per school too, so someone in two teams mapped to two schools has two conversations, each with its own school.
    """
    mac = hmac.new(secret.encode("utf-8"), f"{tenant_id.lower()}\n{user_id}\n{school}".encode("utf-8"),
                   hashlib.sha256)
    return f"teams-{mac.hexdigest()[:40]}"


class RecentActivities:
    """The message ids seen lately (bounded, with a time limit), so a retried activity is handled once."""

    def __init__(self, capacity: int = 10_000, ttl_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._clock = clock

    def first_time(self, key: str) -> bool:
        """True the first time `key` is offered within the time limit (and remembers it); False for a repeat."""
        now = self._clock()
        while self._seen:
            oldest, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self._ttl_s and len(self._seen) < self._capacity:
                break
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def forget(self, key: str) -> None:
        """Let `key` be handled again (its first attempt failed before reaching the assistant)."""
        self._seen.pop(key, None)


@dataclass
class _Move:
    conversation_id: str
    school: str
    at: float


class _MoveRules:
    """What a remembered move means, the same wherever the moves are kept: subclasses find a person's move."""

    def _find(self, tenant_id: str, user_id: str) -> tuple[str, str] | None:
        """(conversation id, school) of this person's fresh move, restarting its time limit; None if none."""
        raise NotImplementedError

    def school_for(self, conversation_id: str | None, tenant_id: str | None, user_id: str | None) -> str | None:
        """The school a personal chat was moved to, if this is that person's moved-to chat and it is still fresh."""
        if not conversation_id or not tenant_id or not user_id:
            return None
        move = self._find(tenant_id, user_id)
        return move[1] if move is not None and move[0] == conversation_id else None

    def moved(self, tenant_id: str | None, user_id: str | None, school: str) -> bool:
        """True while this person's conversation at `school` is carried on in a personal chat."""
        if not tenant_id or not user_id:
            return False
        move = self._find(tenant_id, user_id)
        return move is not None and move[1] == school


class PrivateChats(_MoveRules):
    """The personal chats the channel moved people to from a team channel or group chat (bounded, in memory, with a
    sliding time limit), so that for a while their conversation carries on there at the school the channel was
    placed at -- a trust tenant's team may belong to a school its personal chats would not be placed at, or to none
    -- and their next message in that shared conversation moves too (a quiet "yes" there may be the answer to
    "shall I tell someone?"). Keyed by tenant and Teams user: Teams keeps one personal chat per person and bot.
    Nothing here is written anywhere; a restart forgets it (personal chats then use the tenant's school). With
    several replicas, RedisPrivateChats keeps the same in Redis."""

    def __init__(self, capacity: int = 10_000, ttl_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._moves: OrderedDict[tuple[str, str], _Move] = OrderedDict()
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._clock = clock

    def _live(self, tenant_id: str, user_id: str) -> _Move | None:
        now = self._clock()
        while self._moves:
            oldest = next(iter(self._moves.values()))
            if now - oldest.at <= self._ttl_s and len(self._moves) <= self._capacity:
                break
            self._moves.popitem(last=False)
        key = (tenant_id.lower(), user_id)
        move = self._moves.get(key)
        if move is not None:  # in use: the time limit starts again
            move.at = now
            self._moves.move_to_end(key)
        return move

    def remember(self, tenant_id: str, user_id: str, school: str, conversation_id: str) -> None:
        """`user_id` (in `tenant_id`) now talks about `school` in the personal chat `conversation_id`."""
        self._live(tenant_id, user_id)
        self._moves[(tenant_id.lower(), user_id)] = _Move(conversation_id, school, self._clock())
        self._moves.move_to_end((tenant_id.lower(), user_id))
        self._live(tenant_id, user_id)  # trims to capacity

    def _find(self, tenant_id: str, user_id: str) -> tuple[str, str] | None:
        move = self._live(tenant_id, user_id)
        return (move.conversation_id, move.school) if move is not None else None


# --------------------------------------------------------------------------------- shared by replicas: Redis

SEEN_PREFIX = "policybot:teams:seen:"
MOVED_PREFIX = "policybot:teams:moved:"
#: Connect and read timeout: Redis answers in well under a millisecond on the cluster's network.
REDIS_TIMEOUT_S = 0.5


class StateUnavailable(RuntimeError):
    """Redis could not be reached or gave a bad answer: the channel can tell neither whether an activity is new or a
    retry, nor whether its sender was moved to a personal chat, so it fails closed (channels/teams.py answers kindly
    and passes nothing on). The message names the error's class only, never a key or a value."""

    def __init__(self, error: BaseException) -> None:
        self.cause = type(error).__name__
        super().__init__(f"the Teams channel's shared state is unavailable ({self.cause})")


class SeenActivities(Protocol):
    """RecentActivities or RedisRecentActivities."""

    def first_time(self, key: str) -> bool: ...

    def forget(self, key: str) -> None: ...


class MovedChats(Protocol):
    """PrivateChats or RedisPrivateChats."""

    def remember(self, tenant_id: str, user_id: str, school: str, conversation_id: str) -> None: ...

    def school_for(self, conversation_id: str | None, tenant_id: str | None, user_id: str | None) -> str | None: ...

    def moved(self, tenant_id: str | None, user_id: str | None, school: str) -> bool: ...


def _digest(*parts: str) -> str:
    """A key-name part that names no Teams id (ids are hashed; values hold no message text either)."""
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def redis_client(url: str) -> redis.Redis:
    """A client for the cluster's Redis; nothing is connected until the first command.

    Synchronous on purpose, although the channel is async: each call is one round trip of well under a millisecond,
    bounded by REDIS_TIMEOUT_S when Redis is unwell (Rasa's own Redis lock and tracker stores also call Redis
    synchronously from the event loop), and a sync client is not tied to one event loop. Commands are never retried
    (a retried SET NX could find its own first attempt and drop a new message as a repeat); only the health check
    PING before reusing an idle connection is, so a Redis restart does not fail the next message."""
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S,
                                health_check_interval=10, retry=Retry(NoBackoff(), 1))


class RedisRecentActivities:
    """RecentActivities in Redis, shared by every replica: a retry that reaches another replica is still a repeat.
    Atomic (SET NX), so two replicas handed the same activity at once answer it once; bounded by the TTL (and the
    server's maxmemory), not by a count."""

    def __init__(self, client: redis.Redis, ttl_s: int = 3600) -> None:
        self._client = client
        self._ttl_s = ttl_s

    def first_time(self, key: str) -> bool:
        """True the first time `key` is offered within the time limit (and remembers it); False for a repeat;
        StateUnavailable when Redis cannot say."""
        try:
            return bool(self._client.set(SEEN_PREFIX + _digest(key), b"1", nx=True, ex=self._ttl_s))
        except redis.RedisError as error:
            raise StateUnavailable(error) from None

    def forget(self, key: str) -> None:
        """Let `key` be handled again (its first attempt failed before reaching the assistant)."""
        try:
            self._client.delete(SEEN_PREFIX + _digest(key))
        except redis.RedisError as error:
            raise StateUnavailable(error) from None


class RedisPrivateChats(_MoveRules):
    """PrivateChats in Redis, shared by every replica: the person's next message, on whichever replica, carries on
    at the school they were moved to. One key per person (tenant, Teams user; hashed) holding
    {"conversation_id", "school"}, with a time limit that restarts whenever it is read."""

    def __init__(self, client: redis.Redis, ttl_s: int = 3600) -> None:
        self._client = client
        self._ttl_s = ttl_s

    @staticmethod
    def key(tenant_id: str, user_id: str) -> str:
        return MOVED_PREFIX + _digest(tenant_id.lower(), user_id)

    def remember(self, tenant_id: str, user_id: str, school: str, conversation_id: str) -> None:
        """`user_id` (in `tenant_id`) now talks about `school` in the personal chat `conversation_id`."""
        value = json.dumps({"conversation_id": conversation_id, "school": school})
        try:
            self._client.set(self.key(tenant_id, user_id), value, ex=self._ttl_s)
        except redis.RedisError as error:
            raise StateUnavailable(error) from None

    def _find(self, tenant_id: str, user_id: str) -> tuple[str, str] | None:
        key = self.key(tenant_id, user_id)
        try:
            # GET and EXPIRE in one MULTI/EXEC (GETEX would need Redis 6.2): in use, the time limit starts again.
            with self._client.pipeline(transaction=True) as pipe:
                raw, _ = pipe.get(key).expire(key, self._ttl_s).execute()
            if raw is None:
                return None
            move = json.loads(raw)
            return str(move["conversation_id"]), str(move["school"])
        except (redis.RedisError, ValueError, KeyError, TypeError) as error:
            raise StateUnavailable(error) from None


def shared_state(redis_url: str | None) -> tuple[SeenActivities, MovedChats]:
    """The channel's recent activities and moved chats: in Redis when `redis_url` is set (cluster mode, every
    replica sees the same), else in memory (one server)."""
    if not redis_url:
        return RecentActivities(), PrivateChats()
    client = redis_client(redis_url)
    return RedisRecentActivities(client), RedisPrivateChats(client)
