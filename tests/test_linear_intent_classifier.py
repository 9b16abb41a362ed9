"""The linear intent classifier: what it predicts, its ranking, saving and loading without pickles, messages it
cannot classify, config errors, and that Rasa's recipe accepts it where config.yml puts it (no model is loaded:
the dense feature, where used, comes from the fake embedder)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

if importlib.util.find_spec("components") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.linear_intent_classifier import (  # noqa: E402
    ARRAYS_FILE,
    META_FILE,
    LinearIntentClassifier,
)
from components.sentence_embedding_featurizer import SentenceEmbeddingFeaturizer  # noqa: E402

NAME = "components.linear_intent_classifier.LinearIntentClassifier"

EXAMPLES = {
    "ask_policy": ["can i use my phone in lessons", "are phones allowed at lunch", "can i bring my phone to school",
                   "what is the rule on photos", "can i take pictures on a trip", "r phones aloud in class"],
    "greet": ["hello", "hi there", "hiya", "good morning", "hey", "hello bot"],
    "goodbye": ["bye", "see you later", "goodbye", "see ya", "bye bye", "talk to you later"],
}


def training_data(examples: dict[str, list[str]] = EXAMPLES) -> TrainingData:
    return TrainingData([Message(data={TEXT: text, "intent": intent})
                         for intent, texts in examples.items() for text in texts])


def new_classifier(tmp_path: Path, **overrides: Any) -> tuple[LinearIntentClassifier, LocalModelStorage, Resource]:
    (tmp_path / "storage").mkdir(parents=True)
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("linear_intent_classifier")
    config = {**LinearIntentClassifier.get_default_config(), **overrides}
    context = ExecutionContext(GraphSchema({}), "test")
    return LinearIntentClassifier.create(config, storage, resource, context), storage, resource


def with_dense_features(data: TrainingData) -> TrainingData:
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "embedding_model": "fake"}
    return SentenceEmbeddingFeaturizer("sentence", config).process_training_data(data)


def predict(classifier: LinearIntentClassifier, text: str) -> Message:
    message = Message(data={TEXT: text})
    classifier.process([message])
    return message


def test_it_predicts_the_intent_of_unseen_wordings_with_a_ranking_of_probabilities(tmp_path: Path) -> None:
    classifier, _, _ = new_classifier(tmp_path)
    classifier.train(training_data())
    phone, bye = predict(classifier, "can i use my phone on the trip"), predict(classifier, "bye see you")
    assert phone.get("intent")["name"] == "ask_policy"
    assert bye.get("intent")["name"] == "goodbye"
    ranking = phone.get("intent_ranking")
    assert [entry["name"] for entry in ranking][0] == "ask_policy"
    assert sorted({entry["name"] for entry in ranking}) == ["ask_policy", "goodbye", "greet"]
    confidences = [entry["confidence"] for entry in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert phone.get("intent")["confidence"] == confidences[0] > 0.5


def test_the_ranking_is_cut_to_its_configured_length(tmp_path: Path) -> None:
    classifier, _, _ = new_classifier(tmp_path, ranking_length=2)
    classifier.train(training_data())
    assert len(predict(classifier, "hello").get("intent_ranking")) == 2


def test_a_saved_model_loads_back_with_the_same_predictions_and_holds_no_pickles(tmp_path: Path) -> None:
    data = with_dense_features(training_data())
    classifier, storage, resource = new_classifier(tmp_path)
    classifier.train(data)
    loaded = LinearIntentClassifier.load(classifier._config, storage, resource,
                                         ExecutionContext(GraphSchema({}), "test"))
    texts = ["can i film the school play", "hiya bot", "got to go bye"]
    dense = [None, np.ones(loaded._dense_dim, dtype=np.float32) / np.sqrt(loaded._dense_dim), None]
    assert loaded.intents == classifier.intents == ["ask_policy", "goodbye", "greet"]
    assert np.allclose(loaded.predict_probabilities(texts, dense), classifier.predict_probabilities(texts, dense))
    with storage.read_from(resource) as directory:
        assert sorted(path.name for path in directory.iterdir()) == sorted([ARRAYS_FILE, META_FILE])
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:  # would raise on an object array
            assert set(arrays.files) == {"coef", "intercept", "char_idf", "word_idf"}


def test_the_dense_sentence_feature_is_used_when_the_pipeline_provides_one(tmp_path: Path) -> None:
    plain, _, _ = new_classifier(tmp_path / "plain")
    plain.train(training_data())
    dense, _, _ = new_classifier(tmp_path / "dense")
    dense.train(with_dense_features(training_data()))
    assert plain._dense_dim == 0 and dense._dense_dim > 0
    assert dense._coef.shape[1] == plain._coef.shape[1] + dense._dense_dim


def test_a_message_without_the_dense_feature_is_still_classified(tmp_path: Path) -> None:
    classifier, _, _ = new_classifier(tmp_path)
    classifier.train(with_dense_features(training_data()))
    assert predict(classifier, "good morning").get("intent")["name"] == "greet"


def test_an_empty_text_gets_no_intent_rather_than_a_guess(tmp_path: Path) -> None:
    classifier, _, _ = new_classifier(tmp_path)
    classifier.train(training_data())
    message = predict(classifier, "")
    assert message.get("intent") == {"name": None, "confidence": 0.0}
    assert message.get("intent_ranking") == []


def test_with_one_intent_it_trains_nothing_and_predicts_no_intent(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    classifier, storage, resource = new_classifier(tmp_path)
    classifier.train(training_data({"greet": ["hi", "hello"]}))
    assert "LinearIntentClassifier: need examples of at least two labels" in caplog.text
    assert predict(classifier, "hi").get("intent") == {"name": None, "confidence": 0.0}
    loaded = LinearIntentClassifier.load(classifier._config, storage, resource,
                                         ExecutionContext(GraphSchema({}), "test"))
    assert predict(loaded, "hi").get("intent")["name"] is None


def test_two_intents_get_a_probability_each(tmp_path: Path) -> None:
    classifier, _, _ = new_classifier(tmp_path)
    classifier.train(training_data({key: EXAMPLES[key] for key in ("greet", "goodbye")}))
    ranking = predict(classifier, "see you later").get("intent_ranking")
    assert [entry["name"] for entry in ranking] == ["goodbye", "greet"]
    assert sum(entry["confidence"] for entry in ranking) == pytest.approx(1.0)


def test_predicting_before_training_is_refused_with_a_reason(tmp_path: Path) -> None:
    classifier, _, _ = new_classifier(tmp_path)
    with pytest.raises(ValueError, match="LinearIntentClassifier is not trained"):
        classifier.predict_probabilities(["hi"], [None])


@pytest.mark.parametrize(("setting", "bad", "message"), [
    ("C", 0, "C must be a positive number, got 0"),
    ("C", "strong", "C must be a positive number, got 'strong'"),
    ("dense_weight", -1, "dense_weight must be a non-negative number, got -1"),
    ("max_iter", 0, "max_iter must be a whole number of at least 1, got 0"),
    ("ranking_length", 2.5, "ranking_length must be a whole number of at least 1, got 2.5"),
    ("char_ngram_range", [3, 1], r"char_ngram_range must be \[low, high\] whole numbers with 1 <= low <= high, "
                                 r"got \[3, 1\]"),
    ("word_ngram_range", [0, 2], r"word_ngram_range must be .* got \[0, 2\]"),
])
def test_bad_settings_are_refused_naming_the_setting(tmp_path: Path, setting: str, bad: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        new_classifier(tmp_path, **{setting: bad})


def test_rasa_registers_it_as_a_trainable_intent_classifier_and_the_shipped_config_validates() -> None:
    import yaml
    from rasa.engine import validation
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.shared.data import TrainingType

    registered = DefaultV1Recipe._from_registry(NAME)
    assert registered.clazz is LinearIntentClassifier
    assert registered.types == {DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER}
    assert registered.is_trainable
    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yml").read_text(encoding="utf-8"))
    names = [component["name"] for component in config["pipeline"]]
    # The linear classifier's intent is what the entity extractor (which reads it), the fallback and the screen see.
    extractor = "components.closed_list_entities.ClosedListEntityExtractor"
    assert names.index(NAME) < names.index(extractor) < names.index("FallbackClassifier")
    model = DefaultV1Recipe().graph_config_for_recipe(config, {}, TrainingType.NLU)
    validation.validate(model)
