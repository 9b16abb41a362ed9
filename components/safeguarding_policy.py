"""The safeguarding policy: after every user message, the screen's verdict decides the turn before anything else.

Why a policy and not only rules: a rule can be outvoted. An active form's happy path is a "no user" prediction
that overrules every rule about the user's message, TED and memoization can out-score a rule, and the fallback
replaces low-confidence predictions. This policy predicts the safeguarding action (bot.safeguarding.routing) with
confidence 1.0 as a no-user prediction at the highest priority, so it wins against all of them; after its own
action it predicts action_listen the same way. When the verdict says nothing it abstains (all zeros).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.core import contract
from bot.safeguarding.routing import safeguarding_action

#: Above RulePolicy (6), so a tie at confidence 1.0 goes to this policy.
PRIORITY = 7
OWN_ACTIONS = frozenset({contract.HANDOFF_ACTION, contract.CHECK_IN_ACTION, contract.OTHER_LANGUAGE_ACTION,
                         contract.PASS_ON_ACTION, contract.NOT_NOW_ACTION})


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True)
class SafeguardingPolicy(Policy):
    """Routes hand-offs, check-ins and other-language messages; abstains otherwise."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": PRIORITY}

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn: the verdict comes from the NLU screen."""
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        action = self.next_action(tracker)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(self._default_predictions(domain))
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, is_no_user_prediction=True)

    @staticmethod
    def next_action(tracker: DialogueStateTracker) -> Optional[str]:
        """The safeguarding action as a turn's first action after a user message, action_listen after one of ours,
        else None."""
        latest = tracker.latest_action_name
        if latest in OWN_ACTIONS:
            return ACTION_LISTEN_NAME
        if not _first_prediction_of_the_turn(tracker) or tracker.latest_message is None:
            return None
        message = tracker.latest_message
        parse_data = message.parse_data or {}
        verdict = parse_data.get(contract.VERDICT_KEY)
        intent = (message.intent or {}).get("name")
        return safeguarding_action(verdict if isinstance(verdict, dict) else None, intent,
                                   bool(tracker.get_slot(contract.PENDING_CHECK_IN_SLOT)), tracker.active_loop_name)


def _first_prediction_of_the_turn(tracker: DialogueStateTracker) -> bool:
    """No action has run since the latest user message. Not "the latest action is action_listen": when the action
    server is down at the start of a session, action_session_start fails and no action_listen follows it, so the
    message comes straight after it (the 2026-12-06 crash trial: without TED to guess, the turn looped on the
    fallback and the pupil's retry after the restart did too)."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            return False
        if isinstance(event, UserUttered):
            return True
    return False
