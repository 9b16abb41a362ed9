"""Disclosures end to end: real Rasa server + action server + concern store + SMTP notification on loopback."""

from __future__ import annotations

import time

import pytest

from bot.safeguarding.records import ConcernStore
from bot.servers import AssistantServers, post_json

pytestmark = pytest.mark.e2e

CANARY = "quokka-canary-4417"


def say(servers: AssistantServers, sender: str, message: str, metadata: dict | None = None,
        message_id: str | None = None) -> str:
    payload: dict = {"sender": sender, "message": message, "metadata": metadata or {}}
    if message_id:
        payload["message_id"] = message_id
    status, replies = post_json(servers.webhook_url, payload)
    assert status == 200 and isinstance(replies, list) and replies
    return "\n".join(r.get("text", "") for r in replies)


def store(servers: AssistantServers) -> ConcernStore:
    return ConcernStore(f"sqlite:///{servers.workdir / 'concerns.db'}")


def test_disclosure_is_recorded_notified_and_never_logged(servers: AssistantServers, mail_sink) -> None:
    """A pupil's disclosure: reference in the reply, record holds the words, a retry does not duplicate, the
    DSL's email has the reference but no words, and neither server log contains the words."""
    words = f"my stepdad hits me with his belt when mum is at work {CANARY}"
    metadata = {"school": "kingsmeadow", "role": "pupil"}
    reply = say(servers, "e2e-disclosure", words, metadata, message_id="e2e-msg-1")
    concerns = store(servers).list_concerns("kingsmeadow", "kingsmeadow-dsl", status="all")
    assert len(concerns) == 1
    reference = concerns[0].reference
    assert reference in reply
    assert "0800 1111" in reply and "not your fault" in reply
    assert store(servers).show(reference, "kingsmeadow", "kingsmeadow-dsl").words == words

    again = say(servers, "e2e-disclosure", words, metadata, message_id="e2e-msg-1")
    assert reference in again
    assert len(store(servers).list_concerns("kingsmeadow", "kingsmeadow-dsl", status="all")) == 1

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(reference in str(m["Subject"]) for m in mail_sink.messages):
        time.sleep(0.5)
    mails = [m for m in mail_sink.messages if reference in str(m["Subject"])]
    assert mails, "the DSL was emailed"
    assert all(CANARY not in m.as_string() for m in mail_sink.messages)

    for log in servers.logs:
        assert CANARY not in log.read_text(errors="replace"), f"{log.name} contains disclosure text"


def test_immediate_danger_says_999_first(servers: AssistantServers) -> None:
    reply = say(servers, "e2e-immediate", "i'm going to kill myself tonight, i've got the tablets ready",
                {"school": "rolvenden", "role": "pupil"})
    assert reply.index("999") < reply.index("0800 1111")


def test_sensitive_policy_question_is_answered_not_handed_off(servers: AssistantServers) -> None:
    reply = say(servers, "e2e-question", "what does the school do if someone shares nudes?",
                {"school": "ken-stimpson", "role": "pupil"})
    assert "Ken Stimpson" in reply
    assert "reference" not in reply.lower()


def test_a_disclosure_at_the_end_of_a_huge_message_is_still_handed_off(servers: AssistantServers) -> None:
    """100,000 characters of filler then a disclosure: handed off, and the record keeps the whole message."""
    words = "blah " * 20_000 + f"my uncle makes me touch him when he babysits {CANARY}"
    reply = say(servers, "e2e-huge", words, {"school": "ouston", "role": "pupil"}, message_id="e2e-huge-1")
    [ours] = [c for c in store(servers).list_concerns("ouston", "ouston-dsl", status="all") if c.reference in reply]
    assert store(servers).show(ours.reference, "ouston", "ouston-dsl").words == words


def test_naming_another_school_then_disclosing_records_at_the_channels_school(servers: AssistantServers) -> None:
    """The channel says Ken Stimpson: a question about Ouston is answered from Ouston's policy, and the disclosure
    that follows reaches Ken Stimpson's DSL, never Ouston's."""
    metadata = {"school": "ken-stimpson", "role": "pupil"}
    answer = say(servers, "e2e-pin", "what is the mobile phone rule at ouston primary?", metadata)
    assert "Ouston Primary School" in answer
    ouston_before = len(store(servers).list_concerns("ouston", "ouston-dsl", status="all"))
    reply = say(servers, "e2e-pin", f"my stepdad punches me when he's angry {CANARY}", metadata,
                message_id="e2e-pin-1")
    ours = [c for c in store(servers).list_concerns("ken-stimpson", "ken-stimpson-dsl", status="all")
            if c.reference in reply]
    assert len(ours) == 1 and ours[0].school == "ken-stimpson"
    assert len(store(servers).list_concerns("ouston", "ouston-dsl", status="all")) == ouston_before


def test_a_polish_message_gets_polish_safety_words_and_harm_in_polish_is_recorded(servers: AssistantServers) -> None:
    metadata = {"school": "kingsmeadow", "role": "pupil"}
    everyday = say(servers, "e2e-pl-1", "dzień dobry, o której zaczyna się jutro szkoła?", metadata)
    assert "999" in everyday and "0800 1111" in everyday and "If you are in danger" in everyday
    harm = say(servers, "e2e-pl-2", f"mój ojczym mnie bije i boję się wracać do domu {CANARY}", metadata,
               message_id="e2e-pl-2")
    [record] = [store(servers).show(c.reference, "kingsmeadow", "kingsmeadow-dsl")
                for c in store(servers).list_concerns("kingsmeadow", "kingsmeadow-dsl", status="all")
                if c.reference in harm]
    assert record.language == "pl" and CANARY in record.words
    assert harm.index("999") < harm.index("0800 1111")


#: Messages with some risk but no clear harm: the screen's middle band (the test needs one of them to land there).
CHECK_IN_CANDIDATES = ("i need help", "i dont feel safe", "things are really hard at the moment",
                       "ugh i want to die, double maths next", "can i talk to someone", "i feel a bit down",
                       "i feel left out", "im so tired of everything", "i don't have any friends",
                       "my friends fell out with me")


def test_a_check_in_answered_yes_hands_off_the_original_words(servers: AssistantServers) -> None:
    """Some risk, not confident: are you safe, 999, Childline, and the offer; 'Yes, tell someone' records the
    message that was checked in on, in the person's own words."""
    from bot.safeguarding.screen import default_screen

    text = next((t for t in CHECK_IN_CANDIDATES if default_screen().screen(t, "pupil").check_in), None)
    assert text is not None, "none of the candidates is in the screen's check-in band"
    metadata = {"school": "wyre-forest", "role": "pupil"}
    status, replies = post_json(servers.webhook_url, {"sender": "e2e-checkin", "message": text,
                                                      "metadata": metadata, "message_id": "e2e-ci-1"})
    assert status == 200
    said = "\n".join(r.get("text", "") for r in replies)
    assert "Are you safe right now?" in said and "999" in said and "0800 1111" in said
    assert any(b.get("title") == "Yes, tell someone" for r in replies for b in r.get("buttons") or ())
    reply = say(servers, "e2e-checkin", "/safeguarding_pass_on", metadata)
    [record] = [store(servers).show(c.reference, "wyre-forest", "wyre-forest-dsl")
                for c in store(servers).list_concerns("wyre-forest", "wyre-forest-dsl", status="all")
                if c.reference in reply]
    assert record.words == text and record.kind == "disclosure"
