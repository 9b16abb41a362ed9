"""Response selector for a retrieval intent (chitchat/ask_name, chitchat/joke, ...) without TensorFlow.

Rasa's ResponseSelector is a transformer trained for 100 epochs; for this assistant's three small-talk answers it was
the last TensorFlow model in the Rasa server and about 380 MB of its resident memory (issue 15: both servers in
2 GB). This is the intent classifier's model -- logistic regression over word and character n-grams plus the
MiniLM sentence feature -- trained on the retrieval intent's examples with their response keys as labels, and it
writes the parse data Rasa's own selector writes (`response_selector` -> retrieval intent -> `response` with
`utter_action`), so `utter_chitchat` (ActionRetrieveResponse), rules and stories work unchanged.

Rasa's recipe validator looks for its own ResponseSelector class, so training prints a warning that the config has
no response selector; this component is one.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import (RESPONSE_SELECTOR_PREDICTION_KEY, RESPONSE_SELECTOR_PROPERTY_NAME,
                                RESPONSE_SELECTOR_RANKING_KEY, RESPONSE_SELECTOR_RESPONSES_KEY,
                                RESPONSE_SELECTOR_RETRIEVAL_INTENTS, RESPONSE_SELECTOR_UTTER_ACTION_KEY)
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RESPONSE_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.linear_intent_classifier import LinearIntentClassifier

#: Rasa's prefix of a response's name ("utter_" + "chitchat/joke").
UTTER_PREFIX = "utter_"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearResponseSelector(LinearIntentClassifier):
    """Predicts which response of `retrieval_intent` answers each message (parse data as Rasa's ResponseSelector)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The intent classifier's settings, plus the retrieval intent whose responses are chosen."""
        return {**LinearIntentClassifier.get_default_config(), "retrieval_intent": None}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        LinearIntentClassifier.validate_config(config)
        intent = config.get("retrieval_intent")
        if not isinstance(intent, str) or not intent.strip() or "/" in intent:
            raise ValueError(f"retrieval_intent must name a retrieval intent such as 'chitchat', got {intent!r}")

    def __init__(self, config: Dict[Text, Any], model_storage: Any, resource: Any) -> None:
        super().__init__(config, model_storage, resource)
        self._retrieval_intent = str(config["retrieval_intent"])
        self._retrieval_intents: List[str] = [self._retrieval_intent]
        self._responses: Dict[str, List[Dict[str, Any]]] = {}

    # -- training -------------------------------------------------------------------------------------------

    def _training_label(self, message: Message) -> Optional[str]:
        if message.get(INTENT) != self._retrieval_intent:
            return None
        key = message.get(INTENT_RESPONSE_KEY)
        return str(key) if key else None

    def _remember(self, training_data: TrainingData) -> None:
        self._retrieval_intents = sorted(training_data.retrieval_intents) or [self._retrieval_intent]
        prefix = f"{UTTER_PREFIX}{self._retrieval_intent}/"
        self._responses = {name: list(variants) for name, variants in training_data.responses.items()
                           if name.startswith(prefix)}

    # -- prediction -----------------------------------------------------------------------------------------

    def _set_prediction(self, message: Message, ranking: List[Dict[Text, Any]]) -> None:
        """Adds this retrieval intent's choice under `response_selector`; a message it cannot score gets none, so
        `utter_<intent>` says nothing rather than a wrong answer (as Rasa's selector without output)."""
        if not ranking:
            return
        best = ranking[0]
        key = str(best[INTENT_NAME_KEY])
        utter_action = f"{UTTER_PREFIX}{key}"
        properties = dict(message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {})
        properties[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = list(self._retrieval_intents)
        properties[self._retrieval_intent] = {
            RESPONSE_SELECTOR_PREDICTION_KEY: {
                RESPONSE_SELECTOR_RESPONSES_KEY: self._responses.get(utter_action, [{"text": key}]),
                PREDICTED_CONFIDENCE_KEY: float(best[PREDICTED_CONFIDENCE_KEY]),
                INTENT_RESPONSE_KEY: key,
                RESPONSE_SELECTOR_UTTER_ACTION_KEY: utter_action,
            },
            RESPONSE_SELECTOR_RANKING_KEY: [{INTENT_RESPONSE_KEY: str(label[INTENT_NAME_KEY]),
                                             PREDICTED_CONFIDENCE_KEY: float(label[PREDICTED_CONFIDENCE_KEY])}
                                            for label in ranking],
        }
        message.set(RESPONSE_SELECTOR_PROPERTY_NAME, properties, add_to_output=True)

    # -- storage --------------------------------------------------------------------------------------------

    def _meta_extra(self) -> Dict[Text, Any]:
        return {"retrieval_intent": self._retrieval_intent, "retrieval_intents": self._retrieval_intents,
                "responses": self._responses}

    def _restore_extra(self, meta: Dict[Text, Any]) -> None:
        if meta.get("retrieval_intent") != self._retrieval_intent:
            raise ValueError(f"the stored response selector is for {meta.get('retrieval_intent')!r}, "
                             f"not {self._retrieval_intent!r}: retrain the model")
        self._retrieval_intents = [str(name) for name in meta.get("retrieval_intents", [self._retrieval_intent])]
        self._responses = {str(k): list(v) for k, v in dict(meta.get("responses", {})).items()}
