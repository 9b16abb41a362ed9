"""Which safeguarding action takes a turn, decided in one place from the screen's verdict.

The Rasa policy in components/safeguarding_policy.py asks this after every user message and wins over every other
policy, form and rule; nothing else may turn a hand-off or a check-in into a policy answer or "didn't get that".
"""

from __future__ import annotations

from typing import Mapping

from bot.core import contract

#: Typed answers to a check-in or language offer, besides its buttons.
_YES_INTENTS = frozenset({contract.PASS_ON_INTENT, "affirm"})
_NO_INTENTS = frozenset({contract.NOT_NOW_INTENT, "deny", "stop"})


_ACTION_FOR_INTENT = {contract.DISCLOSURE_INTENT: contract.HANDOFF_ACTION,
                      contract.OTHER_LANGUAGE_INTENT: contract.OTHER_LANGUAGE_ACTION,
                      contract.CHECK_IN_INTENT: contract.CHECK_IN_ACTION}


def routed_intent(verdict: Mapping[str, object]) -> str | None:
    """The intent a verdict (ScreenResult.to_dict()) gives the message, or None when the classifier's stands.

    A hand-off (disclosure or concern) comes first; then a message in another language (its reply offers a member
    of staff); then the check-in band."""
    if verdict.get("label") in ("disclosure", "concern"):
        return contract.DISCLOSURE_INTENT
    if verdict.get("language") not in (None, "", "en"):
        return contract.OTHER_LANGUAGE_INTENT
    if verdict.get("check_in"):
        return contract.CHECK_IN_INTENT
    return None


#: The report form: everything written in it goes to the DSL when it is sent, so a check-in would only interrupt.
REPORT_FORM = "concern_form"


def safeguarding_action(verdict: Mapping[str, object] | None, intent: str | None,
                        pending_check_in: bool, active_form: str | None = None) -> str | None:
    """The action for this user message, or None when safeguarding has nothing to say about it: the verdict's
    route (or a safeguarding intent given without one, as in story tests), else a yes or no to a check-in that is
    waiting for its answer."""
    routed = routed_intent(verdict) if isinstance(verdict, Mapping) else None
    routed = routed or (intent if intent in _ACTION_FOR_INTENT else None)
    if routed == contract.CHECK_IN_INTENT and active_form == REPORT_FORM:
        return None
    if routed is not None:
        return _ACTION_FOR_INTENT[routed]
    if intent in (contract.PASS_ON_INTENT, contract.NOT_NOW_INTENT) or (pending_check_in and intent in (
            _YES_INTENTS | _NO_INTENTS)):
        return contract.PASS_ON_ACTION if intent in _YES_INTENTS else contract.NOT_NOW_ACTION
    return None
