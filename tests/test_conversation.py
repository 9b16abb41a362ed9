"""Follow-up questions, who-is answers and the policy-gaps store that the Rasa actions call."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.qa.answer import PolicyAssistant
from bot.qa.conversation import contact_for, followup_question, who_is
from bot.qa.feedback import FeedbackStore


@pytest.mark.parametrize(("followup", "expected"), [
    ("what about staff?", "can I use my phone in lessons?"),
    ("and for teachers?", "can I use my phone in lessons?"),
    ("and at lunch?", "can I use my phone in lessons — and at lunch?"),
    ("what if I break it?", "can I use my phone in lessons — what if I break it?"),
])
def test_followup_reuses_the_previous_question_topic(followup: str, expected: str) -> None:
    """A role-only follow-up repeats the previous question; anything else is searched with it."""
    assert followup_question("can I use my phone in lessons?", followup) == expected


def test_followup_without_a_previous_question_is_searched_as_it_is() -> None:
    """With no earlier question there is nothing to reuse."""
    assert followup_question("", "and at lunch?") == "and at lunch?"


def test_unknown_post_is_rejected_with_the_known_ones(assistant: PolicyAssistant) -> None:
    """Asking for a post the profile has no field for names the valid posts."""
    profile = assistant.retriever.schools.get("alder")
    with pytest.raises(ValueError, match="unknown post 'caretaker'; known: dsl, online_safety_lead"):
        contact_for(profile, "caretaker")


def test_who_is_names_the_dsl_from_the_profile(assistant: PolicyAssistant) -> None:
    """The DSL's name comes from the school's profile, never from another school."""
    profile = assistant.retriever.schools.get("alder")
    answer = who_is(assistant, "alder", "dsl")
    assert profile.dsl and profile.dsl[0] in answer.text
    assert answer.text.startswith("The Designated Safeguarding Lead at")


def test_feedback_store_lists_abstained_and_unhelpful_questions_only(tmp_path: Path) -> None:
    """The gaps report holds the not-covered and thumbs-down questions for one school, text only."""
    store = FeedbackStore(f"sqlite:///{tmp_path / 'gaps.db'}")
    store.record_question("alder", "when is sports day", abstained=True)
    helped = store.record_question("alder", "can I bring my phone", abstained=False)
    unhelpful = store.record_question("alder", "what about tablets", abstained=False)
    store.record_question("birch", "is there a bus", abstained=True)
    assert store.record_feedback(helped, True) and store.record_feedback(unhelpful, False)
    assert not store.record_feedback(999, False)
    assert [(g.question, g.reason) for g in store.gaps("alder")] == [
        ("when is sports day", "not covered"), ("what about tablets", "not helpful")]


def test_the_feedback_database_file_is_private_to_the_server_account(tmp_path: Path) -> None:
    """Pupils' questions are stored there, so the SQLite file is created readable by its owner only."""
    FeedbackStore(f"sqlite:///{tmp_path / 'private' / 'gaps.db'}")
    assert (tmp_path / "private" / "gaps.db").stat().st_mode & 0o777 == 0o600


def test_a_question_the_database_cannot_store_costs_the_report_not_the_answer(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """note_question (what the answer actions call) gives None when the table is gone; the log names the error
    class, never the question."""
    from sqlalchemy import text

    store = FeedbackStore(f"sqlite:///{tmp_path / 'gaps.db'}")
    with store._engine.begin() as connection:
        connection.execute(text("DROP TABLE policy_questions"))
    assert store.note_question("alder", "my secret question about phones", abstained=False) is None
    assert "OperationalError" in caplog.text and "secret question" not in caplog.text
