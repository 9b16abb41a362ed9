"""Extractive answers: lead with the most direct sentence from the school's own policy, then cite it.

No text is generated beyond fixed templates and quotes. When the evidence is too weak the assistant abstains,
says the policy does not cover it, and names who at that school to ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence
from datetime import date

from bot.core.roles import canonical_role
from bot.qa.retrieval import EXPANSIONS, Retriever, SearchHit, query_tokens, roles_served
from bot.schools import SchoolProfile, format_partial_date
from bot.text import clean, lemmas, normalise_query, sentence_spans

MAX_QUESTION_CHARS = 2000

_YES_NO = re.compile(r"^(can|could|may|am|is|are|do|does|did|should|must|will|would|have|has|shall)\b", re.I)
_RULE_WORDS = frozenset(lemmas("must should not never allowed permitted only will required expected may", True))
# Words every policy uses, so their presence says nothing about whether *this* question is covered.
_GENERIC = frozenset(lemmas(
    "school schools policy policies allowed allow rule rules use using pupil pupils student students child "
    "children kid staff parent parents teacher people person happen happens thing online safety safe able "
    "ok okay alright need needs go going get make day time year way sure anyone everyone someone best well good "
    "bad lot much many thing things kind kinds type types", True))


@dataclass(frozen=True)
class Citation:
    """Where an answer came from: school, section path, quoted text, score and offsets into the policy file."""

    school: str
    section: str
    text: str
    score: float
    start: int
    end: int

    def to_dict(self) -> dict:
        return {"school": self.school, "section": self.section, "text": self.text,
                "score": round(self.score, 4), "start": self.start, "end": self.end}

    @classmethod
    def from_hit(cls, hit: SearchHit) -> "Citation":
        return cls(hit.school, hit.section, hit.text, hit.score, hit.start, hit.end)


@dataclass(frozen=True)
class Answer:
    school: str
    question: str
    role: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    confidence: float = 0.0

    def to_dict(self, item_id: str | None = None, include_id: bool = False) -> dict:
        """The JSON shape of `policybot ask --json`; batch lines always carry their input's id (maybe null)."""
        out: dict = {"id": item_id} if include_id or item_id is not None else {}
        out.update({"school": self.school, "answer": self.text, "abstained": self.abstained,
                    "citations": [c.to_dict() for c in self.citations]})
        return out


@dataclass(frozen=True)
class AbstentionRule:
    """When to say "the policy doesn't cover that" instead of quoting something loosely related.

    Calibrated on the development questions (`policybot eval --sweep` prints the grid): the top passage's cosine
    similarity must clear `min_dense`, and questions whose distinctive words never appear in the school's policy
    need the stronger `min_dense_unseen`.
    """

    min_dense: float = 0.22
    min_dense_unseen: float = 0.50
    unseen_fraction: float = 0.5

    def covers(self, best_dense: float, mostly_unseen: bool) -> bool:
        return best_dense >= (self.min_dense_unseen if mostly_unseen else self.min_dense)


@dataclass
class PolicyAssistant:
    """The answering service: retrieval + abstention + answer templates."""

    retriever: Retriever
    rule: AbstentionRule = field(default_factory=AbstentionRule)
    today: date | None = None

    def validate(self, school: str, question: str) -> SchoolProfile:
        """Raise ValueError with a clear message for an unknown school or an empty / over-long question."""
        profile = self.retriever.schools.get(school)
        if not question or not question.strip():
            raise ValueError("the question is empty; please type a question about the school's policy")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValueError(f"the question is {len(question):,} characters long; the limit is "
                             f"{MAX_QUESTION_CHARS:,} — please shorten it")
        return profile

    def answer(self, school: str, question: str, role: str | None = "any", k: int = 3) -> Answer:
        profile = self.validate(school, question)
        role = canonical_role(role)
        hits = self.retriever.retrieve(school, question, role, k=max(k, 3))
        names = self.retriever.people_asked_about(school, question)
        confidence, covered = self.coverage(school, question, hits, names)
        if not covered:
            return Answer(school, question, role, self._abstain_text(profile), True, (), confidence)
        citations = tuple(Citation.from_hit(h) for h in hits[:k])
        return Answer(school, question, role, self._answer_text(profile, question, role, hits, names), False,
                      citations, confidence)

    def evidence_strength(self, school: str, question: str, hits: list[SearchHit]) -> tuple[float, bool]:
        """(best cosine among the hits, whether most of the question's distinctive words are absent from the
        school's policy, synonyms included): the two signals the abstention rule weighs."""
        if not hits:
            return 0.0, True
        best = max(h.dense for h in hits)
        vocabulary = self.retriever.index_for(school).lexical.vocabulary
        distinctive = [t for t in query_tokens(question)[0] if t not in _GENERIC]
        unseen = [t for t in distinctive if t not in vocabulary
                  and not any(s in vocabulary for s in _expansion_lemmas(t))]
        mostly_unseen = bool(distinctive) and len(unseen) / len(distinctive) >= self.rule.unseen_fraction
        return best, mostly_unseen

    def coverage(self, school: str, question: str, hits: list[SearchHit],
                 names: Sequence[str] = ()) -> tuple[float, bool]:
        """(best cosine, whether the policy covers the question); `names` are the people a "who is" asks for."""
        best, mostly_unseen = self.evidence_strength(school, question, hits)
        if any(name.lower() in hit.text.lower() for name in names for hit in hits[:1]):
            return best, True  # "who is the DSL?" and the top passage names the person the profile holds
        return best, self.rule.covers(best, mostly_unseen)

    # ------------------------------------------------------------------------------------------ templates

    def _answer_text(self, profile: SchoolProfile, question: str, role: str, hits: list[SearchHit],
                     names: Sequence[str]) -> str:
        top = hits[0]
        lines = [lead_sentence(question, top.text, names), cite_line(profile, top)]
        if not _serves(role, top.passage.audience):
            lines.append(f"(This part of the policy is written for {_audience_words(top.passage.audience)}.)")
        second = hits[1] if len(hits) > 1 else None
        if (second and second.score >= 0.85 * top.score and second.section != top.section
                and _serves(role, second.passage.audience)):
            lines.append(f"See also ({second.section}): {lead_sentence(question, second.text, names)}")
        note = review_note(profile, self.today)
        if note:
            lines.append(note)
        return "\n".join(lines)

    def _abstain_text(self, profile: SchoolProfile) -> str:
        who = profile.who_to_ask().describe()
        return (f"{profile.short_name}'s {profile.policy_title} doesn't cover that, so I won't guess. "
                f"Please ask {who}.")


_AUDIENCE_NAMES = {"pupil": "pupils", "staff": "staff", "parent": "parents and carers", "governor": "governors",
                   "visitor": "visitors"}


def _serves(role: str, audience: frozenset[str]) -> bool:
    """Whether a passage written for `audience` (empty = everyone) answers someone asking as `role`."""
    return role == "any" or not audience or bool(roles_served(role) & audience)


def _audience_words(audience: frozenset[str]) -> str:
    names = [_AUDIENCE_NAMES[a] for a in sorted(audience)]
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


def _expansion_lemmas(token: str) -> list[str]:
    return [t for synonym in EXPANSIONS.get(token, ()) for t in lemmas(synonym)]


def cite_line(profile: SchoolProfile, hit: SearchHit) -> str:
    section = f", section {hit.section}" if hit.passage.section else ""
    return f"— {profile.name}, {profile.policy_title}{section} ({profile.policy_date_text})"


def review_note(profile: SchoolProfile, today: date | None = None) -> str:
    if not profile.review_overdue(today):
        return ""
    return (f"Note: this policy was due for review by {format_partial_date(profile.next_review)}, so it may have changed since; "
            f"{profile.who_to_ask().describe()} can confirm.")


def lead_sentence(question: str, passage_text: str, names: Sequence[str] = ()) -> str:
    """The passage sentence that answers most directly; for yes/no questions, prefer the rule itself, and for
    "who is ...?" questions the sentence that names the person (`names`)."""
    # A list passage is a lead-in line plus "- item" lines: each item is a candidate on its own.
    candidates: list[str] = []
    line_started = False
    for line in passage_text.split("\n"):
        line = line.strip().removeprefix("- ").strip()
        for start, end in sentence_spans(line) if line else ():
            piece = line[start:end]
            if candidates and line_started and piece[:1].islower():
                candidates[-1] += " " + piece  # "cameras, etc. in lessons" is one sentence, not two
            else:
                candidates.append(piece)
            line_started = True
        line_started = False
    if len(candidates) <= 1:
        return clean(passage_text.replace("\n- ", " "))
    base, extra = query_tokens(question)
    wanted = set(base) | set(extra)
    yes_no = bool(_YES_NO.match(normalise_query(question)))
    best, best_score = candidates[0], -1.0
    for sentence in candidates:
        tokens = lemmas(sentence, keep_stopwords=True)
        score = sum(1.0 if t in base else 0.5 for t in set(tokens) if t in wanted)
        if yes_no and _RULE_WORDS & set(tokens):
            score += 0.75
        if any(name.lower() in sentence.lower() for name in names):
            score += 10
        if score > best_score:
            best, best_score = sentence, score
    return clean(best)
