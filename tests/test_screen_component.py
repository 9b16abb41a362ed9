"""The Rasa NLU component that runs the safeguarding screen on every message, built directly (the fake-embedder
screen model trained once per session) and fed rasa Message objects; plus a check that Rasa's default recipe
places and validates it after the classifiers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.core import contract
from bot.safeguarding.screen import SafeguardingScreen, default_screen
from bot.safeguarding.types import SCREEN_FAILED, ScreenResult
from components.safeguarding_screen import SafeguardingScreenComponent

DISCLOSURE_INTENT = contract.DISCLOSURE_INTENT
VERDICT_PROPERTY = contract.VERDICT_KEY
NAME = "components.safeguarding_screen.SafeguardingScreenComponent"


def config(**overrides: Any) -> dict[str, Any]:
    """The component's defaults with the fake embedder and no warm-up, plus overrides."""
    return {**SafeguardingScreenComponent.get_default_config(), "embedding_model": "fake", "warm_up": False,
            **overrides}


@pytest.fixture(scope="module")
def component(fake_screen_model: Path) -> SafeguardingScreenComponent:
    """The component as Rasa would create it (fake embedder, the session's model), warmed up once."""
    return SafeguardingScreenComponent.create(config(warm_up=True, model_dir=str(fake_screen_model)),
                                              None, None, None)  # type: ignore[arg-type]


def message(text: Any = None, intent: str | None = "ask_policy", confidence: float = 0.6, **data: Any) -> Message:
    """A message as it leaves the intent classifier and FallbackClassifier: intent, ranking, maybe entities."""
    fields: dict[str, Any] = {"intent": {"name": intent, "confidence": confidence},
                              "intent_ranking": [{"name": intent, "confidence": confidence},
                                                 {"name": "greet", "confidence": 1 - confidence}],
                              "entities": [], **data}
    if text is not None:
        fields["text"] = text
    return Message(data=fields)


def verdict(msg: Message) -> dict[str, Any]:
    return msg.get(VERDICT_PROPERTY)


def test_a_disclosure_becomes_the_hand_off_intent_with_its_verdict(component: SafeguardingScreenComponent) -> None:
    """Intent safeguarding_disclosure at 1.0, first in the ranking (the classifier's guesses after it); the verdict
    (label, urgency, category, bands, language) in the parse data, not as entities."""
    msg = message("my stepdad hits me when he is drunk")
    component.process([msg])
    assert msg.get("intent") == {"name": DISCLOSURE_INTENT, "confidence": 1.0}
    assert [r["name"] for r in msg.get("intent_ranking")] == [DISCLOSURE_INTENT, "ask_policy", "greet"]
    assert verdict(msg)["label"] == "disclosure" and verdict(msg)["category"] == "physical_abuse"
    assert msg.get("entities") == [], "the verdict is not an entity (story tests compare entities)"
    output = msg.as_dict(only_output_properties=True)
    assert output["intent"]["name"] == DISCLOSURE_INTENT
    assert ScreenResult.from_dict(output[VERDICT_PROPERTY]).hand_off


def test_danger_now_routes_as_immediate(component: SafeguardingScreenComponent) -> None:
    msg = message("i want to kill myself tonight")
    component.process([msg])
    assert verdict(msg)["urgency"] == "immediate"


@pytest.mark.parametrize("text", ["hello", "can i use my phone at lunch"])
def test_questions_and_chat_keep_the_classifier_intent_and_entities(component: SafeguardingScreenComponent,
                                                                    text: str) -> None:
    """Anything the screen does not route keeps the classifier's intent, ranking and entities exactly; only the
    verdict is added."""
    msg = message(text, entities=[{"entity": "role", "value": "pupil", "start": 0, "end": 1}])
    before = dict(msg.data)
    component.process([msg])
    assert {k: v for k, v in msg.data.items() if k != VERDICT_PROPERTY} == before
    assert verdict(msg)["label"] in ("question", "other") and not verdict(msg)["check_in"]


def test_existing_entities_are_kept(component: SafeguardingScreenComponent) -> None:
    """The classifier's entities stay as they were on a handed-off message."""
    msg = message("my dad hits me with a belt", entities=[{"entity": "role", "value": "pupil"}])
    component.process([msg])
    assert msg.get("entities") == [{"entity": "role", "value": "pupil"}]
    assert verdict(msg)["label"] == "disclosure"


class RecordingScreen(SafeguardingScreen):
    """Records what the component passes and answers a fixed result."""

    def __init__(self, result: ScreenResult) -> None:
        super().__init__()
        self.result = result
        self.calls: list[tuple[str, str | None]] = []

    def warm_up(self) -> RecordingScreen:
        return self

    def screen(self, text: str, role: str | None = None) -> ScreenResult:
        self.calls.append((text, role))
        return self.result


def test_the_screen_sees_the_text_and_the_metadata_role_never_the_intent() -> None:
    """The role the channel put in the metadata reaches the screen (an unknown one does not); the intent and its
    confidence never do, so no classifier can talk a disclosure down."""
    recorder = RecordingScreen(ScreenResult("question", "none", "other", 1.0))
    component = SafeguardingScreenComponent(config(), screen=recorder)
    component.process([message("hi", intent="greet", confidence=0.93, metadata={"role": "Teacher", "school": "x"}),
                       message("hi", metadata={"role": "wizard"}), message("hi", metadata="not a dict")])
    assert recorder.calls == [("hi", "staff"), ("hi", None), ("hi", None)]


def test_the_whole_text_of_an_over_long_message_is_screened() -> None:
    """The channel gives NLU a shortened copy and the whole text in the metadata: the screen reads the whole."""
    recorder = RecordingScreen(ScreenResult("other", "none", "other", 1.0))
    component = SafeguardingScreenComponent(config(), screen=recorder)
    component.process([message("start … end", metadata={contract.FULL_TEXT_KEY: "start middle end"})])
    assert recorder.calls == [("start middle end", None)]


@pytest.mark.parametrize("result, intent", [
    (ScreenResult("concern", "standard", "online_safety", 0.8), contract.DISCLOSURE_INTENT),
    (ScreenResult("question", "none", "bullying", 0.6, check_in=True, signpost=True), contract.CHECK_IN_INTENT),
    (ScreenResult("other", "none", "other", 1.0, signpost=True, language="pl"), contract.OTHER_LANGUAGE_INTENT),
    (ScreenResult("disclosure", "high", "neglect", 1.0, signpost=True, language="pl"), contract.DISCLOSURE_INTENT),
    (ScreenResult("question", "none", "bullying", 0.9, signpost=True), "ask_policy"),
])
def test_each_verdict_routes_with_its_intent(result: ScreenResult, intent: str) -> None:
    """A hand-off (in any language) routes to the DSL, the middle band to the check-in, another language to its
    templates; a signpost-only question keeps its intent (the answer carries the signposting)."""
    component = SafeguardingScreenComponent(config(), screen=RecordingScreen(result))
    msg = message("some words")
    component.process([msg])
    assert msg.get("intent")["name"] == intent
    assert ScreenResult.from_dict(verdict(msg)) == result


def test_a_very_long_message_is_bounded_but_its_end_is_still_screened() -> None:
    """Past max_chars the screen sees the first and last halves, so a disclosure at the end is kept."""
    recorder = RecordingScreen(ScreenResult("disclosure", "immediate", "self_harm", 1.0))
    component = SafeguardingScreenComponent(config(max_chars=1000), screen=recorder)
    msg = message("blah " * 20_000 + "i want to kill myself tonight")
    component.process([msg])
    (text, _), = recorder.calls
    assert len(text) <= 1001
    assert text.endswith("i want to kill myself tonight")
    assert msg.get("intent")["name"] == DISCLOSURE_INTENT


def test_a_disclosure_at_the_end_of_100k_characters_is_found(component: SafeguardingScreenComponent) -> None:
    """End to end with the real screen logic: 100k characters of filler, then a disclosure."""
    msg = message("I was wondering about the homework rules. " * 2400 + " my uncle touches me at night")
    component.process([msg])
    assert msg.get("intent")["name"] == DISCLOSURE_INTENT


@pytest.mark.parametrize("odd", [
    message(""), message("   "), message(None), message(12345), message("😂😂😂"),
    Message(data={"text": "my dad hits me"}),                                       # no intent at all
    message("my dad hits me", intent=None, confidence=7.0),                        # nonsense confidence
    Message(data={"text": "my dad hits me", "intent": "not a dict", "intent_ranking": None}),
])
def test_odd_messages_never_raise(component: SafeguardingScreenComponent, odd: Message) -> None:
    """Empty, missing, non-text, emoji-only and malformed messages are processed without an exception."""
    assert component.process([odd]) == [odd]


def test_a_failing_screen_marks_the_turn_for_signposting_and_logs_no_text(caplog: pytest.LogCaptureFixture) -> None:
    """If the screen itself breaks, the assistant carries on with the classifier's intent, the turn is marked so
    the person still gets the safety numbers, and the log names the error type, not the message."""

    class Broken(RecordingScreen):
        def screen(self, *args: Any, **kwargs: Any) -> ScreenResult:
            raise RuntimeError("boom: secret words")

    component = SafeguardingScreenComponent(config(), screen=Broken(ScreenResult("other", "none", "other", 1.0)))
    msg = message("my secret words")
    with caplog.at_level(logging.ERROR):
        component.process([msg])
    assert msg.get("intent") == {"name": "ask_policy", "confidence": 0.6}
    assert verdict(msg) == SCREEN_FAILED.to_dict() and verdict(msg)["signpost"]
    assert "RuntimeError" in caplog.text
    assert "secret" not in caplog.text


@pytest.mark.parametrize("bad", [0, 150, "lots", 2.5, True])
def test_max_chars_must_be_a_sensible_whole_number(bad: Any) -> None:
    """A misconfigured bound is an exact error when the component is built."""
    with pytest.raises(ValueError, match=rf"^max_chars must be a whole number of at least 200, got {bad!r}$"):
        SafeguardingScreenComponent(config(max_chars=bad))


def test_without_overrides_the_component_uses_default_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no model or paths in its config the component runs exactly default_screen()."""
    monkeypatch.setenv("POLICYBOT_EMBEDDING_MODEL", "fake")
    default_screen.cache_clear()
    try:
        component = SafeguardingScreenComponent(SafeguardingScreenComponent.get_default_config())
        assert component.screen is default_screen()
    finally:
        default_screen.cache_clear()


def test_rasa_registers_places_and_validates_the_component_after_the_classifiers() -> None:
    """Rasa's default recipe knows the class, runs it on FallbackClassifier's output, and the graph validates."""
    from rasa.engine import validation
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.shared.data import TrainingType

    registered = DefaultV1Recipe._from_registry(NAME)
    assert registered.clazz is SafeguardingScreenComponent
    assert registered.types == {DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER}
    assert not registered.is_trainable
    pipeline = [{"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"},
                {"name": "DIETClassifier", "epochs": 1}, {"name": "FallbackClassifier", "threshold": 0.4},
                {"name": NAME, "embedding_model": "fake", "warm_up": False}]
    model = DefaultV1Recipe().graph_config_for_recipe(
        {"recipe": "default.v1", "language": "en", "pipeline": pipeline, "policies": [{"name": "RulePolicy"}]},
        {}, TrainingType.NLU)
    validation.validate(model)
    node = next(n for name, n in model.predict_schema.nodes.items() if NAME in name)
    assert node.fn == "process"
    assert node.needs == {"messages": "run_FallbackClassifier3"}
