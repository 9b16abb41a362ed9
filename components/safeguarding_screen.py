"""The safeguarding screen as a Rasa 3.6 NLU component, placed after the intent classifier and FallbackClassifier.

On every message it runs bot.safeguarding's screen on the text and the role from the message metadata (never on
the intent: a classifier sure that "a man keeps asking my daughter for photos, what do I do?" is a policy question
must not be able to talk the screen out of a hand-off). The verdict goes into the parse data under
`bot.core.contract.VERDICT_KEY` (ScreenResult.to_dict()); and the intent becomes
  safeguarding_disclosure  for a disclosure or concern,
  safeguarding_check_in    for the middle band (some risk, not confident),
  other_language           for a message in another language,
first in the ranking at confidence 1.0, with the classifier's own ranking after it. components/
safeguarding_policy.py then routes the turn. It never raises: a failure is logged without the message text and
the message is marked for signposting, so the person still gets the safety numbers.
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

from bot.core import contract
from bot.core.roles import known_role
from bot.safeguarding.routing import routed_intent
from bot.safeguarding.screen import SafeguardingScreen, default_screen
from bot.safeguarding.types import SCREEN_FAILED, ScreenResult

logger = logging.getLogger(__name__)

DISCLOSURE_INTENT = contract.DISCLOSURE_INTENT
VERDICT_PROPERTY = contract.VERDICT_KEY

#: Messages longer than this are screened as their first and last halves of it: the cost stays bounded and a
#: disclosure at the very end of a pasted essay is still seen.
DEFAULT_MAX_CHARS = 20_000


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
            "model_dir": None,         # a trained screen model folder; None = artifacts/ for the embedder
            "backstop_path": None,
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
            if any(config.get(key) for key in ("embedding_model", "model_dir", "backstop_path")):
                embedder = None
                if config.get("embedding_model"):
                    from bot.core.embedder import FakeEmbedder, SentenceTransformerEmbedder

                    model = str(config["embedding_model"])
                    embedder = FakeEmbedder() if model.startswith("fake") else SentenceTransformerEmbedder(model)
                self._screen = SafeguardingScreen(embedder, config.get("model_dir"), config.get("backstop_path"))
            else:
                self._screen = default_screen()
        return self._screen

    def process(self, messages: List[Message]) -> List[Message]:
        """Screen each message; set the verdict, and the safeguarding intent when the verdict routes the turn."""
        for message in messages:
            try:
                result = self._screen_message(message)
            except Exception as problem:  # noqa: BLE001 - a broken screen must not take the assistant down
                logger.error("safeguarding screen failed (%s); the turn will carry the signposting",
                             type(problem).__name__)
                result = SCREEN_FAILED
            if result is None:
                continue
            message.set(VERDICT_PROPERTY, result.to_dict(), add_to_output=True)
            intent = routed_intent(result.to_dict())
            if intent is not None:
                self._set_intent(message, intent)
        return messages

    def _screen_message(self, message: Message) -> Optional[ScreenResult]:
        text = message.get(TEXT)
        if not isinstance(text, str) or not text.strip():
            return None
        metadata = message.get(METADATA)
        # An over-long message reaches NLU shortened; the channel keeps the whole text for the record and screen.
        whole = metadata.get(contract.FULL_TEXT_KEY) if isinstance(metadata, dict) else None
        text = whole if isinstance(whole, str) and whole else text
        if len(text) > self.max_chars:
            half = self.max_chars // 2
            text = f"{text[:half]}\n{text[-half:]}"
        role = known_role(metadata.get(contract.ROLE_KEY)) if isinstance(metadata, dict) else None
        return self.screen.screen(text, role)

    @staticmethod
    def _set_intent(message: Message, name: str) -> None:
        routed = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT, routed, add_to_output=True)
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != name]
        message.set(INTENT_RANKING_KEY, [dict(routed), *ranking], add_to_output=True)

