"""The Rasa NLU component that runs the safeguarding screen on every message, built directly (fake embedder) and
fed rasa Message objects; plus a check that Rasa's default recipe places and validates it after DIET."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.safeguarding.screen import SafeguardingScreen, default_screen
from bot.safeguarding.types import ScreenResult

# Until `make install` re-installs the editable package with the new `components` package, import it from the
# repository (Rasa itself adds the working directory to sys.path).
if importlib.util.find_spec("components") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.safeguarding_screen import (  # noqa: E402
    VERDICT_PROPERTY,
    DISCLOSURE_INTENT,
    SafeguardingScreenComponent,
)

NAME = "components.safeguarding_screen.SafeguardingScreenComponent"


def config(**overrides: Any) -> dict[str, Any]:
    """The component's defaults with the fake embedder and no warm-up, plus overrides."""
    return {**SafeguardingScreenComponent.get_default_config(), "embedding_model": "fake", "warm_up": False,
            **overrides}


@pytest.fixture(scope="module")
def component() -> SafeguardingScreenComponent:
    """The component as Rasa would create it (fake embedder), warmed up once for the module."""
    created = SafeguardingScreenComponent.create(config(warm_up=True), None, None, None)  # type: ignore[arg-type]
    return created


def message(text: Any = None, intent: str = "ask_policy", confidence: float = 0.6, **data: Any) -> Message:
    """A message as it leaves DIETClassifier/FallbackClassifier: intent, ranking, maybe entities and metadata."""
    fields: dict[str, Any] = {"intent": {"name": intent, "confidence": confidence},
                              "intent_ranking": [{"name": intent, "confidence": confidence},
                                                 {"name": "greet", "confidence": 1 - confidence}],
                              "entities": [], **data}
    if text is not None:
        fields["text"] = text
    return Message(data=fields)


def verdict(msg: Message) -> dict[str, Any]:
    return msg.get(VERDICT_PROPERTY)


def test_a_disclosure_becomes_the_hand_off_intent_with_urgency_and_category(
        component: SafeguardingScreenComponent) -> None:
    """Intent safeguarding_disclosure at 1.0, first in the ranking (DIET's guesses kept after it), and entities."""
    msg = message("my stepdad hits me when he is drunk")
    component.process([msg])
    assert msg.get("intent") == {"name": DISCLOSURE_INTENT, "confidence": 1.0}
    assert [r["name"] for r in msg.get("intent_ranking")] == [DISCLOSURE_INTENT, "ask_policy", "greet"]
    assert (verdict(msg)["urgency"], verdict(msg)["category"]) == ("high", "physical_abuse")
    assert msg.get("entities") == [], "the verdict is not an entity (story tests compare entities)"
    output = msg.as_dict(only_output_properties=True)
    assert output["intent"]["name"] == DISCLOSURE_INTENT
    assert output[VERDICT_PROPERTY]["label"] == "disclosure"


def test_danger_now_routes_as_immediate(component: SafeguardingScreenComponent) -> None:
    """The urgency entity carries immediate for danger now."""
    msg = message("i want to kill myself tonight")
    component.process([msg])
    assert verdict(msg)["urgency"] == "immediate"


def test_a_concern_routes_with_urgency_concern(component: SafeguardingScreenComponent) -> None:
    """A concern is handed off too; its urgency entity says `concern` (ScreenResult.route_urgency)."""
    msg = message("my instagram got hacked and they are posting from it")
    component.process([msg])
    assert msg.get("intent")["name"] == DISCLOSURE_INTENT
    assert verdict(msg)["urgency"] == "concern"
    assert verdict(msg)["category"] == "online_safety"


@pytest.mark.parametrize("text", ["hello", "can i use my phone at lunch"])
def test_questions_and_chat_pass_through_unchanged(component: SafeguardingScreenComponent, text: str) -> None:
    """Anything not handed off keeps DIET's intent, ranking and entities exactly."""
    msg = message(text, entities=[{"entity": "role", "value": "pupil", "start": 0, "end": 1}])
    before = dict(msg.data)
    component.process([msg])
    assert msg.data == before


@pytest.mark.parametrize("text", ["what happens if someone sends nudes?", "who do I tell about cyberbullying?"])
def test_sensitive_questions_keep_their_intent_and_carry_the_topic(component: SafeguardingScreenComponent,
                                                                   text: str) -> None:
    """A sensitive question is answered (DIET's intent kept) and its topic is passed on for a gentle offer."""
    msg = message(text)
    component.process([msg])
    assert msg.get("intent") == {"name": "ask_policy", "confidence": 0.6}
    assert verdict(msg)["label"] == "question"
    assert verdict(msg)["category"] in ("online_sexual", "bullying")


def test_existing_entities_are_kept(component: SafeguardingScreenComponent) -> None:
    """DIET's entities stay as they were on a handed-off message."""
    msg = message("my dad hits me with a belt", entities=[{"entity": "role", "value": "pupil"}])
    component.process([msg])
    assert msg.get("entities") == [{"entity": "role", "value": "pupil"}]
    assert verdict(msg)["urgency"] == "high"


class RecordingScreen(SafeguardingScreen):
    """Records what the component passes and answers a fixed result."""

    def __init__(self, result: ScreenResult) -> None:
        super().__init__()
        self.result = result
        self.calls: list[tuple[str, str | None, str | None, float | None]] = []

    def warm_up(self) -> RecordingScreen:
        return self

    def screen(self, text: str, role: str | None = None, intent: str | None = None,
               intent_confidence: float | None = None) -> ScreenResult:
        self.calls.append((text, role, intent, intent_confidence))
        return self.result


def test_the_intent_confidence_and_metadata_role_reach_the_screen() -> None:
    """The screen sees DIET's intent and confidence and the role the channel put in the metadata."""
    recorder = RecordingScreen(ScreenResult("question", "none", "other", 1.0))
    component = SafeguardingScreenComponent(config(), screen=recorder)
    component.process([message("hi", intent="greet", confidence=0.93, metadata={"role": "Teacher", "school": "x"}),
                       message("hi", metadata={"role": "wizard"}), message("hi", metadata="not a dict")])
    assert recorder.calls == [("hi", "teacher", "greet", 0.93), ("hi", None, "ask_policy", 0.6),
                              ("hi", None, "ask_policy", 0.6)]


def test_a_very_long_message_is_bounded_but_its_end_is_still_screened() -> None:
    """Past max_chars the screen sees the first and last halves, so a disclosure at the end is kept."""
    recorder = RecordingScreen(ScreenResult("disclosure", "immediate", "self_harm", 1.0))
    component = SafeguardingScreenComponent(config(max_chars=1000), screen=recorder)
    msg = message("blah " * 20_000 + "i want to kill myself tonight")
    component.process([msg])
    (text, *_), = recorder.calls
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


def test_a_failing_screen_leaves_the_message_alone_and_logs_no_text(caplog: pytest.LogCaptureFixture) -> None:
    """If the screen itself breaks, the assistant carries on; the log names the error type, not the message."""

    class Broken(RecordingScreen):
        def screen(self, *args: Any, **kwargs: Any) -> ScreenResult:
            raise RuntimeError("boom: secret words")

    component = SafeguardingScreenComponent(config(), screen=Broken(ScreenResult("other", "none", "other", 1.0)))
    msg = message("my secret words")
    before = dict(msg.data)
    with caplog.at_level(logging.ERROR):
        component.process([msg])
    assert msg.data == before
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
