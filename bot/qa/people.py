""""Who is the DSL / the head / the online safety lead?": answered from the school's profile, quoting where the
policy names the person, and saying so plainly when it names nobody. The CLI, REST, web chat and Teams all answer
through here (PolicyAssistant.answer and the who-is action)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.qa.compose import cite_line
from bot.qa.retrieval import Retriever, SearchHit
from bot.schools import Contact, SchoolProfile
from bot.text import lemmas, normalise_query

# Which profile field answers "who is the ...?" and how to name the post.
POSTS = {
    "dsl": "Designated Safeguarding Lead",
    "online_safety_lead": "online safety lead",
    "headteacher": "headteacher",
    "governor": "governor responsible for online safety",
    "data_protection_officer": "data protection officer",
}
#: The same posts held by several people together ("Sarah O'Neill and Ellen Jones").
_POSTS_HELD_TOGETHER = {
    "dsl": "Designated Safeguarding Leads",
    "online_safety_lead": "online safety leads",
    "headteacher": "headteachers",
    "governor": "governors responsible for online safety",
    "data_protection_officer": "data protection officers",
}
_SEVERAL_NAMES = re.compile(r"\s(?:and|&)\s|,")
# The words that name each post in a question ("who's the head?", "who is our DSL").
_POST_WORDS: dict[str, frozenset[str]] = {
    "dsl": frozenset({"dsl", "designated", "safeguarding"}),
    "online_safety_lead": frozenset({"esafety", "e-safety", "coordinator", "co-ordinator", "online"}),
    "headteacher": frozenset({"headteacher", "head", "principal", "headmaster", "headmistress"}),
    "governor": frozenset({"governor"}),
    "data_protection_officer": frozenset({"dpo", "gdpr", "data"}),
}
#: Posts a question names by a word of their own, checked before "online safety" (see asked_post).
_NAMED_FIRST = ("governor", "dsl", "data_protection_officer")
# Only identity questions, in the ways people ask them ("who is the DSL?", "whos our head", "what's the name of the
# principal?", "what is the headteacher called?"), not "who checks the devices?" or "who does the DSL report to?":
# those the policy answers. The question is normalised first (normalise_query: "what's" is "what is").
_THE = r"(?:the |our |my |your )?"
_END = r"(?: please)?[\s?.!]*$"
_IDENTITY = tuple(re.compile(pattern) for pattern in (
    rf"^(?:so |and |please )?(?:who (?:is|are|was)|whos) {_THE}(.+?){_END}",
    rf"^(?:please )?(?:tell me |what (?:is|are) )?(?:the )?names? of {_THE}(.+?){_END}",
    rf"^what (?:is|are) {_THE}(.+?)(?:'s|s')? names?{_END}",
    rf"^what (?:is|are) {_THE}(.+?) called{_END}",
    rf"^(?:please )?tell me who {_THE}(.+?) (?:is|are){_END}",
))


def asked_post(question: str) -> str | None:
    """The post a short identity question ("who is the ...?", "what's the name of the ...?") asks about, or None.
    The CLI, REST and the who-is action all decide with this, so every path gives the same answer."""
    text = normalise_query(question)
    match = next((m for m in (pattern.match(text) for pattern in _IDENTITY) if m), None)
    if not match or len(lemmas(match[1])) > 5:
        return None
    asked = set(lemmas(match[1])) | set(match[1].split())
    # A post named outright wins over the topic it is for: "the governor responsible for online safety" is a
    # governor, "the DSL for online safety" the DSL; "online safety" alone (or "head of online safety") is the lead.
    named = next((post for post in _NAMED_FIRST if asked & _POST_WORDS[post]), None)
    if named:
        return named
    if ("online" in asked and "safety" in asked) or asked & (_POST_WORDS["online_safety_lead"] - {"online"}):
        return "online_safety_lead"
    return "headteacher" if asked & _POST_WORDS["headteacher"] else None


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

    @property
    def named(self) -> bool:
        return self.contact is not None and bool(self.contact.name)


def who_is(retriever: Retriever, school: str, post: str) -> WhoIsAnswer:
    """Name the person holding `post` at `school`, from the profile, quoting where the policy names them."""
    profile = retriever.schools.get(school)
    contact = contact_for(profile, post)
    post_name = POSTS[post]
    if contact is None or not contact.name:
        fallback = profile.who_to_ask() if post != "dsl" else None
        role_text = f" It refers to {contact.describe()}." if contact else ""
        ask = f" Please ask the school office{f' or {fallback.describe()}' if fallback and fallback.name else ''}."
        return WhoIsAnswer(f"{profile.short_name}'s {profile.policy_title} doesn't name the {post_name}.{role_text}"
                           f"{ask}", contact, None)
    hits = retriever.retrieve(school, f"who is the {post_name} {contact.name}", "any", k=10)
    holders = [name.strip() for name in _SEVERAL_NAMES.split(contact.name)]
    named = _naming_passage(hits, holders[0], post)
    text = (f"The {_POSTS_HELD_TOGETHER[post]} at {profile.short_name} are {contact.name}." if len(holders) > 1
            else f"The {post_name} at {profile.short_name} is {contact.name}.")
    if named:
        text += "\n" + cite_line(profile, named)
    return WhoIsAnswer(text, contact, named)


#: How many words apart a post's name and a person's may be for a line to say that the person holds the post.
_NEAR = 8
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
#: Words a policy names a post by that a question rarely uses ("the Governing Body's lead is ...").
_POLICY_WORDS: dict[str, frozenset[str]] = {"governor": frozenset({"governing", "governors"}),
                                            "dsl": frozenset({"dsls"})}


def _naming_passage(hits: list[SearchHit], name: str, post: str) -> SearchHit | None:
    """The passage to quote for "<name> is the <post>": the best-ranked one where a word of the post stands near
    the name on one line ("Designated Safeguarding Lead **Claire Richardson**"), not merely one that lists the name
    (a list of who is told about an incident says nothing about who is the DSL); else the first with the name."""
    name_words = _WORD.findall(name.lower())
    post_words = _POST_WORDS[post] | _POLICY_WORDS.get(post, frozenset())
    for hit in hits:
        for line in hit.text.lower().splitlines():
            words = _WORD.findall(line)
            starts = [i for i in range(len(words)) if words[i:i + len(name_words)] == name_words]
            marks = [i for i, w in enumerate(words) if w in post_words or w.replace("-", "") in post_words]
            if any(abs(i - j) <= _NEAR for i in starts for j in marks):
                return hit
    return next((h for h in hits if name.lower() in h.text.lower()), None)


__all__ = ["POSTS", "WhoIsAnswer", "asked_post", "contact_for", "who_is"]
