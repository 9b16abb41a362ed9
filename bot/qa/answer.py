"""Extractive answers: lead with the most direct sentence from the school's own policy, then cite it.

No text is generated beyond fixed templates and quotes. Whether the policy answers at all is decided by the learned
answer model (answerability.py, trained by `make index`); when it does not, the assistant says so, names who at
that school to ask, and, when the policy has a rule on the topic for another group only, quotes that rule under
`related` rather than passing it off as the asker's. "Who is the ...?" questions are answered from the school's
profile (people.py). The hand-set AbstentionRule remains only for an assistant built without a model (unit tests
on tiny literal policies, where there is nothing to train on).
"""

from __future__ import annotations

import logging
import re
from functools import cache
from dataclasses import dataclass, field
from datetime import date
from typing import Sequence

from bot.core.roles import canonical_role
from bot.qa.answerability import AnswerModel, CandidateFeaturizer
from bot.qa.compose import audience_words, cite_line, lead_sentence, review_note
from bot.qa.people import asked_post, who_is
from bot.qa.retrieval import EXPANSIONS, Retriever, SearchHit, query_tokens, roles_served
from bot.schools import SchoolProfile
from bot.text import lemmas

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
#: A question about the asker's own conduct ("can I ...", "am I allowed ...", "do we ...").
_ABOUT_ONESELF = re.compile(r"\b(i|im|i'm|ive|i've|me|my|we|us|our)\b")
#: How many of the best-ranked passages must all be written for another group before an answer the model accepts
#: is given as the honest partial answer instead; grouped CV (docs/benchmarks.md, 2026-12-07): with the top one
#: alone, 0.02-0.03 lower on every measure; with the top two, within 0.005.
_OTHER_GROUP_DEPTH = 2


@cache
def _generic() -> frozenset[str]:
    """Words every policy uses, so their presence says nothing about whether *this* question is covered
    (lemmatised on first use: lemmas load spaCy, never at import)."""
    return frozenset(lemmas(
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
    #: Passages on the topic that do not answer the asker's question (a rule for another group): shown as
    #: such, never as citations.
    related: tuple[Citation, ...] = ()

    def to_dict(self, item_id: str | None = None, include_id: bool = False) -> dict:
        """The JSON shape of `policybot ask --json`; batch lines always carry their input's id (maybe null)."""
        out: dict = {"id": item_id} if include_id or item_id is not None else {}
        out.update({"school": self.school, "answer": self.text, "abstained": self.abstained,
                    "citations": [c.to_dict() for c in self.citations]})
        if self.related:
            out["related"] = [c.to_dict() for c in self.related]
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
    """The answering service: retrieval, the answer model's judgement, answer templates."""

    retriever: Retriever
    rule: AbstentionRule = field(default_factory=AbstentionRule)
    today: date | None = None
    model: AnswerModel | None = None
    _featurizer: CandidateFeaturizer | None = field(default=None, init=False, repr=False)

    @classmethod
    def learned(cls, retriever: Retriever | None = None, today: date | None = None) -> PolicyAssistant:
        """The assistant with the answer model trained for the retriever's embedder (an exact error naming the
        folder and `make index` when it is missing or stale)."""
        from bot.qa import training

        retriever = retriever or Retriever()
        model = training.ready_model(retriever)
        return cls(retriever, today=today, model=model)

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
        post = asked_post(question)
        if post:
            found = who_is(self.retriever, school, post)
            cited = (Citation.from_hit(found.citation),) if found.citation else ()
            return Answer(school, question, role, found.text, not found.named, cited, 1.0 if found.named else 0.0)
        if self.model is not None:
            return self._judged_answer(profile, question, role, k)
        search = profile.without_own_name(question)
        hits = self.retriever.retrieve(school, search, role, k=max(k, 3))
        names = self.retriever.people_asked_about(school, question)
        confidence, covered = self.coverage(school, search, hits, names)
        if not covered:
            return Answer(school, question, role, self._abstain_text(profile), True, (), confidence)
        citations = tuple(Citation.from_hit(h) for h in hits[:k])
        return Answer(school, question, role, self._answer_text(profile, question, role, hits, names), False,
                      citations, confidence)

    def decline(self, school: str, question: str, role: str | None = "any") -> Answer:
        """The abstention for a message the conversation already knows is outside the policy (homework, the
        weather, the lunch menu): the same words and the same person to ask as any other abstention."""
        profile = self.validate(school, question)
        return Answer(profile.slug, question, canonical_role(role), self._abstain_text(profile), True, (), 0.0)

    def evidence_strength(self, school: str, question: str, hits: list[SearchHit]) -> tuple[float, bool]:
        """(best cosine among the hits, whether most of the question's distinctive words are absent from the
        school's policy, synonyms included): the two signals the abstention rule weighs."""
        if not hits:
            return 0.0, True
        best = max(h.dense for h in hits)
        vocabulary = self.retriever.index_for(school).lexical.vocabulary
        distinctive = [t for t in query_tokens(question)[0] if t not in _generic()]
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

    def _judged_answer(self, profile: SchoolProfile, question: str, role: str, k: int) -> Answer:
        assert self.model is not None
        if self._featurizer is None:
            self._featurizer = self.model.featurizer(self.retriever)
        judged = self.model.judge(self._featurizer.candidates(profile.slug, question, role))
        hits = list(judged.hits)
        if judged.answers and not (_ABOUT_ONESELF.search(question.lower())
                                   and _for_another_group(role, hits[:_OTHER_GROUP_DEPTH])):
            citations = tuple(Citation.from_hit(h) for h in hits[:k])
            return Answer(profile.slug, question, role, self._answer_text(profile, question, role, hits, ()),
                          False, citations, judged.answerable)
        top = hits[0] if hits else None
        if top is not None and _for_another_group(role, hits[:1]):
            # The policy has a rule on this for another group only: say there is none for the asker, and show
            # the other group's rule as what it is.
            text = (f"{profile.short_name}'s {profile.policy_title} has no rule on this for "
                    f"{audience_words(frozenset({role}))}. The rule for {audience_words(top.passage.audience)} "
                    f"says: {lead_sentence(question, top.text)}\n{cite_line(profile, top)}\n"
                    f"Please ask {profile.who_to_ask().describe()} what applies to you.")
            return Answer(profile.slug, question, role, text, True, (), judged.answerable,
                          (Citation.from_hit(top),))
        if top is not None and judged.hints:
            # Not sure enough to call it the answer: show the closest part as what it is, never as the rule.
            text = (f"I can't find a clear answer to that in {profile.short_name}'s {profile.policy_title}. The "
                    f"closest part says: {lead_sentence(question, top.text)}\n{cite_line(profile, top)}\n"
                    f"It may not be what you're asking about, so please check with "
                    f"{profile.who_to_ask().describe()}.")
            return Answer(profile.slug, question, role, text, True, (), judged.answerable, (Citation.from_hit(top),))
        return Answer(profile.slug, question, role, self._abstain_text(profile), True, (), judged.answerable)

    # ------------------------------------------------------------------------------------------ templates

    def _answer_text(self, profile: SchoolProfile, question: str, role: str, hits: list[SearchHit],
                     names: Sequence[str]) -> str:
        top = hits[0]
        lines = [lead_sentence(question, top.text, names), cite_line(profile, top)]
        if not _serves(role, top.passage.audience):
            lines.append(f"(This part of the policy is written for {audience_words(top.passage.audience)}.)")
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


def _for_another_group(role: str, hits: Sequence[SearchHit]) -> bool:
    """Whether every one of `hits` is written for a named group that does not answer someone asking as `role`
    (a pupil asking about phones where the best passages are the staff rules)."""
    return bool(hits) and role != "any" and all(hit.passage.audience and not _serves(role, hit.passage.audience)
                                                 for hit in hits)


def _serves(role: str, audience: frozenset[str]) -> bool:
    """Whether a passage written for `audience` (empty = everyone) answers someone asking as `role`."""
    return role == "any" or not audience or bool(roles_served(role) & audience)


def _expansion_lemmas(token: str) -> list[str]:
    return [t for synonym in EXPANSIONS.get(token, ()) for t in lemmas(synonym)]


__all__ = ["AbstentionRule", "Answer", "Citation", "MAX_QUESTION_CHARS", "PolicyAssistant", "cite_line",
           "lead_sentence", "review_note"]
