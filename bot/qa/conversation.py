"""Conversation helpers the Rasa actions call: follow-up questions, "who is the DSL?", and the trust view."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.qa.answer import Answer, PolicyAssistant, cite_line
from bot.qa.retrieval import SearchHit
from bot.schools import Contact, SchoolProfile

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


# Which profile field answers "who is the ...?" and how to name the post.
POSTS = {
    "dsl": "Designated Safeguarding Lead",
    "online_safety_lead": "online safety lead",
    "headteacher": "headteacher",
    "governor": "governor responsible for online safety",
    "data_protection_officer": "data protection officer",
}


def contact_for(profile: SchoolProfile, post: str) -> Contact | None:
    """The profile's person (or role) for a post; None when the policy names nobody for it."""
    if post not in POSTS:
        raise ValueError(f"unknown post {post!r}; known: {', '.join(POSTS)}")
    if post == "dsl":
        return profile.dsl_contact() if profile.dsl else None
    if post == "headteacher":
        return Contact(profile.headteacher, "Headteacher") if profile.headteacher else None
    if post == "data_protection_officer":
        name = profile.data_protection_officer
        return Contact(name, "Data Protection Officer") if name else None
    return getattr(profile, post)


@dataclass(frozen=True)
class WhoIsAnswer:
    text: str
    contact: Contact | None
    citation: SearchHit | None


def who_is(assistant: PolicyAssistant, school: str, post: str) -> WhoIsAnswer:
    """Name the person holding `post` at `school`, from the profile, quoting where the policy names them."""
    profile = assistant.retriever.schools.get(school)
    contact = contact_for(profile, post)
    post_name = POSTS[post]
    if contact is None or not contact.name:
        fallback = profile.who_to_ask() if post != "dsl" else None
        role_text = f" It refers to {contact.describe()}." if contact else ""
        ask = f" Please ask the school office{f' or {fallback.describe()}' if fallback and fallback.name else ''}."
        return WhoIsAnswer(f"{profile.short_name}'s {profile.policy_title} doesn't name the {post_name}.{role_text}"
                           f"{ask}", contact, None)
    hits = assistant.retriever.retrieve(school, f"who is the {post_name} {contact.name}", "any", k=10)
    named = next((h for h in hits if contact.name.split(" and ")[0].lower() in h.text.lower()), None)
    text = f"The {post_name} at {profile.short_name} is {contact.name}."
    if named:
        text += "\n" + cite_line(profile, named)
    return WhoIsAnswer(text, contact, named)


def compare_schools(assistant: PolicyAssistant, slugs: list[str], question: str, role: str) -> list[Answer]:
    """The same question answered from each school's own policy, for trust-level staff."""
    return [assistant.answer(slug, question, role) for slug in slugs]
