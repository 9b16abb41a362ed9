"""Conversation helpers the Rasa actions call: follow-up questions, "who is the DSL?", and the trust view."""

from __future__ import annotations

import re

from bot.qa import people
from bot.qa.answer import Answer, PolicyAssistant
from bot.qa.people import POSTS, WhoIsAnswer, contact_for

__all__ = ["POSTS", "WhoIsAnswer", "compare_schools", "contact_for", "followup_question", "who_is"]

_LEADS = ("and what about", "and how about", "is it the same for", "what about for", "what about", "how about",
          "what if", "and if", "same for", "and for", "and", "but", "so", "okay", "ok")
# Longest first, so "and for teachers?" loses "and for", not just "and".
_FOLLOWUP_LEAD = re.compile(r"^\s*(" + "|".join(map(re.escape, _LEADS)) + r")\b[\s,]*", re.I)
_ROLE_ONLY = re.compile(
    r"^(the\s+)?(staff|teachers?|pupils?|students?|kids|children|parents?|carers?|governors?|visitors?|"
    r"ta'?s|teaching assistants?|me|us|them)\s*\??$", re.I)


def followup_question(previous: str, followup: str) -> str:
    """The question to search for a follow-up, using the previous question's topic.

    "what about staff?" after "can I use my phone in lessons?" asks the same question again (the role changes
    separately); "and at lunch?" adds its words to the previous question; "what if I break it?" keeps both.
    """
    previous, followup = previous.strip(), followup.strip()
    if not previous:
        return followup
    rest = _FOLLOWUP_LEAD.sub("", followup).strip(" ?!.")
    if not rest or _ROLE_ONLY.match(rest):
        return previous
    return f"{previous.rstrip('?!. ')} — {followup}"


def who_is(assistant: PolicyAssistant, school: str, post: str) -> WhoIsAnswer:
    """Name the person holding `post` at `school` (people.py: the one who-is path, which the assistant's
    `answer` also takes for "who is the ...?" questions)."""
    return people.who_is(assistant.retriever, school, post)


def compare_schools(assistant: PolicyAssistant, slugs: list[str], question: str, role: str) -> list[Answer]:
    """The same question answered from each school's own policy, for trust-level staff."""
    return [assistant.answer(slug, question, role) for slug in slugs]
