"""The linear response selector: it picks a retrieval intent's response from unseen wordings, writes the parse data
Rasa's ResponseSelector writes (so `utter_chitchat` finds its response), saves and loads without pickles, refuses
bad settings, and stands in config.yml where Rasa's TensorFlow selector stood."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

if importlib.util.find_spec("components") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.linear_intent_classifier import META_FILE  # noqa: E402
from components.linear_response_selector import LinearResponseSelector  # noqa: E402

NAME = "components.linear_response_selector.LinearResponseSelector"

CHITCHAT = {
    "chitchat/ask_name": ["what is your name", "who are you", "whats ur name", "what are you called", "your name?"],
    "chitchat/joke": ["tell me a joke", "say something funny", "know any jokes", "joke please", "got a joke"],
    "chitchat/how_are_you": ["how are you", "how r u", "you ok?", "how are you doing", "how is it going"],
}
OTHER = {"greet": ["hello", "hi there", "hiya"], "ask_policy": ["can i use my phone", "are phones allowed"]}
RESPONSES = {"utter_chitchat/ask_name": [{"text": "I'm Policybot."}],
             "utter_chitchat/joke": [{"text": "Why was the computer cold?"}],
             "utter_chitchat/how_are_you": [{"text": "I'm good, thanks."}],
             "utter_greet": [{"text": "Hello!"}]}


def training_data() -> TrainingData:
    messages = [Message(data={TEXT: text, INTENT: key.split("/")[0], INTENT_RESPONSE_KEY: key})
                for key, texts in CHITCHAT.items() for text in texts]
    messages += [Message(data={TEXT: text, INTENT: intent}) for intent, texts in OTHER.items() for text in texts]
    return TrainingData(messages, responses=RESPONSES)


def new_selector(tmp_path: Path, **overrides: Any) -> tuple[LinearResponseSelector, LocalModelStorage, Resource]:
    (tmp_path / "storage").mkdir(parents=True, exist_ok=True)
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("linear_response_selector")
    config = {**LinearResponseSelector.get_default_config(), "retrieval_intent": "chitchat", **overrides}
    return (LinearResponseSelector.create(config, storage, resource, ExecutionContext(GraphSchema({}), "test")),
            storage, resource)


def selected(selector: LinearResponseSelector, text: str) -> dict:
    message = Message(data={TEXT: text})
    selector.process([message])
    return message.get("response_selector")


def test_it_picks_the_response_of_unseen_wordings_in_rasas_parse_data_shape(tmp_path: Path) -> None:
    selector, _, _ = new_selector(tmp_path)
    selector.train(training_data())
    joke = selected(selector, "tell me a funny joke")
    assert joke["all_retrieval_intents"] == ["chitchat"]
    response = joke["chitchat"]["response"]
    assert response["intent_response_key"] == "chitchat/joke"
    assert response["utter_action"] == "utter_chitchat/joke"
    assert response["responses"] == [{"text": "Why was the computer cold?"}]
    ranking = joke["chitchat"]["ranking"]
    assert [entry["intent_response_key"] for entry in ranking][0] == "chitchat/joke"
    assert sorted(entry["intent_response_key"] for entry in ranking) == sorted(CHITCHAT)
    assert sum(entry["confidence"] for entry in ranking) == pytest.approx(1.0)
    assert response["confidence"] == ranking[0]["confidence"]
    assert selected(selector, "what's your name")["chitchat"]["response"]["utter_action"] == "utter_chitchat/ask_name"


def test_it_leaves_the_intent_alone_and_learns_only_the_retrieval_intents_examples(tmp_path: Path) -> None:
    """The intent classifier decides the intent; the selector only adds its choice (greet is never a label)."""
    selector, _, _ = new_selector(tmp_path)
    selector.train(training_data())
    message = Message(data={TEXT: "hello", INTENT: {"name": "greet", "confidence": 0.9}})
    selector.process([message])
    assert message.get(INTENT) == {"name": "greet", "confidence": 0.9}
    keys = {entry["intent_response_key"] for entry in message.get("response_selector")["chitchat"]["ranking"]}
    assert keys == set(CHITCHAT)


def test_it_saves_json_and_arrays_and_loads_the_same_choices(tmp_path: Path) -> None:
    selector, storage, resource = new_selector(tmp_path)
    selector.train(training_data())
    with storage.read_from(resource) as directory:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        assert not list(directory.glob("*.pkl"))
    assert meta["retrieval_intent"] == "chitchat" and set(meta["responses"]) == set(RESPONSES) - {"utter_greet"}
    config = {**LinearResponseSelector.get_default_config(), "retrieval_intent": "chitchat"}
    loaded = LinearResponseSelector.load(config, storage, resource, ExecutionContext(GraphSchema({}), "test"))
    for text in ("how r you doing", "got any jokes", "who r u"):
        before, after = selected(selector, text)["chitchat"], selected(loaded, text)["chitchat"]
        assert after["response"]["utter_action"] == before["response"]["utter_action"]
        # idf weights are stored as float32: the same choice, confidences equal to rounding.
        assert [e["confidence"] for e in after["ranking"]] == pytest.approx([e["confidence"] for e in before["ranking"]],
                                                                           abs=1e-6)


def test_an_empty_message_or_an_untrained_selector_adds_nothing(tmp_path: Path) -> None:
    selector, _, _ = new_selector(tmp_path)
    assert selected(selector, "tell me a joke") is None
    selector.train(training_data())
    assert selected(selector, "") is None


def test_a_model_stored_for_another_retrieval_intent_is_refused(tmp_path: Path) -> None:
    selector, storage, resource = new_selector(tmp_path)
    selector.train(training_data())
    config = {**LinearResponseSelector.get_default_config(), "retrieval_intent": "faq"}
    with pytest.raises(ValueError, match="the stored response selector is for 'chitchat', not 'faq': retrain"):
        LinearResponseSelector.load(config, storage, resource, ExecutionContext(GraphSchema({}), "test"))


@pytest.mark.parametrize("bad", [None, "", "chitchat/joke", 3])
def test_the_retrieval_intent_must_be_named(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="retrieval_intent must name a retrieval intent such as 'chitchat'"):
        new_selector(tmp_path, retrieval_intent=bad)


def test_config_yml_uses_it_instead_of_rasas_tensorflow_selector_and_validates() -> None:
    import yaml
    from rasa.engine import validation
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.shared.data import TrainingType

    registered = DefaultV1Recipe._from_registry(NAME)
    assert registered.clazz is LinearResponseSelector and registered.is_trainable
    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yml").read_text(encoding="utf-8"))
    by_name = {component["name"]: component for component in config["pipeline"]}
    assert "ResponseSelector" not in by_name and by_name[NAME]["retrieval_intent"] == "chitchat"
    validation.validate(DefaultV1Recipe().graph_config_for_recipe(config, {}, TrainingType.NLU))
