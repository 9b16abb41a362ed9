"""The dense sentence-embedding featurizer for DIET: what features it adds, its config errors, the shared model, and
that Rasa's recipe accepts it beside the sparse featurizers (fake embedder throughout: no model is loaded)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

if importlib.util.find_spec("components") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core import embedder as embedder_module  # noqa: E402
from bot.core.embedder import FakeEmbedder, shared_embedder  # noqa: E402
from components.sentence_embedding_featurizer import MAX_CHARS, SentenceEmbeddingFeaturizer  # noqa: E402

NAME = "components.sentence_embedding_featurizer.SentenceEmbeddingFeaturizer"


def featurizer(**overrides: Any) -> SentenceEmbeddingFeaturizer:
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "embedding_model": "fake", **overrides}
    return SentenceEmbeddingFeaturizer("sentence_embedding", config)


def dense_sentence_features(message: Message) -> np.ndarray | None:
    _sequence, sentence = message.get_dense_features(TEXT)
    return None if sentence is None else sentence.features


def test_each_text_gets_one_unit_length_sentence_feature_and_no_sequence_feature() -> None:
    messages = [Message(data={TEXT: "can I use my phone in lessons?"}), Message(data={TEXT: "who won the cup"})]
    featurizer().process(messages)
    for message in messages:
        sequence, _sentence = message.get_dense_features(TEXT)
        assert sequence is None
        features = dense_sentence_features(message)
        assert features.shape == (1, FakeEmbedder().dim)
        assert np.isclose(np.linalg.norm(features), 1.0)
    assert not np.allclose(dense_sentence_features(messages[0]), dense_sentence_features(messages[1]))


def test_messages_without_text_are_left_alone() -> None:
    empty, intent_only = Message(data={TEXT: ""}), Message(data={"intent": "greet"})
    featurizer().process([empty, intent_only])
    assert empty.features == [] and intent_only.features == []


def test_training_data_is_featurized_in_batches_with_the_same_vectors_as_at_prediction() -> None:
    texts = [f"question number {n} about phones" for n in range(7)]
    training = TrainingData([Message(data={TEXT: text, "intent": "ask_policy"}) for text in texts])
    featurizer(batch_size=3).process_training_data(training)
    one = Message(data={TEXT: texts[5]})
    featurizer().process([one])
    assert all(dense_sentence_features(example) is not None for example in training.training_examples)
    assert np.allclose(dense_sentence_features(training.training_examples[5]), dense_sentence_features(one))


def test_a_pasted_essay_is_embedded_from_its_start_only() -> None:
    seen: list[str] = []

    class Recording(FakeEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            seen.extend(texts)
            return super().embed(texts)

    config = {**SentenceEmbeddingFeaturizer.get_default_config()}
    SentenceEmbeddingFeaturizer("x", config, embedder=Recording()).process([Message(data={TEXT: "a" * 100_000})])
    assert [len(text) for text in seen] == [MAX_CHARS]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "64"])
def test_a_bad_batch_size_is_refused_with_its_value(bad: Any) -> None:
    with pytest.raises(ValueError, match=rf"batch_size must be a whole number of at least 1, got {bad!r}"):
        featurizer(batch_size=bad)


def test_no_model_name_means_the_process_wide_shared_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.setattr(embedder_module, "_SHARED", {})
    component = featurizer(embedding_model=None)
    assert component.embedder is shared_embedder()
    assert isinstance(component.embedder, FakeEmbedder)


def test_rasa_registers_it_as_a_featurizer_and_the_graph_validates_with_diet() -> None:
    from rasa.engine import validation
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.shared.data import TrainingType

    registered = DefaultV1Recipe._from_registry(NAME)
    assert registered.clazz is SentenceEmbeddingFeaturizer
    assert registered.types == {DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER}
    assert not registered.is_trainable
    pipeline = [{"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"},
                {"name": NAME, "embedding_model": "fake"}, {"name": "DIETClassifier", "epochs": 1}]
    model = DefaultV1Recipe().graph_config_for_recipe(
        {"recipe": "default.v1", "language": "en", "pipeline": pipeline, "policies": [{"name": "RulePolicy"}]},
        {}, TrainingType.NLU)
    validation.validate(model)
    node = next(n for name, n in model.predict_schema.nodes.items() if NAME in name)
    assert node.fn == "process"


def test_the_shipped_config_uses_it_before_the_intent_classifier() -> None:
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yml").read_text(encoding="utf-8"))
    names = [component["name"] for component in config["pipeline"]]
    assert names.index(NAME) < names.index("components.linear_intent_classifier.LinearIntentClassifier")
