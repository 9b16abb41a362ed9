"""Extractive answers: quoted lead sentence, citation line, abstention, validation and review notes."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bot.qa.answer import MAX_QUESTION_CHARS, PolicyAssistant, lead_sentence
from bot.qa.retrieval import Retriever
from bot.text import clean
from conftest import ALDER_POLICY, BIRCH_POLICY

SOURCES = {"alder": ALDER_POLICY, "birch": BIRCH_POLICY}
ALDER_REVIEW_NOTE = ("Note: this policy was due for review by March 2022, so it may have changed since; "
                     "Jane Hollis (Online Safety Lead) can confirm.")


def citation_lines(text: str) -> list[str]:
    """The answer lines that cite a policy ('— School, Title, section ... (date)')."""
    return [line for line in text.splitlines() if line.startswith("— ")]


def test_answer_leads_with_a_sentence_quoted_from_the_schools_own_passage(assistant: PolicyAssistant) -> None:
    """The first line is a sentence of the top cited passage, which is Alder's own text at its offsets."""
    answer = assistant.answer("alder", "must pupils hand in their mobile phones?", "pupil")
    assert not answer.abstained
    lead = answer.text.splitlines()[0]
    top = answer.citations[0]
    assert top.school == "alder"
    assert lead == "Pupils must hand their mobile phones to the class teacher at the start of the school day."
    assert lead in clean(top.text)
    assert lead in clean(ALDER_POLICY[top.start:top.end])


def test_answer_carries_a_citation_line_with_school_name_section_and_policy_date(
        assistant: PolicyAssistant) -> None:
    """The answer cites the school's full name, policy title, the cited section and 'March 2021'."""
    answer = assistant.answer("alder", "must pupils hand in their mobile phones?", "pupil")
    section = answer.citations[0].section
    assert answer.text.splitlines()[1] == (
        f"— Alder Primary School, Online Safety Policy, section {section} (March 2021)")


def test_citation_date_uses_the_profiles_wording_of_a_full_date(assistant: PolicyAssistant) -> None:
    """Birch's '2023-09-01' policy date is cited as '1 September 2023'."""
    answer = assistant.answer("birch", "can students use their phones at lunchtime?", "pupil")
    assert not answer.abstained
    [line] = citation_lines(answer.text)
    assert line.startswith("— Birch Academy, E-Safety Policy")
    assert line.endswith("(1 September 2023)")


def test_citations_only_quote_the_asked_schools_text(assistant: PolicyAssistant) -> None:
    """Every citation is the asked school's, its offsets lie in that school's policy file."""
    for school in ("alder", "birch"):
        answer = assistant.answer(school, "are phones allowed?", "any")
        assert not answer.abstained
        for citation in answer.citations:
            assert citation.school == school
            assert 0 <= citation.start < citation.end <= len(SOURCES[school])


def test_off_topic_question_abstains_and_names_who_to_ask(assistant: PolicyAssistant) -> None:
    """A zoo-trip question on a phones policy is not answered; the online safety lead is named instead."""
    answer = assistant.answer("alder", "when is the school trip to the zoo", "any")
    assert answer.abstained
    assert answer.citations == ()
    assert answer.text == ("Alder's Online Safety Policy doesn't cover that, so I won't guess. "
                           "Please ask Jane Hollis (Online Safety Lead).")


def test_abstention_names_the_dsl_when_the_profile_asks_for_the_dsl_first(assistant: PolicyAssistant) -> None:
    """Birch's profile sends questions to its DSL, so the abstention names Tom Reed."""
    answer = assistant.answer("birch", "when is the school trip to the zoo", "any")
    assert answer.abstained
    assert answer.text == ("Birch's E-Safety Policy doesn't cover that, so I won't guess. "
                           "Please ask Tom Reed (Designated Safeguarding Lead).")


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_rejected(assistant: PolicyAssistant, question: str) -> None:
    """An empty or blank question raises ValueError asking for a question."""
    with pytest.raises(ValueError, match=re.escape(
            "the question is empty; please type a question about the school's policy")):
        assistant.answer("alder", question)


def test_over_long_question_is_rejected_with_its_length_and_the_limit(assistant: PolicyAssistant) -> None:
    """A 2,001-character question raises ValueError giving both numbers."""
    with pytest.raises(ValueError, match=re.escape(
            "the question is 2,001 characters long; the limit is 2,000 — please shorten it")):
        assistant.answer("alder", "a" * (MAX_QUESTION_CHARS + 1))


def test_question_at_the_length_limit_is_accepted(assistant: PolicyAssistant) -> None:
    """Exactly 2,000 characters passes validation and returns the school's profile."""
    question = "phones " * 285 + "x" * 5
    assert len(question) == MAX_QUESTION_CHARS
    assert assistant.validate("alder", question).slug == "alder"


def test_unknown_school_is_rejected_before_the_question_is_checked(assistant: PolicyAssistant) -> None:
    """An unknown slug is reported (with the known slugs) even when the question is also empty."""
    with pytest.raises(ValueError, match=re.escape("unknown school 'oak'; known: alder, birch")):
        assistant.answer("oak", "")


def test_unknown_role_is_rejected(assistant: PolicyAssistant) -> None:
    """answer() refuses a role it does not know."""
    with pytest.raises(ValueError, match=re.escape("unknown role 'janitor'")):
        assistant.answer("alder", "are phones allowed?", "janitor")


def test_review_note_is_added_when_the_review_date_has_passed(retriever: Retriever) -> None:
    """On 1 April 2022 Alder's 'March 2022' review is overdue, so the answer ends with the note."""
    answer = PolicyAssistant(retriever, today=date(2022, 4, 1)).answer(
        "alder", "must pupils hand in their mobile phones?", "pupil")
    assert not answer.abstained
    assert answer.text.splitlines()[-1] == ALDER_REVIEW_NOTE


def test_review_note_is_absent_until_the_review_month_is_over(retriever: Retriever) -> None:
    """On 31 March 2022 the review is not yet overdue, so no note is added."""
    answer = PolicyAssistant(retriever, today=date(2022, 3, 31)).answer(
        "alder", "must pupils hand in their mobile phones?", "pupil")
    assert not answer.abstained
    assert "Note:" not in answer.text
    assert "due for review" not in answer.text


def test_answer_to_dict_has_the_batch_keys(assistant: PolicyAssistant) -> None:
    """to_dict carries id, school, answer, abstained and citations with offsets."""
    answer = assistant.answer("alder", "how often must passwords be changed?", "any")
    data = answer.to_dict("q1")
    assert list(data) == ["id", "school", "answer", "abstained", "citations"]
    assert (data["id"], data["school"], data["answer"], data["abstained"]) == ("q1", "alder", answer.text, False)
    first = data["citations"][0]
    assert set(first) == {"school", "section", "text", "score", "start", "end"}
    assert ALDER_POLICY[first["start"]:first["end"]] == first["text"] == (
        "Passwords must be kept private and changed every term.")


def test_lead_sentence_picks_the_sentence_that_answers() -> None:
    """Of a multi-sentence passage, the sentence sharing the question's words is quoted."""
    passage = "Phones are collected at 8.45am. Lost phones are reported to the school office. Staff sign them in."
    assert lead_sentence("where are lost phones reported?", passage) == (
        "Lost phones are reported to the school office.")


def test_lead_sentence_splits_items_joined_by_an_inline_bullet() -> None:
    """A list line holding two items joined by "•" gives two candidates, and no quote ends in a stray bullet."""
    passage = ("- Personal devices are not used in lessons unless the head agrees. • Pupil phones brought into school "
               "must be turned off and stored out of sight.")
    assert lead_sentence("do pupils have to turn their phones off", passage) == (
        "Pupil phones brought into school must be turned off and stored out of sight.")
    assert lead_sentence("can devices be used in lessons", passage) == (
        "Personal devices are not used in lessons unless the head agrees.")


def test_lead_sentence_of_a_single_sentence_is_the_sentence_cleaned() -> None:
    """A one-sentence passage is quoted whole, whitespace collapsed."""
    assert lead_sentence("phones?", "Phones  stay in bags.") == "Phones stay in bags."


def test_lead_sentence_of_a_list_quotes_the_matching_item_alone() -> None:
    """In a 'lead-in + - items' passage the matching item is quoted, not the whole list run together."""
    passage = ("School staff should ensure that:\n- phones are kept in a locked drawer\n"
               "- lost phones are reported to the school office")
    assert lead_sentence("where are lost phones reported?", passage) == (
        "lost phones are reported to the school office")
