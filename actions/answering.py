"""What the answer actions share: answer a question for the tracker's school and role, with feedback buttons."""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from typing import Any, Awaitable, Callable, Iterator, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.qa.answer import Answer
from bot.qa.answerability import question_type
from bot.core import contract
from bot.core.roles import canonical_role
from bot.core.embedder import carried_embeddings
from bot.safeguarding.handoff import gentle_offer
from bot.safeguarding.types import SENSITIVE_CATEGORIES, ScreenResult
from bot.schools import SchoolProfile


def channel_school(tracker: Tracker) -> str | None:
    """The school the channel pins this conversation to (metadata on the latest message), if it is one we know."""
    metadata = tracker.latest_message.get("metadata")
    return services.known_school(metadata.get(contract.SCHOOL_KEY)) if isinstance(metadata, dict) else None


#: How many of the latest user messages may lend their embedding to this action's search: the message itself, and
#: earlier ones a question can come from (the question that waited for a school and role, the one a follow-up
#: repeats). Only a vector of exactly the searched text is ever used.
CARRIED_MESSAGES = 8


def _packed_embeddings(tracker: Tracker) -> Iterator[object]:
    yield tracker.latest_message.get(contract.EMBEDDING_KEY)
    seen = 0
    for event in reversed(tracker.events or []):
        if isinstance(event, dict) and event.get("event") == "user":
            parse_data = event.get("parse_data")
            yield parse_data.get(contract.EMBEDDING_KEY) if isinstance(parse_data, dict) else None
            seen += 1
            if seen >= CARRIED_MESSAGES:
                return


def question_embeddings(tracker: Tracker) -> AbstractContextManager[Any]:
    """While open, a search for the text of one of the latest user messages uses the sentence embedding the Rasa
    server already computed for it (parse data bot.core.contract.EMBEDDING_KEY) instead of running the model again;
    any other text (a follow-up with words added, a question without the school's name) is embedded as before."""
    return carried_embeddings(_packed_embeddings(tracker))


Run = TypeVar("Run", bound=Callable[..., Awaitable[list[dict[str, Any]]]])


def reuses_question_embeddings(run: Run) -> Run:
    """Decorates an action's `run(self, dispatcher, tracker, domain)` to answer inside `question_embeddings`."""
    @functools.wraps(run)
    async def wrapped(self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
                      ) -> list[dict[str, Any]]:
        with question_embeddings(tracker):
            return await run(self, dispatcher, tracker, domain)
    return wrapped  # type: ignore[return-value]


def asked_school(tracker: Tracker) -> str | None:
    """The school a question is about: a school it names (answered and cited as that school's policy), else the
    person's own."""
    named = services.known_school(next(tracker.get_latest_entity_values("school"), None))
    return named or tracker.get_slot("school")


def answer(school: str, question: str, role: str | None) -> Answer:
    """The policy answer for `question` at `school`, asked as `role` (an unknown role counts as anyone)."""
    try:
        role = canonical_role(role)
    except ValueError:
        role = "any"
    return services.assistant().answer(school, question, role)


#: What the gaps report keeps instead of the words of a question the screen saw risk in: they may be a child's
#: own near-disclosure, and the feedback store is no safeguarding record.
WORDS_NOT_KEPT = "(a question on a sensitive topic: its words are not kept)"


def send_answer(dispatcher: CollectingDispatcher, question: str, result: Answer,
                keep_words: bool = True) -> list[dict[str, Any]]:
    """Say the answer with feedback buttons, and store the question (or, when `keep_words` is False, only that
    one was asked) for the gaps report."""
    question_id = services.feedback().note_question(result.school, question if keep_words else WORDS_NOT_KEPT,
                                                    result.abstained)
    dispatcher.utter_message(text=result.text, buttons=services.HELPFUL_BUTTONS)
    return [SlotSet("last_question", question), SlotSet("last_question_id", question_id),
            SlotSet("last_answer_abstained", result.abstained), SlotSet("pending_question", None)]


def answer_and_record(dispatcher: CollectingDispatcher, school: str, question: str,
                      role: str | None, sensitive: bool = False, keep_words: bool | None = None
                      ) -> list[dict[str, Any]]:
    """Answer `question` from `school`'s policy, store it for the gaps report, and offer feedback buttons; after a
    question on a sensitive topic (the safeguarding screen says so), gently offer someone to talk to. The words of
    a sensitive question are not kept (`keep_words` defaults to `not sensitive`)."""
    keep = not sensitive if keep_words is None else keep_words
    events = send_answer(dispatcher, question, answer(school, question, role), keep_words=keep)
    if sensitive:
        try:
            dispatcher.utter_message(text=gentle_offer(services.schools().get(school), role))
        except ValueError:
            dispatcher.utter_message(text=gentle_offer(services.schools().get(school), None))
    return events


def is_sensitive_question(message: dict[str, Any]) -> bool:
    """True when the safeguarding screen read the message as a question on a sensitive topic, or saw some risk
    in it: the answer then gently offers someone to talk to (with the safety numbers)."""
    verdict = message.get(contract.VERDICT_KEY)
    return isinstance(verdict, dict) and verdict.get("label") == "question" and (
        verdict.get("category") in SENSITIVE_CATEGORIES or bool(verdict.get("signpost")))


#: How sure the intent classifier must be that a concern handed to the DSL is also a policy question for it to be
#: answered as well (its own ranking, kept under the safeguarding intent the screen put first).
CONCERN_QUESTION_SHARE = 0.5


def answer_a_concerns_question(dispatcher: CollectingDispatcher, tracker: Tracker, school: str,
                               message: dict[str, Any], verdict: ScreenResult, text: str) -> None:
    """After a *concern* is handed off ("my mate wants my login, can I give it him?"), also answer the policy
    question it asks, when the classifier reads it as one and the policy answers it. Never after a disclosure (the
    reply stays on the person) or a danger-now hand-off, and nothing is kept for the gaps report."""
    if verdict.label != "concern" or verdict.urgency == "immediate" or not text:
        return
    ranking = [r for r in message.get("intent_ranking") or []
               if isinstance(r, dict) and r.get("name") not in contract.SAFEGUARDING_INTENTS]
    if not ranking or ranking[0].get("name") != contract.ASK_POLICY_INTENT \
            or float(ranking[0].get("confidence") or 0.0) < CONCERN_QUESTION_SHARE:
        return
    with question_embeddings(tracker):  # the Rasa server already embedded this message
        result = answer(school, text, tracker.get_slot("role"))
    if result.abstained:
        return
    dispatcher.utter_message(text="You also asked about the rules, so here is what the policy says:")
    dispatcher.utter_message(text=result.text)


#: The fewest words a message must keep, once the school's name is out, to be a question of its own rather than
#: "I'm at Kingsmeadow" or "my son attends Ouston Primary".
QUESTION_WORDS = 4


def names_the_school_in_a_question(text: str, profile: SchoolProfile) -> bool:
    """Whether a message taken for "this is my school" asks a question besides: without the school's name it still
    has QUESTION_WORDS words and a question mark or a question's opening ("what sort of ...", "can pupils ...")."""
    rest = profile.without_own_name(text)
    return len(rest.split()) >= QUESTION_WORDS and ("?" in rest or question_type(rest) != "statement")


def ask_for_missing_context(dispatcher: CollectingDispatcher, school: str | None, role: str | None) -> bool:
    """Ask for the school, then the role, once each; True if something had to be asked."""
    if not school:
        dispatcher.utter_message(response="utter_ask_school")
        return True
    if not role:
        dispatcher.utter_message(response="utter_ask_role")
        return True
    return False
