"""Dev-set evaluation: evidence@1, evidence@3, abstention accuracy and wrong-school citations.

A citation is a hit when its passage contains one of the item's evidence spans (whitespace collapsed, case
ignored, HTML tags and entities read as ingestion reads them: a span copied from the policy file with its `<i>` is
the sentence the passage quotes without it) or, where the span is a table row that ingestion rewrote, when it holds at least 85% of the span's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from bot.qa.answer import Answer, Citation
# The question format lives with the tuning corpus (light imports); re-exported here for the dev-set tools.
from bot.qa.tuning import EvalItem, load_items
from bot.text import clean, collapse, words

TABLE_WORD_SHARE = 0.85


def span_found(span: str, text: str) -> bool:
    """Evidence span in cited text: verbatim (whitespace/case-insensitive), or 85% of words for table rows."""
    if collapse(clean(span)) in collapse(text):
        return True
    if "\t" in span:
        span_words = words(span)
        if not span_words:
            return False
        have = set(words(text))
        return sum(w in have for w in span_words) / len(span_words) >= TABLE_WORD_SHARE
    return False


def citation_hits(item: EvalItem, citations: Sequence[Citation]) -> list[bool]:
    return [any(span_found(span, c.text) for span in item.evidence) for c in citations]


@dataclass
class EvalReport:
    evidence_at_1: float
    evidence_at_3: float
    abstention_accuracy: float
    wrong_school_citations: int
    answerable: int
    total: int
    misses: list[dict] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"questions: {self.total} ({self.answerable} answerable)",
            f"evidence@1: {self.evidence_at_1:.3f}",
            f"evidence@3: {self.evidence_at_3:.3f}",
            f"abstention accuracy: {self.abstention_accuracy:.3f}",
            f"wrong-school citations: {self.wrong_school_citations}",
        ]


def evaluate(items: Iterable[EvalItem], answer: Callable[[EvalItem], Answer]) -> EvalReport:
    at1 = at3 = abstain_ok = wrong_school = answerable = total = 0
    misses: list[dict] = []
    for item in items:
        total += 1
        result = answer(item)
        wrong_school += sum(c.school != item.school for c in result.citations)
        abstain_ok += result.abstained == (not item.answerable)
        if not item.answerable:
            if not result.abstained:
                misses.append({"id": item.id, "why": "answered an uncovered question",
                               "confidence": round(result.confidence, 3)})
            continue
        answerable += 1
        hits = citation_hits(item, result.citations[:3])
        at1 += bool(hits[:1] and hits[0])
        at3 += any(hits)
        if not hits or not hits[0]:
            misses.append({"id": item.id, "why": "abstained" if result.abstained else
                           ("evidence only at rank %d" % (hits.index(True) + 1) if any(hits) else "evidence not in top 3"),
                           "confidence": round(result.confidence, 3)})
    return EvalReport(at1 / max(answerable, 1), at3 / max(answerable, 1), abstain_ok / max(total, 1),
                      wrong_school, answerable, total, misses)


def abstention_sweep(items: Sequence[EvalItem], signals: Callable[[EvalItem], tuple[float, bool]],
                     plain: Sequence[float], unseen: Sequence[float]) -> list[tuple[float, float, float]]:
    """Abstention accuracy for each (min_dense, min_dense_unseen) pair, from each item's two signals."""
    measured = [(item.answerable, *signals(item)) for item in items]
    grid = []
    for low in plain:
        for high in unseen:
            right = sum(answerable == (best >= (high if mostly_unseen else low))
                        for answerable, best, mostly_unseen in measured)
            grid.append((low, high, right / max(len(measured), 1)))
    return grid


__all__ = ["EvalItem", "EvalReport", "abstention_sweep", "citation_hits", "evaluate", "load_items", "span_found"]
