"""Issue 15's fault tests on `make cluster` (scripts/serve.sh with POLICYBOT_CLUSTER=1), started by the project's own
script on scratch ports, with its own PostgreSQL and Redis: two Rasa replicas and two action servers behind nginx.

In order, on one running cluster:
  1. a Rasa replica is SIGKILLed mid-conversation: the conversation carries on through the other, with its history;
  2. the web chat's socket (engine.io long-polling through nginx) stays on one replica, by cookie or by address;
  3. an action server is SIGKILLed during 100 disclosures sent with client retries: exactly 100 records;
  4. PostgreSQL is restarted under load: no record lost, no "I have passed this on" without a record, service back
     within 30 s;
  5. Redis is stopped (SIGSTOP): turns are refused cleanly (the kind reply; signposting for a disclosure), nothing
     is recorded or corrupted, and the same messages go through once it is back;
  6. nothing a pupil wrote is in any log, and a stop is clean.
Failures name message numbers and counts, never what a pupil wrote. Run with `-s` to see the figures.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ..serve_script import ROOT, serve_script
from ..test_closed_surface import _listening_addresses
from ..trial import (CANARY, KIND_REPLY, PASSED_ON, QUESTION, SCHOOL, Outcome, answers as _answers, disclosure,
                     post_turn, server_pid)

pytestmark = pytest.mark.e2e

DISCLOSURES_UNDER_KILL = 100
BACK_WITHIN_S = 30.0


class Cluster:
    """The running cluster as a client sees it (through nginx) and as the test looks into it (pids, databases)."""

    def __init__(self, running: dict) -> None:
        self.running = running
        self.ports = running["ports"]
        cluster_dir = Path(running["scratch"]) / "cluster"
        self.token = (cluster_dir / "rest-token").read_text().strip()
        self.base = f"https://localhost:{self.ports['CLUSTER_HTTPS_PORT']}"
        # The proxy's self-signed certificate (deploy-config made it for localhost): verified, not ignored.
        self.tls = ssl.create_default_context(cafile=str(cluster_dir / "deploy" / "tls" / "selfsigned.crt"))
        password = (cluster_dir / "pg-password").read_text().strip()
        pg = f"postgresql+psycopg2://policybot:{password}@127.0.0.1:{self.ports['PG_PORT']}"
        self.records = create_engine(f"{pg}/policybot_records", hide_parameters=True, pool_pre_ping=True)
        self.conversations = create_engine(f"{pg}/policybot_conversations", hide_parameters=True,
                                           pool_pre_ping=True)
        self.rasa_ports = [int(p) for p in str(self.ports["RASA_PORTS"]).split()]
        self.action_ports = [int(p) for p in str(self.ports["ACTION_PORTS"]).split()]

    def turn(self, payload: dict, replica: int | None = None, timeout: float = 120) -> Outcome:
        """One REST turn through nginx, or straight to Rasa replica number `replica`."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if replica is None:
            return post_turn(f"{self.base}/webhooks/rest/webhook", payload, headers, timeout, self.tls)
        return post_turn(f"http://127.0.0.1:{self.rasa_ports[replica]}/webhooks/rest/webhook", payload, headers,
                         timeout)

    def record_counts(self, prefix: str) -> tuple[int, int, set[str]]:
        """(records, distinct message ids, references) of this trial's messages (message ids are the channel's
        hash of sender and id, so matched by the trial's senders through the references the replies gave)."""
        with self.records.connect() as connection:
            rows = connection.execute(text("SELECT reference, message_id FROM concerns")).all()
        return len(rows), len({row.message_id for row in rows}), {row.reference for row in rows}

    def user_turns(self, sender: str) -> int:
        with self.conversations.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM events WHERE sender_id = :s AND type_name = 'user'"),
                                      {"s": sender}).scalar_one()

    def postmaster_pid(self) -> int:
        return int((Path(self.running["pgdata"]) / "postmaster.pid").read_text().split()[0])

    def redis_pid(self) -> int | None:
        wanted = f"redis-server 127.0.0.1:{self.ports['REDIS_PORT']}".encode()
        for entry in Path("/proc").iterdir():
            try:
                # Redis sets its process title to "<binary> <address>:<port>".
                if entry.name.isdigit() and wanted in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
        return None

    def wait_for(self, check, within_s: float, what: str) -> float:  # type: ignore[no-untyped-def]
        began = time.monotonic()
        while not check():
            assert time.monotonic() - began < within_s, f"{what} not within {within_s:g} s"
            time.sleep(0.2)
        return time.monotonic() - began


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with serve_script(tmp_path_factory.mktemp("cluster"), cluster=True) as running:
        yield Cluster(running)


def _question(sender: str) -> dict:
    return {"sender": sender, "message": QUESTION, "metadata": {"school": SCHOOL, "role": "pupil"}}


def _all_up(cluster: Cluster) -> bool:
    return (all(_answers(f"http://127.0.0.1:{p}/") for p in cluster.rasa_ports)
            and all(_answers(f"http://127.0.0.1:{p}/health") for p in cluster.action_ports))


def test_two_replicas_never_interleave_one_conversation(cluster: Cluster) -> None:
    """Twenty-four messages of one conversation at once, half straight to each replica: the lock in Redis makes
    the turns run one after another, so in the stored conversation every user message's turn ends (action_listen)
    before the next user message. (Run twice against Rasa's own RedisLockStore on 2026-12-06, this passed too:
    through real replicas the race window is narrow. tests/test_lock_store.py shows the race deterministically;
    this checks the whole cluster keeps the property.)"""
    sender, count = "cluster-interleave", 24
    with ThreadPoolExecutor(max_workers=count) as pool:
        outcomes = list(pool.map(lambda n: cluster.turn(_question(sender), replica=n % 2), range(count)))
    # Every turn answered for real: a turn that lost its lock would get the kind "can't look that up" reply.
    assert [o.status for o in outcomes] == [200] * count
    assert [n for n, o in enumerate(outcomes) if KIND_REPLY in o.text or not o.text.strip()] == []
    with cluster.conversations.connect() as connection:
        events = connection.execute(text("SELECT type_name, action_name FROM events WHERE sender_id = :s "
                                         "ORDER BY id"), {"s": sender}).all()
    sequence = ["U" if e.type_name == "user" else "L" if e.action_name == "action_listen" else "." for e in events]
    between = "".join(sequence).split("U")[1:]  # what follows each user message up to the next one
    assert len(between) == count and all(part.endswith("L") for part in between), "".join(sequence)


def test_a_conversation_carries_on_after_its_replica_is_killed(cluster: Cluster) -> None:
    sender = "cluster-history"
    # Two turns on replica 0 only: no school or role yet, so the assistant asks, and remembers the answers.
    asked = cluster.turn({"sender": sender, "message": QUESTION}, replica=0)
    told = cluster.turn({"sender": sender, "message": "Ken Stimpson"}, replica=0)
    assert asked.status == told.status == 200 and "Ken Stimpson" in told.text
    victim = server_pid("channels.rasa_server", cluster.rasa_ports[0])
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    # The next turn reaches the other replica through nginx and answers from the school chosen on the dead one. A
    # request that reached the dying replica (it accepts connections until the kernel has torn it down) fails with
    # 502: nginx never resends a POST that may have been handled, so the client retries, as the widget and Teams do.
    began = time.monotonic()
    attempts = 1
    carried = cluster.turn({"sender": sender, "message": "I'm a pupil", "message_id": "history-3"})
    while carried.status != 200 and attempts < 5:
        time.sleep(0.5)
        attempts += 1
        carried = cluster.turn({"sender": sender, "message": "I'm a pupil", "message_id": "history-3"})
    again = cluster.turn({"sender": sender, "message": QUESTION})
    print(f"\ncluster: replica killed; the next turn answered on the other in {time.monotonic() - began:.1f} s "
          f"({attempts} attempt(s))")
    assert carried.status == again.status == 200
    assert "Ken Stimpson Community School" in carried.text and "Ken Stimpson Community School" in again.text
    assert cluster.user_turns(sender) == 4
    restart_s = cluster.wait_for(lambda: server_pid("channels.rasa_server", cluster.rasa_ports[0]) not in (None, victim)
                                 and _answers(f"http://127.0.0.1:{cluster.rasa_ports[0]}/"), 240, "replica back")
    print(f"cluster: the killed replica answered again {restart_s:.1f} s later")


def test_the_web_chat_socket_sticks_to_one_replica(cluster: Cluster) -> None:
    """engine.io long-polling keeps its session in one replica's memory: every request of a session must reach it.
    By the cookie the chat page sets, and (for a browser that does not send it) by the client's address."""
    page = urllib.request.Request(f"{cluster.base}/chat/{SCHOOL}")
    with urllib.request.urlopen(page, context=cluster.tls, timeout=30) as response:
        cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("policybot_route=") and "Path=/socket.io/" in cookie and "HttpOnly" in cookie
    route = cookie.split(";", 1)[0]
    origin = cluster.base
    for headers in ({"Cookie": route, "Origin": origin}, {"Origin": origin}):
        handshake = urllib.request.Request(f"{cluster.base}/socket.io/?EIO=4&transport=polling", headers=headers)
        with urllib.request.urlopen(handshake, context=cluster.tls, timeout=30) as response:
            body = response.read().decode()
        sid = json.loads(body[body.index("{"):])["sid"]
        for _ in range(8):  # each would fail with 400 "Session ID unknown" on the other replica
            poll = urllib.request.Request(f"{cluster.base}/socket.io/?EIO=4&transport=polling&sid={sid}",
                                          data=b"40", headers={**headers, "Content-Type": "text/plain"})
            with urllib.request.urlopen(poll, context=cluster.tls, timeout=30) as response:
                assert response.status == 200


def test_an_action_server_killed_during_a_hundred_disclosures_leaves_exactly_a_hundred_records(
        cluster: Cluster) -> None:
    cluster.wait_for(lambda: _all_up(cluster), 240, "every server up")
    assert cluster.turn(_question("cluster-warm-up")).status == 200
    before, _, _ = cluster.record_counts("")
    victim = server_pid("channels.action_server", cluster.action_ports[0])
    assert victim is not None
    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = []
        for index in range(DISCLOSURES_UNDER_KILL):
            futures.append(pool.submit(cluster.turn, disclosure(index, "cluster-kill")))
            if index == 30:
                os.kill(victim, signal.SIGKILL)
            time.sleep(0.05)
        outcomes = [future.result() for future in futures]
    kinds = [outcome.kind for outcome in outcomes]
    print(f"\ncluster: 100 disclosures, action server killed after the 31st: "
          f"{ {kind: kinds.count(kind) for kind in sorted(set(kinds))} }")
    # Every one answered, and every answer signposts or gives a reference.
    assert [i for i, kind in enumerate(kinds) if kind not in ("reference", "signposting")] == []
    # The client retries (same sender, same message_id) whatever came back without a reference.
    references = {i: outcome.reference for i, outcome in enumerate(outcomes)}
    for attempt in range(3):
        missing = [i for i, reference in references.items() if reference is None]
        if not missing:
            break
        with ThreadPoolExecutor(max_workers=5) as pool:
            for i, outcome in zip(missing, pool.map(lambda i: cluster.turn(disclosure(i, "cluster-kill")), missing)):
                references[i] = outcome.reference
    assert [i for i, reference in references.items() if reference is None] == []
    total, distinct, stored = cluster.record_counts("")
    print(f"cluster: after {attempt} round(s) of retries, {total - before} new records, "
          f"{len(set(references.values()))} distinct references")
    assert total - before == DISCLOSURES_UNDER_KILL and distinct == total
    assert set(references.values()) <= stored and len(set(references.values())) == DISCLOSURES_UNDER_KILL


def test_postgresql_restarted_under_load_loses_nothing_and_claims_nothing_false(cluster: Cluster) -> None:
    cluster.wait_for(lambda: _all_up(cluster), 240, "every server up")
    before, _, _ = cluster.record_counts("")
    stop = threading.Event()
    outcomes: dict[int, Outcome] = {}
    questions: list[tuple[float, Outcome]] = []

    answered_at: dict[int, float] = {}

    def pupils(worker: int) -> None:
        index = worker
        while not stop.is_set():
            outcomes[index] = cluster.turn(disclosure(index, "cluster-pg"), timeout=90)
            answered_at[index] = time.monotonic()
            index += 4

    def asker() -> None:
        while not stop.is_set():
            questions.append((time.monotonic(), cluster.turn(_question("cluster-pg-question"), timeout=90)))
            time.sleep(0.3)

    threads = [threading.Thread(target=pupils, args=(w,)) for w in range(4)] + [threading.Thread(target=asker)]
    for thread in threads:
        thread.start()
    time.sleep(4)
    postmaster = cluster.postmaster_pid()
    os.kill(postmaster, signal.SIGINT)  # PostgreSQL's fast shutdown: the supervisor starts it again
    restarted_at = time.monotonic()
    back_s = cluster.wait_for(lambda: any(at > restarted_at and o.status == 200 and "Ken Stimpson" not in o.text
                                          and KIND_REPLY not in o.text and o.text.strip()
                                          for at, o in list(questions)), 60, "an answer after the restart")
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    sent = sorted(outcomes)
    kinds = [outcomes[i].kind for i in sent]
    unrecorded = [answered_at[i] - restarted_at for i in sent if outcomes[i].reference is None]
    last_unrecorded = max(unrecorded, default=0.0)
    print(f"\ncluster: PostgreSQL restarted under load; questions answered again {back_s:.1f} s later, the last "
          f"disclosure left unrecorded {last_unrecorded:.1f} s after; {len(sent)} disclosures "
          f"{ {kind: kinds.count(kind) for kind in sorted(set(kinds))} }")
    assert back_s <= BACK_WITHIN_S and last_unrecorded <= BACK_WITHIN_S
    assert [i for i in sent if outcomes[i].kind not in ("reference", "signposting")] == []
    # No false "I have passed this on": every reply saying so names a reference that is in the store.
    total, _, stored = cluster.record_counts("")
    claimed = {i: outcomes[i].reference for i in sent if PASSED_ON in outcomes[i].text}
    assert [i for i, reference in claimed.items() if reference not in stored] == []
    # No record lost: the client's retries of the others find or make exactly one record each.
    for i in [i for i in sent if outcomes[i].reference is None]:
        outcomes[i] = cluster.turn(disclosure(i, "cluster-pg"))
    assert [i for i in sent if outcomes[i].reference is None] == []
    total, distinct, stored = cluster.record_counts("")
    assert total - before == len(sent) and distinct == total
    assert {outcomes[i].reference for i in sent} <= stored


def test_with_redis_stopped_turns_are_refused_cleanly_and_go_through_once_it_is_back(cluster: Cluster) -> None:
    cluster.wait_for(lambda: _all_up(cluster), 240, "every server up")
    before, _, _ = cluster.record_counts("")
    turns_before = cluster.user_turns("cluster-redis-question")
    redis_pid = cluster.redis_pid()
    assert redis_pid is not None
    os.kill(redis_pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            question = pool.submit(cluster.turn, _question("cluster-redis-question"), None, 60)
            told = pool.submit(cluster.turn, disclosure(0, "cluster-redis"), None, 60)
            question, told = question.result(), told.result()
    finally:
        os.kill(redis_pid, signal.SIGCONT)
    assert question.status == 200 and KIND_REPLY in question.text
    assert told.status == 200 and told.kind == "signposting" and PASSED_ON not in told.text
    assert cluster.record_counts("")[0] == before
    # Back: the same messages go through, once; the conversation holds exactly the turns that were answered.
    answered = cluster.turn(_question("cluster-redis-question"))
    recorded = cluster.turn(disclosure(0, "cluster-redis"))
    assert answered.status == 200 and KIND_REPLY not in answered.text and "Ken Stimpson" not in answered.text
    assert recorded.reference is not None and cluster.record_counts("")[0] == before + 1
    assert cluster.user_turns("cluster-redis-question") == turns_before + 1


def test_no_pupil_words_in_any_log_and_a_clean_stop(cluster: Cluster) -> None:
    running = cluster.running
    written = [running["output"], *(p for p in (ROOT / "logs").glob("*.log")
                                    if p.stat().st_mtime >= running["began"] - 1)]
    assert [p.name for p in written if CANARY.encode() in p.read_bytes()] == []
    process = running["process"]
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=90) == 0
    time.sleep(1)
    for name, value in cluster.ports.items():
        for port in str(value).split():
            assert not _listening_addresses(int(port)), f"{name} {port} still listening after the stop"
