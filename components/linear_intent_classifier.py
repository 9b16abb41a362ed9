"""Intent classifier: multinomial logistic regression over word and character n-grams plus the sentence embedding.

On this assistant's training data DIET's intent head over-fits: in 3-fold cross-validation it reached intent F1
0.913 and was often 100% sure of the wrong intent ("see you tomorrow" -> out_of_scope, "that's incorrect" ->
feedback_positive). A linear model over the same evidence (sublinear tf-idf of words and character n-grams, which
tolerate typos and slang, and the MiniLM sentence feature, which carries meaning) generalises better from a few
thousand short examples and trains in seconds. DIET stays in the pipeline for entities only.

The model is stored as plain arrays and JSON (vocabularies, idf weights, coefficients), never pickled, so loading
a model file cannot run code.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any, Dict, List, Optional, Sequence, Text, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.core.tfidf import new_vectorizers, restored, vocabulary

logger = logging.getLogger(__name__)

ARRAYS_FILE = "linear_intent_classifier.npz"
META_FILE = "linear_intent_classifier.json"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Predicts the intent (and a ranking with probabilities) of each message's text."""

    @classmethod
    def required_components(cls) -> List[Type]:
        """Rasa requires a tokenizer early in every pipeline; the dense sentence feature is optional."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Defaults chosen by cross-validation on data/nlu (docs/benchmarks.md)."""
        return {
            # Inverse regularisation strength: higher fits the training examples more closely.
            "C": 50.0,
            "char_ngram_range": [1, 4],
            "word_ngram_range": [1, 1],
            # Scale of the dense sentence feature against the two unit-length tf-idf blocks.
            "dense_weight": 1.5,
            "max_iter": 5000,
            "ranking_length": LABEL_RANKING_LENGTH,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Rejects settings that would fail late or silently, naming the setting."""
        for key in ("C", "dense_weight"):
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (
                    key == "C" and value == 0):
                raise ValueError(f"{key} must be a {'positive' if key == 'C' else 'non-negative'} number, "
                                 f"got {value!r}")
        for key in ("max_iter", "ranking_length"):
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a whole number of at least 1, got {value!r}")
        for key in ("char_ngram_range", "word_ngram_range"):
            value = config.get(key)
            if (not isinstance(value, (list, tuple)) or len(value) != 2
                    or not all(isinstance(n, int) and not isinstance(n, bool) for n in value)
                    or not 1 <= value[0] <= value[1]):
                raise ValueError(f"{key} must be [low, high] whole numbers with 1 <= low <= high, got {value!r}")

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.validate_config(config)
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._char: Optional[TfidfVectorizer] = None
        self._word: Optional[TfidfVectorizer] = None
        self._coef: Optional[np.ndarray] = None
        self._intercept: Optional[np.ndarray] = None
        self._intents: List[str] = []
        self._dense_dim = 0

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LinearIntentClassifier:
        """Builds an untrained classifier."""
        return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> List[Text]:
        """scikit-learn fits the model (Rasa already depends on it)."""
        return ["sklearn"]

    # -- training -------------------------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the vectorisers and the logistic regression on every example that has text and an intent."""
        from sklearn.linear_model import LogisticRegression

        labelled = [(m, self._training_label(m)) for m in training_data.intent_examples if m.get(TEXT)]
        examples = [m for m, label in labelled if label]
        labels = [str(label) for _, label in labelled if label]
        intents = sorted(set(labels))
        if len(intents) < 2:
            logger.warning("%s: need examples of at least two labels to train; found %d. Nothing will be "
                           "predicted.", type(self).__name__, len(intents))
            return self._resource
        self._remember(training_data)
        texts = [str(m.get(TEXT)) for m in examples]
        char, word = _new_vectorizers(self._config)
        self._char, self._word = char.fit(texts), word.fit(texts)
        dense = [self._dense_feature(m) for m in examples]
        self._dense_dim = max((len(v) for v in dense if v is not None), default=0)
        features = self._features(texts, dense)
        model = LogisticRegression(C=float(self._config["C"]), max_iter=int(self._config["max_iter"]))
        with warnings.catch_warnings():
            # A few thousand examples can stop lbfgs a hair short of its tolerance; the fit is still good.
            warnings.simplefilter("ignore")
            model.fit(features, labels)
        self._intents = [str(name) for name in model.classes_]
        self._coef = model.coef_.astype(np.float32)
        self._intercept = model.intercept_.astype(np.float32)
        if len(self._intents) == 2:
            # scikit-learn keeps one row for two classes (the second's score); make it a row per class.
            self._coef = np.vstack([-self._coef[0] / 2, self._coef[0] / 2])
            self._intercept = np.array([-self._intercept[0] / 2, self._intercept[0] / 2], dtype=np.float32)
        self.persist()
        return self._resource

    def _training_label(self, message: Message) -> Optional[str]:
        """What the model learns to predict for a training example (None: not a training example)."""
        intent = message.get(INTENT)
        return str(intent) if intent else None

    def _remember(self, training_data: TrainingData) -> None:
        """Anything besides the weights a subclass keeps from the training data (stored by `_meta_extra`)."""

    # -- prediction -----------------------------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent` and `intent_ranking` on each message (no intent when untrained or the text is empty)."""
        for message in messages:
            text = message.get(TEXT)
            if self._coef is None or not text:
                self._set_prediction(message, [])
                continue
            probabilities = self.predict_probabilities([str(text)], [self._dense_feature(message)])[0]
            order = np.argsort(-probabilities, kind="stable")[: int(self._config["ranking_length"])]
            ranking = [{INTENT_NAME_KEY: self._intents[i], PREDICTED_CONFIDENCE_KEY: float(probabilities[i])}
                       for i in order]
            self._set_prediction(message, ranking)
        return messages

    def _set_prediction(self, message: Message, ranking: List[Dict[Text, Any]]) -> None:
        """Writes the ranking (best first; empty when nothing is predicted) into the message's parse data."""
        message.set(INTENT, ranking[0] if ranking else {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
                    add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)

    def predict_probabilities(self, texts: Sequence[str],
                              dense: Sequence[Optional[np.ndarray]]) -> np.ndarray:
        """Probability of each intent (columns in `intents` order) for each text: the model's softmax."""
        if self._coef is None or self._intercept is None:
            raise ValueError("LinearIntentClassifier is not trained")
        scores = self._features(texts, dense) @ self._coef.T + self._intercept
        scores = np.asarray(scores, dtype=np.float64)
        scores -= scores.max(axis=1, keepdims=True)  # softmax without overflow
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    @property
    def intents(self) -> List[str]:
        """The intents the model knows, in column order."""
        return list(self._intents)

    def _features(self, texts: Sequence[str], dense: Sequence[Optional[np.ndarray]]) -> sparse.csr_matrix:
        assert self._char is not None and self._word is not None
        blocks = [self._char.transform(texts), self._word.transform(texts)]
        if self._dense_dim:
            rows = np.zeros((len(texts), self._dense_dim), dtype=np.float32)
            for row, vector in enumerate(dense):
                # A message the dense featurizer skipped (or one of another size) gets no dense evidence.
                if vector is not None and len(vector) == self._dense_dim:
                    rows[row] = vector
            blocks.append(sparse.csr_matrix(rows * float(self._config["dense_weight"])))
        return sparse.hstack(blocks, format="csr")

    @staticmethod
    def _dense_feature(message: Message) -> Optional[np.ndarray]:
        """The message's dense sentence feature (e.g. from SentenceEmbeddingFeaturizer), if it has one."""
        _sequence, sentence = message.get_dense_features(TEXT)
        if sentence is None:
            return None
        return np.asarray(sentence.features, dtype=np.float32).reshape(-1)

    # -- storage --------------------------------------------------------------------------------------------

    def _meta_extra(self) -> Dict[Text, Any]:
        """JSON-safe extras a subclass stores beside the weights."""
        return {}

    def _restore_extra(self, meta: Dict[Text, Any]) -> None:
        """Reads back what `_meta_extra` stored."""

    def persist(self) -> None:
        """Writes vocabularies and weights as JSON and a numpy archive (no pickles)."""
        if self._coef is None or self._char is None or self._word is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / ARRAYS_FILE, coef=self._coef, intercept=self._intercept,
                     char_idf=self._char.idf_.astype(np.float32), word_idf=self._word.idf_.astype(np.float32))
            meta = {"intents": self._intents, "dense_dim": self._dense_dim,
                    "char_vocabulary": vocabulary(self._char), "word_vocabulary": vocabulary(self._word),
                    **self._meta_extra()}
            (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LinearIntentClassifier:
        """Restores a trained classifier; an untrained one (no files) predicts no intent."""
        classifier = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
                with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:
                    classifier._coef = arrays["coef"]
                    classifier._intercept = arrays["intercept"]
                    char_idf, word_idf = arrays["char_idf"], arrays["word_idf"]
        except (ValueError, FileNotFoundError):
            logger.warning("%s: no trained model found; nothing will be predicted.", cls.__name__)
            return classifier
        classifier._restore_extra(meta)
        classifier._intents = list(meta["intents"])
        classifier._dense_dim = int(meta["dense_dim"])
        char, word = _new_vectorizers(config)
        classifier._char = restored(char, meta["char_vocabulary"], char_idf)
        classifier._word = restored(word, meta["word_vocabulary"], word_idf)
        return classifier


def _new_vectorizers(config: Dict[Text, Any]) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    """Unfitted character and word vectorisers for this config (bot.core.tfidf: one definition for training and
    loading, so they cannot drift)."""
    return new_vectorizers(config["char_ngram_range"], config["word_ngram_range"])
