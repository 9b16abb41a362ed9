"""The web chat in cluster mode: several Rasa servers behind nginx, sharing one Redis (POLICYBOT_REDIS_URL).

nginx keeps each socket on one server (sticky sessions for socket.io long-polling), but one conversation may be
open on two servers at once (two tabs), and the socket it must reply to, or disconnect, may be on the other one.
So with a Redis URL the channel

  * gives its socket.io server an `AsyncRedisManager` on a channel of its own: an emit or a disconnect addressed to
    a socket on another server is published there and that server delivers it. Reply text crosses Redis in
    transit (pub/sub) and is never stored there;
  * keeps the bindings (`security.SocketBindings`) in Redis: `RedisBindings`. It stores sids, sender ids (already
    pseudonymous: `web-<nonce>`) and the conversation's nonce, issue time, school and role; never a token's
    signature, never message text. Each change is one Lua script, so two servers binding one conversation at the
    same moment leave exactly one owner; every key expires (BINDING_TTL_S after the last bind or message), so a
    server that crashed leaves nothing behind for long.

Without a URL (the embedded default, `make run`) nothing here is used: in-memory `Bindings`, socket.io's own
manager. The keys are computed inside the scripts, so this needs one Redis (or Sentinel), not Redis Cluster.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, TypeVar

import socketio
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from channels.webchat.security import Bindings, BindingsUnavailable, Conversation, SocketBindings

#: Every key this module writes starts with this.
KEY_PREFIX = "policybot:webchat:"
#: The socket.io pub/sub channel every server of the cluster listens on (the library's default is "socketio").
SOCKETIO_CHANNEL = "policybot:webchat:socketio"
#: A binding outlives its last bind or message by this long, then Redis drops it.
BINDING_TTL_S = 24 * 3600
#: An unreachable Redis fails a message in seconds (the person gets the kind reply), not a TCP timeout's minutes.
CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 2.0

T = TypeVar("T")

# ARGV: prefix, sid, sender id, ttl, nonce, issued, school, role. KEYS: the sid's key, the sender's key.
_BIND = """
local prefix, sid, ttl = ARGV[1], ARGV[2], tonumber(ARGV[4])
local before = redis.call('HGET', KEYS[1], 'sender')
if before then
  local before_key = prefix .. 'sender:' .. before
  if redis.call('GET', before_key) == sid then redis.call('DEL', before_key) end
end
local previous = redis.call('GET', KEYS[2])
if previous then redis.call('DEL', prefix .. 'sid:' .. previous) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'sender', ARGV[3], 'nonce', ARGV[5], 'issued', ARGV[6], 'school', ARGV[7],
           'role', ARGV[8])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], sid, 'EX', ttl)
return previous
"""
# ARGV: prefix, sid. KEYS: the sid's key. The conversation keeps its owner unless the owner is this sid.
_UNBIND = """
local sender = redis.call('HGET', KEYS[1], 'sender')
if sender then
  local owner_key = ARGV[1] .. 'sender:' .. sender
  if redis.call('GET', owner_key) == ARGV[2] then redis.call('DEL', owner_key) end
  redis.call('DEL', KEYS[1])
end
return 0
"""
# ARGV: prefix, sid, ttl. KEYS: the sid's key. A message keeps an active conversation's binding alive.
_CONVERSATION = """
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then return record end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local owner_key = ARGV[1] .. 'sender:' .. redis.call('HGET', KEYS[1], 'sender')
if redis.call('GET', owner_key) == ARGV[2] then redis.call('EXPIRE', owner_key, ARGV[3]) end
return record
"""


class RedisBindings:
    """`SocketBindings` in Redis, shared by every server of a cluster. Raises `BindingsUnavailable` when Redis
    cannot be reached. The conversations it returns carry no token (`token == ""`): the server never stores one,
    and a binding only needs the conversation's sender id, school and role."""

    def __init__(self, client: aioredis.Redis, ttl_s: int = BINDING_TTL_S, prefix: str = KEY_PREFIX) -> None:
        self._redis = client
        self.ttl_s = int(ttl_s)
        self.prefix = prefix
        self._bind = client.register_script(_BIND)
        self._unbind = client.register_script(_UNBIND)
        self._conversation = client.register_script(_CONVERSATION)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "RedisBindings":
        client = aioredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT_S,
                                         socket_timeout=COMMAND_TIMEOUT_S)
        return cls(client, **kwargs)

    def sid_key(self, sid: str) -> str:
        return f"{self.prefix}sid:{sid}"

    def sender_key(self, sender_id: str) -> str:
        return f"{self.prefix}sender:{sender_id}"

    async def bind(self, sid: str, conversation: Conversation) -> str | None:
        previous = await self._call(self._bind(
            keys=[self.sid_key(sid), self.sender_key(conversation.sender_id)],
            args=[self.prefix, sid, conversation.sender_id, self.ttl_s, conversation.nonce, conversation.issued,
                  conversation.school or "", conversation.role or ""]))
        return previous or None

    async def unbind(self, sid: str) -> None:
        await self._call(self._unbind(keys=[self.sid_key(sid)], args=[self.prefix, sid]))

    async def conversation(self, sid: str) -> Conversation | None:
        flat = await self._call(self._conversation(keys=[self.sid_key(sid)], args=[self.prefix, sid, self.ttl_s]))
        if not flat:
            return None
        record = dict(zip(flat[::2], flat[1::2]))
        return Conversation(record["nonce"], int(record["issued"]), record["school"] or None,
                            record["role"] or None, token="")

    async def socket_for(self, sender_id: str) -> str | None:
        return await self._call(self._redis.get(self.sender_key(sender_id)))

    async def close(self) -> None:
        await self._redis.close(close_connection_pool=True)

    @staticmethod
    async def _call(pending: Awaitable[T]) -> T:
        try:
            return await pending
        except (RedisError, OSError, asyncio.TimeoutError) as error:
            raise BindingsUnavailable(error) from error


def bindings_for(redis_url: str | None) -> SocketBindings:
    """Redis-backed bindings in cluster mode, in-memory ones otherwise."""
    return RedisBindings.from_url(redis_url) if redis_url else Bindings()


def client_manager_for(redis_url: str | None) -> socketio.AsyncRedisManager | None:
    """The socket.io client manager for cluster mode (None: socket.io's own, in-memory one)."""
    if not redis_url:
        return None
    # Only a connect timeout: the listening connection waits for messages indefinitely by design.
    return socketio.AsyncRedisManager(redis_url, channel=SOCKETIO_CHANNEL,
                                      redis_options={"socket_connect_timeout": CONNECT_TIMEOUT_S})
