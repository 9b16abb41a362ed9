"""Two Rasa replicas' lock stores on one real Redis cannot both serve one conversation at once
(components/lock_store.py); Rasa's stock RedisLockStore can, which is why ours exists."""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import urlsplit

import pytest
from rasa.core.lock_store import RedisLockStore

from components.lock_store import KEY_EXPIRY_S, AtomicRedisLockStore


def _store(redis_url: str, kind: type[RedisLockStore] = AtomicRedisLockStore) -> RedisLockStore:
    parts = urlsplit(redis_url)
    return kind(host=parts.hostname, port=str(parts.port), password=parts.password, db="1", key_prefix="policybot")


def test_stock_store_gives_two_replicas_the_same_ticket_when_they_read_together(redis_url: str) -> None:
    """The race this module fixes, shown deterministically: both read the lock, then both write."""
    first, second = _store(redis_url, RedisLockStore), _store(redis_url, RedisLockStore)
    lock_a, lock_b = first.get_or_create_lock("c1"), second.get_or_create_lock("c1")
    ticket_a, ticket_b = lock_a.issue_ticket(60), lock_b.issue_ticket(60)
    first.save_lock(lock_a)
    second.save_lock(lock_b)
    assert ticket_a == ticket_b == 0  # Rasa numbers tickets from 0
    assert not first.get_lock("c1").is_locked(ticket_a) and not second.get_lock("c1").is_locked(ticket_b)


def test_a_write_between_read_and_write_makes_the_transaction_start_again(redis_url: str,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = _store(redis_url), _store(redis_url)
    real_issue = __import__("rasa.core.lock", fromlist=["TicketLock"]).TicketLock.issue_ticket
    interfered: list[int] = []
    rival_called = False

    def issue_with_a_rival(lock, lifetime):  # type: ignore[no-untyped-def]
        nonlocal rival_called
        if not rival_called:  # the other replica takes a ticket after our read, before our write
            rival_called = True
            interfered.append(second.issue_ticket("c1"))
        return real_issue(lock, lifetime)

    monkeypatch.setattr("rasa.core.lock.TicketLock.issue_ticket", issue_with_a_rival)
    mine = first.issue_ticket("c1")
    assert interfered == [0] and mine == 1
    lock = first.get_lock("c1")
    assert [t.number for t in lock.tickets] == [0, 1] and lock.is_locked(mine)


def _overlapping_turns(replicas: list[RedisLockStore], turns_each: int = 25) -> tuple[list[tuple[str, ...]], int]:
    """Each replica in its own thread (as in its own process) runs `turns_each` turns of one conversation at once;
    returns the moments two turns were inside the lock together, and how many turns finished."""
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    finished: list[str] = []
    guard = threading.Lock()

    async def turn(store: RedisLockStore, name: str) -> None:
        async with store.lock("conversation", wait_time_in_seconds=0.002):
            with guard:
                inside.append(name)
                if len(inside) > 1:
                    overlaps.append(tuple(inside))
            await asyncio.sleep(0.003)  # the turn's work: another turn would run here if it could
            with guard:
                inside.remove(name)
                finished.append(name)

    def replica(index: int) -> None:
        async def main() -> None:
            await asyncio.gather(*(turn(replicas[index], f"{index}-{n}") for n in range(turns_each)))

        asyncio.run(main())

    threads = [threading.Thread(target=replica, args=(index,)) for index in range(len(replicas))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return overlaps, len(finished)


def test_two_replicas_never_serve_one_conversation_at_the_same_time(redis_url: str) -> None:
    replicas = [_store(redis_url), _store(redis_url)]
    overlaps, finished = _overlapping_turns(replicas)
    assert overlaps == [] and finished == 50
    assert replicas[0].get_lock("conversation") is None  # the last one out tidied up


def test_cleanup_keeps_a_ticket_another_replica_took_meanwhile(redis_url: str) -> None:
    first, second = _store(redis_url), _store(redis_url)
    mine = first.issue_ticket("c2")
    theirs = second.issue_ticket("c2")
    first.cleanup("c2", mine)
    lock = second.get_lock("c2")
    assert lock is not None and not lock.is_locked(theirs)
    second.cleanup("c2", theirs)
    assert second.get_lock("c2") is None


def test_a_lock_key_expires_after_its_last_change(redis_url: str) -> None:
    store = _store(redis_url)
    store.issue_ticket("c3")
    ttl = store.red.ttl(store.key_prefix + "c3")
    assert 0 < ttl <= KEY_EXPIRY_S


def test_an_unreachable_redis_is_a_lock_error_naming_no_conversation() -> None:
    from rasa.core.lock_store import LockError

    store = AtomicRedisLockStore(host="127.0.0.1", port="9", db="1", socket_timeout=0.5)
    with pytest.raises(LockError, match=r"^Error while acquiring lock: ConnectionError$"):
        store.issue_ticket("secret-conversation-id")


def test_rasa_builds_it_from_the_endpoints_file(redis_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    parts = urlsplit(redis_url)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"lock_store:\n  type: components.lock_store.AtomicRedisLockStore\n  url: 127.0.0.1\n"
                         f"  port: {parts.port}\n  password: {parts.password}\n  db: 1\n  key_prefix: policybot\n")
    store = LockStore.create(read_endpoint_config(str(endpoints), "lock_store"))
    assert isinstance(store, AtomicRedisLockStore) and store.key_prefix.startswith("policybot:")
    assert store.issue_ticket("c4") == 0
