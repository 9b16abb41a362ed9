"""The words of an answer: the lead sentence quoted from a passage, the citation line and the review note. One
composer for every path (CLI, REST, web chat, Teams), so the same question gets the same words everywhere."""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Sequence

from bot.qa.retrieval import SearchHit, query_tokens
from bot.schools import SchoolProfile, format_partial_date
from bot.text import clean, lemmas, normalise_query, sentence_spans

_YES_NO = re.compile(r"^(can|could|may|am|is|are|do|does|did|should|must|will|would|have|has|shall)\b", re.I)


@cache
def _rule_words() -> frozenset[str]:
    """Words that make a sentence a rule (lemmatised on first use: lemmas load spaCy, never at import)."""
    return frozenset(lemmas("must should not never allowed permitted only will required expected may", True))


AUDIENCE_NAMES = {"pupil": "pupils", "staff": "staff", "parent": "parents and carers", "governor": "governors",
                  "visitor": "visitors"}


def audience_words(audience: frozenset[str]) -> str:
    """"staff", "pupils and parents and carers", ... for a passage's audience."""
    names = [AUDIENCE_NAMES[a] for a in sorted(audience)]
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


def cite_line(profile: SchoolProfile, hit: SearchHit) -> str:
    section = f", section {hit.section}" if hit.passage.section else ""
    return f"— {profile.name}, {profile.policy_title}{section} ({profile.policy_date_text})"


def review_note(profile: SchoolProfile, today: date | None = None) -> str:
    if not profile.review_overdue(today):
        return ""
    return (f"Note: this policy was due for review by {format_partial_date(profile.next_review)}, so it may have changed since; "
            f"{profile.who_to_ask().describe()} can confirm.")


_ITEM_BREAK = re.compile(r"\n|\s+•\s+")


def lead_sentence(question: str, passage_text: str, names: Sequence[str] = ()) -> str:
    """The passage sentence that answers most directly; for yes/no questions, prefer the rule itself, and for
    "who is ...?" questions the sentence that names the person (`names`)."""
    # A list passage is a lead-in line plus "- item" lines: each item is a candidate on its own.
    candidates: list[str] = []
    line_started = False
    # An inline bullet ("... Head teacher. • Pupil devices must ...") starts an item of its own too.
    for line in _ITEM_BREAK.split(passage_text):
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
        if yes_no and _rule_words() & set(tokens):
            score += 0.75
        if any(name.lower() in sentence.lower() for name in names):
            score += 10
        if score > best_score:
            best, best_score = sentence, score
    return clean(best)
