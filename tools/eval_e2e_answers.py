"""The answers half of `make eval-e2e`: policy questions through the whole assistant over REST, against what the
library (and so `policybot ask`) says for the same school, role and question.

Each question is a new conversation. A reply is sorted as: the library's answer text (the same composer reached
it), a hand-off (a concern reference in the reply) with the library's answer after it (a concern that also asks
a policy question) or without, a check-in (the "Yes, tell someone" button), or something else (an intent the
pipeline chose instead: out of scope, chitchat, a question back). Only in the first two did the person get the
policy's answer, or its honest abstention, as the library gives it: anything else is loss in the pipeline around
the answer core. Ids and counts only are printed, never question text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from bot.core import contract
from bot.evaluation import EvalItem, citation_hits
from bot.qa.answer import PolicyAssistant
from bot.servers import AssistantServers, post_json

REFERENCE = re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{4}\b")
#: REST metadata needs a person's role; a question asked as "anyone" is sent (and answered by the library) as a
#: visitor's, the role with the fewest rules of its own.
ROLE_FOR_ANY = "visitor"


@dataclass(frozen=True)
class AnswerTurn:
    item: EvalItem
    outcome: str  # "same", "handed_off_answered", "handed_off", "checked_in", "other"
    library_abstained: bool
    library_first_right: bool

    @property
    def got_the_answer(self) -> bool:
        return self.outcome in ("same", "handed_off_answered")


def ask_all(servers: AssistantServers, assistant: PolicyAssistant, items: Sequence[EvalItem],
            prefix: str) -> list[AnswerTurn]:
    turns = []
    for item in items:
        role = item.role if item.role and item.role != "any" else ROLE_FOR_ANY
        expected = assistant.answer(item.school, item.question, role)
        status, replies = post_json(servers.webhook_url, {
            "sender": f"{prefix}-{item.id}", "message": item.question,
            "metadata": {contract.SCHOOL_KEY: item.school, contract.ROLE_KEY: role}})
        if status != 200 or not isinstance(replies, list):
            raise RuntimeError(f"{item.id}: the REST channel answered {status}")
        texts = [str(r.get("text") or "") for r in replies]
        payloads = [b.get("payload") for r in replies for b in r.get("buttons") or []]
        if any(REFERENCE.search(t) for t in texts):
            outcome = "handed_off_answered" if expected.text in texts else "handed_off"
        elif expected.text in texts:
            outcome = "same"
        elif f"/{contract.PASS_ON_INTENT}" in payloads:
            outcome = "checked_in"
        else:
            outcome = "other"
        hits = citation_hits(item, expected.citations[:1]) if item.answerable else []
        turns.append(AnswerTurn(item, outcome, expected.abstained, bool(hits and hits[0])))
    return turns


def report(title: str, turns: Sequence[AnswerTurn], verbose: bool = False) -> list[str]:
    answerable = [t for t in turns if t.item.answerable]
    unanswerable = [t for t in turns if not t.item.answerable]

    def share(part: Sequence[AnswerTurn], test) -> str:
        return f"{sum(bool(test(t)) for t in part) / max(len(part), 1):.3f}"

    lines = [title, f"  questions: {len(turns)} ({len(answerable)} answerable)"]
    for name, part in (("answerable", answerable), ("unanswerable", unanswerable)):
        counts = Counter(t.outcome for t in part)
        lines.append(f"  {name}: the library's reply {counts['same']}, handed off and answered "
                     f"{counts['handed_off_answered']}, handed off {counts['handed_off']}, checked in "
                     f"{counts['checked_in']}, something else {counts['other']}")
    lines += [f"  evidence@1, library alone: {share(answerable, lambda t: _right(t, False))}"
              f"; whole assistant: {share(answerable, lambda t: _right(t, True))}",
              f"  unanswerable abstained, library alone: {share(unanswerable, lambda t: _right(t, False))}"
              f"; whole assistant (the library's abstention, or out of scope): "
              f"{share(unanswerable, lambda t: _right(t, True))}",
              f"  integration loss: {sum(not t.got_the_answer for t in turns)} of {len(turns)} replies do not carry "
              f"the library's"]
    cross = [t for t in turns if (t.item.kind or "").startswith("cross")]
    if cross:
        # The held-out set's bar for the questions asked at every school: right through REST 27 times in 30.
        lines.append(f"  cross-school questions right, library alone: {sum(_right(t, False) for t in cross)} of "
                     f"{len(cross)}; whole assistant: {sum(_right(t, True) for t in cross)} of {len(cross)}")
    if verbose:
        lines += [f"  differs {t.item.id}: {t.outcome}" for t in turns if t.outcome != "same"]
    return lines


def _right(turn: AnswerTurn, whole: bool) -> bool:
    """Answered with the evidence first where the policy answers, abstained where it does not; `whole`: as the person
    got it through the assistant (the library's reply carried, or out of scope where it abstains)."""
    carried = turn.got_the_answer or not whole
    if turn.item.answerable:
        return carried and turn.library_first_right and not turn.library_abstained
    return (carried and turn.library_abstained) or (whole and turn.outcome == "other")
