"""End to end through the REST webhook: real Rasa server, real action server, real model and indexes."""

from __future__ import annotations

import pytest

from bot.qa.answer import PolicyAssistant
from bot.qa.retrieval import Retriever
from bot.schools import SchoolDirectory
from bot.servers import post_json

pytestmark = pytest.mark.e2e

PHONE_QUESTION = "can I use my phone in lessons?"


def ask(base: str, sender: str, message: str, metadata: dict | None = None) -> list[dict]:
    status, replies = post_json(f"{base}/webhooks/rest/webhook",
                                {"sender": sender, "message": message, "metadata": metadata or {}})
    assert status == 200
    assert isinstance(replies, list)
    return replies


def test_each_school_answers_the_phone_question_as_the_cli_does(rasa_server: str) -> None:
    """A pupil of each of the five schools gets, through the webhook, the same answer the library (and so
    `policybot ask`) gives: that school's own rule, cited; or, where the policy has no rule for pupils, the plain
    statement that it has none (with the staff rule shown as such where there is one). Which schools have a pupils'
    rule is the library's call (the test below pins two); this test pins that the webhook says the same."""
    directory = SchoolDirectory.load()
    direct = PolicyAssistant.learned(Retriever(directory))
    first_lines, texts = {}, {}
    for profile in directory:
        replies = ask(rasa_server, f"e2e-phone-{profile.slug}", PHONE_QUESTION,
                      {"school": profile.slug, "role": "pupil"})
        text = "\n".join(r.get("text", "") for r in replies)
        expected = direct.answer(profile.slug, PHONE_QUESTION, "pupil")
        assert expected.text.split("\n")[0] in text, f"{profile.slug}: {text!r}"
        # Cited when answered, or when another group's rule is shown as such; a plain abstention quotes nothing.
        cited = not expected.abstained or bool(expected.related)
        assert (f"— {profile.name}, {profile.policy_title}" in text) == cited, text
        first_lines[profile.slug], texts[profile.slug] = expected.text.split("\n")[0], text
    # Ken Stimpson's rule for pupils in lessons (its table row; section 4.1 says the same in prose, and which of the
    # two the learned reranker puts first may change with its training questions).
    assert "use of mobile phones in lessons: allowed with staff permission" in texts["ken-stimpson"]
    assert "section 4. Communications" in texts["ken-stimpson"]
    # Kingsmeadow's policy has a phone rule for staff only (issue 13): never passed off as the pupils' rule.
    assert first_lines["kingsmeadow"].startswith(
        "Kingsmeadow's Online Safety Policy has no rule on this for pupils. The rule for staff says: ")
    assert len(set(first_lines.values())) == len(first_lines), "every school answers in its own words"


def test_without_metadata_the_assistant_asks_for_the_school_then_answers(rasa_server: str) -> None:
    """No school in metadata: the bot asks (with buttons), then answers the waiting question once told."""
    sender = "e2e-no-metadata"
    replies = ask(rasa_server, sender, PHONE_QUESTION)
    payloads = [b["payload"] for r in replies for b in r.get("buttons", [])]
    assert '/inform_school{"school":"ouston"}' in payloads
    ask(rasa_server, sender, '/inform_school{"school":"ouston"}')
    replies = ask(rasa_server, sender, '/inform_role{"role":"pupil"}')
    text = "\n".join(r.get("text", "") for r in replies)
    assert "— Ouston Primary School, Online Safeguarding Policy" in text
