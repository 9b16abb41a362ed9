"""Sentence-embedding features for the intent classifier from the packaged all-MiniLM-L6-v2 (the model the policy
index uses).

The sparse featurizers see words and character n-grams, so "who won the world cup" and "who is the DSL" look
alike to them; a sentence embedding sees what a message is about. This component adds one dense *sentence*
feature (384 numbers, unit length) per message text; sequence features stay sparse. Nothing is downloaded: the
model comes from POLICYBOT_EMBEDDING_MODEL (default the packaged MiniLM), loaded on first use and shared with
the safeguarding screen in the same process.

At prediction time the vector also goes into the message's parse data (bot.core.contract.EMBEDDING_KEY, packed by
bot.core.embedder.pack_embedding: float16, base64, the model's name, a digest of the exact text), so the action server's
search reuses it instead of running the model a second time for the same words. Rasa copies a component's
`add_to_output` properties into the parse data that UserUttered keeps and rasa-sdk shows as
`tracker.latest_message`, the path the safeguarding verdict takes too.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.core import contract
from bot.core.embedder import Embedder, FakeEmbedder, SentenceTransformerEmbedder, pack_embedding, shared_embedder

logger = logging.getLogger(__name__)

#: Texts longer than this are embedded from their start: MiniLM reads 256 word pieces at most anyway, and the
#: REST channel already shortens pasted essays.
MAX_CHARS = 2_000


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a dense sentence-level feature for each message's text."""

    @classmethod
    def required_components(cls) -> List[Type]:
        """Rasa requires a tokenizer before any featurizer."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`embedding_model`: None = the process-wide default (POLICYBOT_EMBEDDING_MODEL); "fake" for tests."""
        return {**DenseFeaturizer.get_default_config(), "embedding_model": None, "batch_size": 64}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """The batch size must be a positive whole number."""
        batch_size = config.get("batch_size", 64)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")

    def __init__(self, name: Text, config: Dict[Text, Any], embedder: Optional[Embedder] = None) -> None:
        super().__init__(name=name, config=config)
        self._embedder = embedder

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentenceEmbeddingFeaturizer:
        """Builds the component; the model is loaded on the first message, not here."""
        return cls(execution_context.node_name, config)

    @property
    def embedder(self) -> Embedder:
        """The embedder the config names, else the one shared by this process."""
        if self._embedder is None:
            model = self._config.get("embedding_model")
            if not model:
                self._embedder = shared_embedder()
            elif str(model).startswith("fake"):
                self._embedder = FakeEmbedder()
            else:
                self._embedder = SentenceTransformerEmbedder(str(model))
        return self._embedder

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes every training example's text, in batches."""
        examples = [example for example in training_data.training_examples if example.get(TEXT)]
        batch_size = int(self._config.get("batch_size", 64))
        for start in range(0, len(examples), batch_size):
            self._featurize(examples[start:start + batch_size])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Featurizes incoming messages (at prediction time, usually one) and puts each one's vector in its parse
        data for the action server (training examples never get it: nothing downstream reads it there)."""
        messages_with_text = [message for message in messages if message.get(TEXT)]
        for message, text, vector in self._featurize(messages_with_text):
            message.set(contract.EMBEDDING_KEY, pack_embedding(text, vector, self.embedder.name), add_to_output=True)
        return messages

    def _featurize(self, messages: List[Message]) -> List[Tuple[Message, str, np.ndarray]]:
        """Adds the sentence feature to each message; returns (message, text embedded, vector) for each."""
        if not messages:
            return []
        texts = [str(message.get(TEXT))[:MAX_CHARS] for message in messages]
        vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        for message, vector in zip(messages, vectors):
            self.add_features_to_message(sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT,
                                         message=message)
        return list(zip(messages, texts, vectors))
