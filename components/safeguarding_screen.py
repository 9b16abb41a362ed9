"""The safeguarding screen as a Rasa 3.6 NLU component, placed after the intent classifier and FallbackClassifier.

On every message it runs bot.safeguarding's screen with the intent the classifier predicted and the role from
the message metadata. A disclosure or concern becomes intent `safeguarding_disclosure` (confidence 1.0, first in the ranking)
and the verdict in the parse data's `safeguarding` property: {"label", "urgency" (immediate / high / standard /
concern), "category", "signals"}; anything else passes through unchanged. The verdict is a property, not entities,
because it is about the whole message, and Rasa's story tests compare entities span by span. It never raises: a failure is logged without the message text and the message is left alone.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    METADATA,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.safeguarding.screen import SafeguardingScreen, default_screen
from bot.safeguarding.types import CATEGORIES, ScreenResult

logger = logging.getLogger(__name__)

DISCLOSURE_INTENT = "safeguarding_disclosure"
#: The parse-data key holding the verdict; actions/handing_off.py reads it.
VERDICT_PROPERTY = "safeguarding"
#: Question topics whose answer also offers someone to talk to (everything but the everyday online-safety ones).
SENSITIVE_TOPICS = frozenset(CATEGORIES) - {"online_safety", "other"}

#: Messages longer than this are screened as their first and last halves of it: the cost stays bounded and a
#: disclosure at the very end of a pasted essay is still seen.
DEFAULT_MAX_CHARS = 20_000

#: The role words the REST channel may pass; anything else in the metadata is ignored rather than rejected.
_ROLES = frozenset({"pupil", "student", "child", "staff", "teacher", "ta", "parent", "carer", "guardian",
                    "governor", "visitor", "any"})


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafeguardingScreenComponent(GraphComponent, IntentClassifier):
    """Screens every message for disclosures and concerns and routes them to the DSL hand-off."""

    @classmethod
    def required_components(cls) -> List[Type]:
        """The screen reads the intent a classifier before it predicted."""
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """No settings needed: the screen is the process-wide default (POLICYBOT_EMBEDDING_MODEL); the paths and
        model can be overridden for tests or experiments."""
        return {
            "embedding_model": None,   # e.g. "fake" for tests; None = the configured default
            "lexicon_path": None,
            "exemplars_path": None,
            "max_chars": DEFAULT_MAX_CHARS,
            "warm_up": True,           # load the model when the component is created, not on the first message
        }

    def __init__(self, config: Dict[Text, Any], screen: Optional[SafeguardingScreen] = None) -> None:
        self.component_config = config
        self._screen = screen
        max_chars = config.get("max_chars", DEFAULT_MAX_CHARS)
        if not isinstance(max_chars, int) or isinstance(max_chars, bool) or max_chars < 200:
            raise ValueError(f"max_chars must be a whole number of at least 200, got {max_chars!r}")
        self.max_chars = max_chars

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SafeguardingScreenComponent:
        """Builds the component; loads the screen's model and exemplars now unless `warm_up` is false."""
        component = cls(config)
        if config.get("warm_up", True):
            component.screen.warm_up()
        return component

    @property
    def screen(self) -> SafeguardingScreen:
        """`default_screen()`, or one built from this component's config when it names a model or data files."""
        if self._screen is None:
            config = self.component_config
            if any(config.get(key) for key in ("embedding_model", "lexicon_path", "exemplars_path")):
                embedder = None
                if config.get("embedding_model"):
                    from bot.embedder import FakeEmbedder, SentenceTransformerEmbedder

                    model = str(config["embedding_model"])
                    embedder = FakeEmbedder() if model.startswith("fake") else SentenceTransformerEmbedder(model)
                self._screen = SafeguardingScreen(embedder, config.get("lexicon_path"), config.get("exemplars_path"))
            else:
                self._screen = default_screen()
        return self._screen

    def process(self, messages: List[Message]) -> List[Message]:
        """Screen each message; disclosures and concerns get the hand-off intent and entities."""
        for message in messages:
            try:
                result = self._screen_message(message)
            except Exception as problem:  # noqa: BLE001 - a broken screen must not take the assistant down
                logger.error("safeguarding screen failed (%s); message left unchanged", type(problem).__name__)
                continue
            if result is not None and result.hand_off:
                self._mark(message, result)
            elif result is not None and result.label == "question" and result.category in SENSITIVE_TOPICS:
                # A question about a sensitive topic keeps the classifier's intent (it gets its policy answer); the
                # topic travels along so the answer can gently offer someone to talk to.
                message.set(VERDICT_PROPERTY, {"label": "question", "urgency": "none",
                                               "category": result.category, "signals": list(result.signals)},
                            add_to_output=True)
        return messages

    def _screen_message(self, message: Message) -> Optional[ScreenResult]:
        text = message.get(TEXT)
        if not isinstance(text, str) or not text.strip():
            return None
        if len(text) > self.max_chars:
            half = self.max_chars // 2
            text = f"{text[:half]}\n{text[-half:]}"
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY) if isinstance(intent, dict) else None
        confidence = intent.get(PREDICTED_CONFIDENCE_KEY) if isinstance(intent, dict) else None
        if not isinstance(confidence, (int, float)) or not 0.0 <= float(confidence) <= 1.0:
            confidence = None
        return self.screen.screen(text, _role(message), name if isinstance(name, str) else None,
                                  None if confidence is None else float(confidence))

    def _mark(self, message: Message, result: ScreenResult) -> None:
        hand_off = {INTENT_NAME_KEY: DISCLOSURE_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT, hand_off, add_to_output=True)
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != DISCLOSURE_INTENT]
        message.set(INTENT_RANKING_KEY, [dict(hand_off), *ranking], add_to_output=True)
        message.set(VERDICT_PROPERTY, {"label": result.label, "urgency": result.route_urgency,
                                       "category": result.category, "signals": list(result.signals)},
                    add_to_output=True)


def _role(message: Message) -> Optional[str]:
    """The role the channel passed in the message metadata, if it is one the screen knows."""
    metadata = message.get(METADATA)
    role = metadata.get("role") if isinstance(metadata, dict) else None
    if isinstance(role, str) and role.strip().lower() in _ROLES:
        return role.strip().lower()
    return None
