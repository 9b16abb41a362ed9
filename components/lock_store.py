"""Rasa's Redis lock store with every change to a lock made atomically, so two Rasa replicas cannot interleave one
conversation.

Rasa 3.6's `RedisLockStore` keeps each conversation's ticket lock as one JSON value and changes it by read, change,
write (`issue_ticket`, `update_lock`, `finish_serving`, `cleanup`). Two replicas that take a ticket for the same
conversation at the same moment both read the lock with last ticket N, both write N+1, and both believe they are
being served: two turns of one conversation then run at once, each reading the tracker before the other wrote it,
and one turn's events (a disclosure's hand-off, say) are lost or doubled. `cleanup` also deletes the lock after
asking "is anyone waiting?", so a ticket issued in between by another replica is thrown away.

Here each read-change-write runs as a Redis optimistic transaction (WATCH the key, read, MULTI, write, EXEC; redo
if another client changed the key meanwhile): redis-py's `Redis.transaction`. The lock format, key names and
waiting loop stay Rasa's, so replicas of this class and the stock one would share locks (do not mix them: the stock
one still races). A lock key also expires an hour after its last change, so one left behind by a replica killed
mid-turn is not kept forever (its tickets expire after Rasa's lock lifetime anyway).

endpoints (cluster mode, artifacts/cluster/endpoints.yml):
    lock_store: {type: components.lock_store.AtomicRedisLockStore, url: 127.0.0.1, port: …, password: …, db: 1}
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

#: Seconds a lock key outlives its last change (a conversation's turn holds it for well under a minute).
KEY_EXPIRY_S = 3600


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose lock changes are atomic across processes (module docstring)."""

    def __init__(self, host: str = "localhost", endpoint_config: Optional[EndpointConfig] = None,
                 **kwargs: Any) -> None:
        # Rasa builds a custom lock store from its endpoint config alone (`type`, `url`, then the other keys);
        # tests pass the keys directly. The parent converts `port` and `db`, which YAML may give as strings.
        if endpoint_config is not None:
            host, kwargs = endpoint_config.url or host, {**endpoint_config.kwargs, **kwargs}
        super().__init__(host=host, **kwargs)

    def _change(self, conversation_id: str, change: Callable[[Optional[TicketLock]], Optional[TicketLock]]) -> None:
        """Apply `change` to the stored lock atomically: it gets the lock (None if there is none) and returns the
        lock to store, or None to delete it. Rerun from the read if another client changed the key meanwhile."""
        key = self.key_prefix + conversation_id

        def attempt(pipe: Any) -> None:
            raw = pipe.get(key)
            current = TicketLock.from_dict(json.loads(raw)) if raw else None
            updated = change(current)
            pipe.multi()
            if updated is None:
                pipe.delete(key)
            else:
                pipe.set(key, updated.dumps(), ex=KEY_EXPIRY_S)

        self.red.transaction(attempt, key)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        issued: list[int] = []

        def take(lock: Optional[TicketLock]) -> TicketLock:
            lock = lock or TicketLock(conversation_id)
            issued[:] = [lock.issue_ticket(lock_lifetime)]  # a retried attempt replaces its first number
            return lock

        try:
            self._change(conversation_id, take)
        except Exception as problem:  # Rasa's own contract: any storage failure is a LockError
            raise LockError(f"Error while acquiring lock: {type(problem).__name__}") from None
        return issued[0]

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> Optional[TicketLock]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: Optional[TicketLock]) -> Optional[TicketLock]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Finish `ticket_number` and delete the lock if nobody else holds a ticket, in one step (Rasa does these
        in three, between which another replica's new ticket can be deleted)."""

        def finish_and_tidy(lock: Optional[TicketLock]) -> Optional[TicketLock]:
            if lock is None:
                return None
            lock.remove_ticket_for(ticket_number)
            return lock if lock.is_someone_waiting() else None

        self._change(conversation_id, finish_and_tidy)

