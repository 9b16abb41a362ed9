"""The web chat's socket end to end: real Rasa server and action server, real model, socket.io clients.

What a browser-less attacker can try is tried here: naming another conversation's id, forging a token, claiming a
session id in a message, connecting from another website, sending huge messages.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
import socketio

from bot.safeguarding.records import ConcernStore
from bot.servers import AssistantServers
from channels.guard import TOO_LONG_TEXT
from channels.webchat.channel import MAX_PACKET_BYTES
from channels.webchat.formatting import widget_markdown

from .conftest import SCHOOL_SITE, text_of

pytestmark = pytest.mark.e2e

PHONE_QUESTION = "can I use my phone in lessons?"
CANARY = "wombat-canary-5521"


def tracker_texts(web: str, sender_id: str) -> list[str]:
    """The user messages Rasa holds for a conversation (read through the server's HTTP API)."""
    with urllib.request.urlopen(f"{web}/conversations/{sender_id}/tracker", timeout=30) as response:
        tracker = json.loads(response.read())
    return [event.get("text") or "" for event in tracker.get("events", []) if event.get("event") == "user"]


def test_a_new_browser_gets_a_signed_conversation_and_its_schools_answer(chat: Any, web: str) -> None:
    pupil = chat("school=ouston&role=pupil")
    token = pupil.start()
    assert token.startswith("w1.") and len(token.split(".")) == 4
    pupil.say(PHONE_QUESTION, customData={"school": "ouston", "role": "pupil"})
    replies = pupil.replies()
    assert "— Ouston Primary School, Online Safeguarding Policy" in text_of(replies)
    assert "\n\n> — Ouston Primary School" in text_of(replies), "the citation is a compact quote line"
    assert any(reply.get("quick_replies") for reply in replies), "'was this helpful?' as quick replies"
    assert tracker_texts(web, pupil.sender_id) == [PHONE_QUESTION]


def test_a_second_client_naming_another_conversation_gets_nothing_of_it(chat: Any, web: str) -> None:
    """B knows A's conversation id, and even A's whole token minus its last character: B gets a fresh
    conversation each time, never A's replies, and cannot add to A's conversation."""
    a = chat()
    token = a.start()
    a.say(f"can I post photos of my friends online? {CANARY}")
    assert a.replies(), "A is answered"

    b = chat()
    for claimed in (a.sender_id, token.split(".")[1], token[:-1] + ("0" if token[-1] != "0" else "1")):
        assert b.start(claimed) != token
    assert b.sender_id != a.sender_id

    # B's message claims A's session: it goes into B's own conversation, and only B hears the answer.
    b.say(PHONE_QUESTION, session_id=token)
    assert "Ouston" in text_of(b.replies())
    assert a.received(wait=5) == [], "nothing of B's turn reaches A"
    assert tracker_texts(web, a.sender_id) == [f"can I post photos of my friends online? {CANARY}"]
    assert tracker_texts(web, b.sender_id) == [PHONE_QUESTION]

    # And A's next turn reaches A only.
    a.say(PHONE_QUESTION)
    assert a.replies()
    assert b.received(wait=5) == [], "nothing of A's conversation reaches B"
    assert all(CANARY not in text for text in tracker_texts(web, b.sender_id))


def test_the_browser_that_holds_the_token_continues_its_conversation_and_displaces_an_old_socket(
        chat: Any, web: str) -> None:
    first = chat()
    token = first.start()
    first.say(PHONE_QUESTION)
    assert first.replies()

    again = chat()  # the same tab after a reload: it still holds the token
    assert again.start(token) == token
    assert first.expect("disconnect", timeout=20) is None, "one socket per conversation"
    again.say("who is the designated safeguarding lead?")
    assert again.replies()
    assert tracker_texts(web, again.sender_id) == [PHONE_QUESTION, "who is the designated safeguarding lead?"]


def test_a_token_for_another_school_starts_a_fresh_conversation(chat: Any) -> None:
    ouston = chat("school=ouston&role=pupil")
    token = ouston.start()
    elsewhere = chat("school=ken-stimpson&role=pupil")
    assert elsewhere.start(token) != token
    as_parent = chat("school=ouston&role=parent")
    assert as_parent.start(token) != token


def test_a_pages_school_wins_over_the_school_a_message_claims(chat: Any) -> None:
    pupil = chat("school=ouston&role=pupil")
    pupil.start()
    pupil.say(PHONE_QUESTION, customData={"school": "ken-stimpson", "role": "staff", "trust_staff": True})
    reply = text_of(pupil.replies())
    assert "— Ouston Primary School" in reply and "Ken Stimpson" not in reply


def test_a_message_before_session_request_is_refused(chat: Any) -> None:
    early = chat()
    early.say(PHONE_QUESTION)
    assert early.expect("message_refused") == {"reason": "no_session"}


# ------------------------------------------------------------------------------------------------ origins
def test_a_disallowed_origin_is_refused_and_allowed_ones_connect(chat: Any, web: str) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        chat(headers={"Origin": "https://evil.example"})
    with pytest.raises(socketio.exceptions.ConnectionError):
        chat(headers={"Origin": "null"})
    assert chat(headers={"Origin": web}).start(), "the server's own pages"
    assert chat(headers={"Origin": SCHOOL_SITE}).start(), "a school website named in POLICYBOT_WEB_ALLOWED_ORIGINS"


def test_a_disallowed_origin_gets_no_cors_grant_on_the_handshake(web: str) -> None:
    def handshake(origin: str) -> tuple[int, str | None]:
        request = urllib.request.Request(f"{web}/socket.io/?EIO=4&transport=polling", headers={"Origin": origin})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers.get("Access-Control-Allow-Origin")
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Access-Control-Allow-Origin")

    assert handshake("https://evil.example") == (400, None)
    assert handshake(SCHOOL_SITE) == (200, SCHOOL_SITE)


# ------------------------------------------------------------------------------------------------ size
def test_an_oversized_message_is_refused_kindly_and_the_same_socket_keeps_being_served(chat: Any) -> None:
    pupil = chat()
    pupil.start()
    pupil.say("tell me about phones " * 300)  # 6,300 characters, no disclosure
    assert pupil.expect("bot_uttered") == {"text": widget_markdown(TOO_LONG_TEXT)}
    assert pupil.expect("message_refused") == {"reason": "too_long", "max_chars": 2000}
    pupil.say(PHONE_QUESTION)
    assert "— Ouston Primary School" in text_of(pupil.replies())


def test_a_packet_over_the_transport_limit_closes_only_that_socket(chat: Any) -> None:
    flooder = chat()
    flooder.start()
    flooder.say("x" * (MAX_PACKET_BYTES + 1))
    assert flooder.expect("disconnect", timeout=30) is None
    other = chat()
    other.start()
    other.say(PHONE_QUESTION)
    assert "— Ouston Primary School" in text_of(other.replies()), "the server keeps serving everyone else"


def test_an_empty_message_is_refused(chat: Any) -> None:
    pupil = chat()
    pupil.start()
    pupil.say("   ")
    assert pupil.expect("message_refused") == {"reason": "empty"}


# ------------------------------------------------------------------------------------------------ safeguarding
def test_a_disclosure_over_the_widget_is_recorded_once_per_message_id_and_never_logged(
        chat: Any, servers: AssistantServers) -> None:
    store = ConcernStore(f"sqlite:///{servers.workdir / 'concerns.db'}")
    before = {c.reference for c in store.list_concerns("wyre-forest", "wyre-forest-dsl", status="all")}
    pupil = chat("school=wyre-forest&role=pupil")
    pupil.start()
    words = f"my brother's friend keeps touching me and says not to tell {CANARY}"
    pupil.say(words, message_id="browser-msg-1")
    first = text_of(pupil.replies())
    new = [c for c in store.list_concerns("wyre-forest", "wyre-forest-dsl", status="all")
           if c.reference not in before]
    assert len(new) == 1
    reference = new[0].reference
    assert reference in first
    record = store.show(reference, "wyre-forest", "wyre-forest-dsl")
    assert record.words == words and record.channel == "webchat"

    pupil.say(words, message_id="browser-msg-1")  # the same message again (a retry)
    assert reference in text_of(pupil.replies())
    assert len(store.list_concerns("wyre-forest", "wyre-forest-dsl", status="all")) == len(before) + 1

    time.sleep(1)
    for log in servers.logs:
        assert CANARY not in log.read_text(errors="replace"), f"{log.name} contains disclosure text"


def test_a_huge_message_ending_in_a_disclosure_is_still_handed_off(chat: Any, servers: AssistantServers) -> None:
    store = ConcernStore(f"sqlite:///{servers.workdir / 'concerns.db'}")
    before = {c.reference for c in store.list_concerns("kingsmeadow", "kingsmeadow-dsl", status="all")}
    pupil = chat("school=kingsmeadow&role=pupil")
    pupil.start()
    words = "blah " * 8_000 + f"my uncle hits me when he has been drinking {CANARY}"
    pupil.say(words, message_id="browser-huge-1")
    reply = text_of(pupil.replies())
    new = [c for c in store.list_concerns("kingsmeadow", "kingsmeadow-dsl", status="all")
           if c.reference not in before]
    assert len(new) == 1 and new[0].reference in reply
    assert store.show(new[0].reference, "kingsmeadow", "kingsmeadow-dsl").words == words


def test_naming_another_school_on_a_schools_page_never_moves_the_record(chat: Any, servers: AssistantServers) -> None:
    """Wyre Forest's page: a question about Ouston is answered from Ouston's policy; the disclosure that follows is
    Wyre Forest's record."""
    store = ConcernStore(f"sqlite:///{servers.workdir / 'concerns.db'}")
    ouston_before = len(store.list_concerns("ouston", "ouston-dsl", status="all"))
    pupil = chat("school=wyre-forest&role=pupil")
    pupil.start()
    pupil.say("what is the mobile phone rule at ouston primary?")
    assert "Ouston Primary School" in text_of(pupil.replies())
    pupil.say(f"my stepdad punches me when he's angry {CANARY}", message_id="browser-pin-1")
    reply = text_of(pupil.replies())
    ours = [c for c in store.list_concerns("wyre-forest", "wyre-forest-dsl", status="all") if c.reference in reply]
    assert len(ours) == 1
    assert len(store.list_concerns("ouston", "ouston-dsl", status="all")) == ouston_before
