"""Read an inbound Bot Framework activity from Teams: who, where, which tenant and team, and the text (no Rasa).

Also the two ids the channel derives from it: the message id (stable across the Connector's retries of the same
activity, so a concern record is never written twice and a retry is not answered twice) and the conversation id
Rasa keys the tracker by (a keyed hash, so the REST channel -- where anyone picks their own sender id -- cannot
name a Teams user's conversation, and no Teams user id is stored).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

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


class PrivateChats:
    """The personal chats the channel moved people to from a team channel or group chat (bounded, in memory, with a
    sliding time limit), so that for a while their conversation carries on there at the school the channel was
    placed at -- a trust tenant's team may belong to a school its personal chats would not be placed at, or to none
    -- and their next message in that shared conversation moves too (a quiet "yes" there may be the answer to
    "shall I tell someone?"). Keyed by tenant and Teams user: Teams keeps one personal chat per person and bot.
    Nothing here is written anywhere; a restart forgets it (personal chats then use the tenant's school)."""

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

    def school_for(self, conversation_id: str | None, tenant_id: str | None, user_id: str | None) -> str | None:
        """The school a personal chat was moved to, if this is that person's moved-to chat and it is still fresh."""
        if not conversation_id or not tenant_id or not user_id:
            return None
        move = self._live(tenant_id, user_id)
        return move.school if move is not None and move.conversation_id == conversation_id else None

    def moved(self, tenant_id: str | None, user_id: str | None, school: str) -> bool:
        """True while this person's conversation at `school` is carried on in a personal chat."""
        if not tenant_id or not user_id:
            return False
        move = self._live(tenant_id, user_id)
        return move is not None and move.school == school
