"""The closed-list entity extractor: what it learns from annotations, synonyms and lookup tables, longest matches on
token boundaries, the learned typo threshold, the per-intent annotation rate, Rasa's entity format and the
synonym mapper after it, saving and loading as JSON, and config errors. Small hand-made training sets only."""

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
from rasa.nlu.extractors.entity_synonyms import EntitySynonymMapper
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

if importlib.util.find_spec("components") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.closed_list_entities import (  # noqa: E402
    MODEL_FILE,
    ClosedListEntityExtractor,
    normalise,
    osa_distance,
    tokens,
)


def example(text: str, intent: str, *spans: tuple[str, str]) -> Message:
    """A message with each (surface, type) in `spans` annotated at its first occurrence."""
    entities = []
    for surface, entity_type in spans:
        start = text.index(surface)
        entities.append({"entity": entity_type, "start": start, "end": start + len(surface), "value": surface})
    return Message(data={TEXT: text, "intent": intent, "entities": entities})


def training_data() -> TrainingData:
    examples = [
        example("i go to kingsmeadow", "inform_school", ("kingsmeadow", "school")),
        example("my school is ouston primary", "inform_school", ("ouston primary", "school")),
        example("we are at wyre forest school", "inform_school", ("wyre forest school", "school")),
        example("i'm a parent at ouston", "inform_school", ("parent", "role"), ("ouston", "school")),
        example("i'm a teacher", "inform_role", ("teacher", "role")),
        example("i'm a governor", "inform_role", ("governor", "role")),
        example("i am a pupil", "inform_role", ("pupil", "role")),
        example("can teachers see my messages", "ask_policy", ("teachers", "role")),
        example("can parents film the play", "ask_policy", ("parents", "role")),
        example("who is the dsl", "who_is", ("dsl", "post")),
        example("who's the governor for online safety", "who_is", ("governor", "post")),
        example("who is the headteacher at kingsmeadow", "who_is", ("headteacher", "post"),
                ("kingsmeadow", "school")),
        # New staff asking for an induction: the annotators never tag the role word here.
        example("i'm a new teacher", "start_induction"),
        example("new teacher induction", "start_induction"),
        example("what should a new parent helper know", "start_induction"),
        example("first week as a teacher", "start_induction"),
        example("how do i set up parental controls", "ask_policy"),
        example("what about child-on-child abuse", "ask_policy"),
        example("hello there", "greet"),
    ]
    synonyms = {"kingsmeadow school": "kingsmeadow", "kings meadow": "kingsmeadow", "ouston primary": "ouston",
                "wyre forest": "wyre-forest", "wyre forest school": "wyre-forest", "teachers": "staff",
                "teacher": "staff", "parents": "parent", "designated safeguarding lead": "dsl",
                "head teacher": "headteacher"}
    lookups = [{"name": "school", "elements": ["kingsmeadow", "kings meadow", "ouston", "wyre forest"]},
               {"name": "post", "elements": ["dsl", "designated safeguarding lead", "headteacher",
                                             "head teacher"]}]
    return TrainingData(examples, entity_synonyms=synonyms, lookup_tables=lookups)


def new_extractor(tmp_path: Path, **overrides: Any) -> tuple[ClosedListEntityExtractor, LocalModelStorage,
                                                              Resource]:
    (tmp_path / "storage").mkdir(parents=True, exist_ok=True)
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("closed_list_entities")
    config = {**ClosedListEntityExtractor.get_default_config(), **overrides}
    context = ExecutionContext(GraphSchema({}), "test")
    return ClosedListEntityExtractor.create(config, storage, resource, context), storage, resource


@pytest.fixture()
def trained(tmp_path: Path) -> ClosedListEntityExtractor:
    extractor, _, _ = new_extractor(tmp_path)
    extractor.train(training_data())
    return extractor


def extract(extractor: ClosedListEntityExtractor, text: str, intent: str | None = None) -> list[dict]:
    message = Message(data={TEXT: text})
    if intent:
        message.set("intent", {"name": intent, "confidence": 0.9})
    extractor.process([message])
    return message.get("entities", [])


def found(extractor: ClosedListEntityExtractor, text: str, intent: str | None = None) -> list[tuple]:
    return [(e["entity"], e["value"], text[e["start"]:e["end"]]) for e in extract(extractor, text, intent)]


def test_tokens_and_normalised_forms_keep_hyphenated_and_apostrophe_words_whole() -> None:
    assert [t for t, _s, _e in tokens("King\u2019s Meadow, child-on-child!")] == ["king's", "meadow",
                                                                               "child-on-child"]
    assert normalise("  Wyre   FOREST ") == "wyre forest"


def test_the_osa_distance_counts_a_swap_as_one_edit() -> None:
    assert osa_distance("pupils", "puplis") == 1
    assert osa_distance("teacher", "teachr") == 1
    assert osa_distance("", "abc") == 3
    assert osa_distance("kingsmeadow", "kingsmeadow") == 0


def test_it_learns_annotations_synonyms_and_lookups_with_canonical_values(trained: ClosedListEntityExtractor) -> None:
    forms = trained.lexicon.forms
    assert forms["kingsmeadow school"]["value"] == "kingsmeadow"  # a synonym, typed by its value's annotations
    assert forms["kings meadow"]["value"] == "kingsmeadow"  # from the lookup table and the synonyms
    assert forms["teachers"]["value"] == "staff" and "role" in forms["teachers"]["types"]
    assert forms["designated safeguarding lead"]["types"] == {"post": 1}


def test_longest_case_insensitive_match_on_token_boundaries(trained: ClosedListEntityExtractor) -> None:
    assert found(trained, "I'm at WYRE FOREST SCHOOL", "inform_school") == [
        ("school", "wyre-forest", "WYRE FOREST SCHOOL")]
    assert found(trained, "who is the designated safeguarding lead at Kings Meadow", "who_is") == [
        ("post", "dsl", "designated safeguarding lead"), ("school", "kingsmeadow", "Kings Meadow")]
    # "parent" inside "parental" and "child" inside "child-on-child" are not token matches.
    assert found(trained, "can i turn on parental controls", "ask_policy") == []


def test_typos_are_matched_to_the_nearest_form_at_the_learned_threshold(trained: ClosedListEntityExtractor) -> None:
    threshold = trained.lexicon.threshold
    assert threshold is not None and 0.5 <= threshold <= 0.95
    assert found(trained, "i go to kingsmedow", "inform_school") == [("school", "kingsmeadow", "kingsmedow")]
    assert found(trained, "my school is ouston primray", "inform_school") == [
        ("school", "ouston", "ouston primray")]
    assert found(trained, "i go to kingsmeadow", "inform_school") == [("school", "kingsmeadow", "kingsmeadow")]
    # An exact match is not stretched over a neighbouring word.
    assert found(trained, "we go to kingsmeadow now", "inform_school") == [
        ("school", "kingsmeadow", "kingsmeadow")]


def test_common_words_run_together_are_not_a_misspelt_name(trained: ClosedListEntityExtractor) -> None:
    """"use on" squeezes to two edits from "ouston": every correctly spelt question with "use on" in it was answered
    from Ouston's policy. A misspelling has a misspelt word in it; a window of as many words as the form is still
    compared word by word."""
    assert found(trained, "is my internet use on school laptops monitored", "ask_policy") == []
    assert found(trained, "is social media use on school systems ok", "ask_policy") == []
    assert found(trained, "i go to kings medow", "inform_school") == [("school", "kingsmeadow", "kings medow")]
    assert found(trained, "we are at wire forest", "inform_school") == [("school", "wyre-forest", "wire forest")]


def test_windows_the_annotators_left_untagged_are_never_typo_matched(tmp_path: Path) -> None:
    extractor, _, _ = new_extractor(tmp_path, fuzzy_threshold=0.7)  # "parental" is 0.75 similar to "parent"
    extractor.train(training_data())
    assert {"parental", "new teacher"} <= extractor.lexicon.non_entities
    assert found(extractor, "what is parental monitoring", "ask_policy") == []
    assert found(extractor, "i go to kingsmedow", "inform_school") == [("school", "kingsmeadow", "kingsmedow")]


def test_a_fixed_or_disabled_threshold_is_respected(tmp_path: Path) -> None:
    off, _, _ = new_extractor(tmp_path / "off", fuzzy_threshold=None)
    off.train(training_data())
    assert found(off, "i go to kingsmedow", "inform_school") == []
    fixed, _, _ = new_extractor(tmp_path / "fixed", fuzzy_threshold=0.99)
    fixed.train(training_data())
    assert fixed.lexicon.threshold == 0.99


def test_intents_where_list_words_are_not_annotated_get_no_entity(trained: ClosedListEntityExtractor) -> None:
    assert found(trained, "i'm a new teacher here", "start_induction") == []
    assert found(trained, "i'm a teacher here", "inform_role") == [("role", "staff", "teacher")]
    # Without an intent (no classifier before it) the type's overall rate decides.
    assert found(trained, "teacher") == [("role", "staff", "teacher")]


def test_an_ambiguous_form_takes_its_type_from_the_intent(trained: ClosedListEntityExtractor) -> None:
    assert found(trained, "who is the governor", "who_is") == [("post", "governor", "governor")]
    assert found(trained, "i'm a governor", "inform_role") == [("role", "governor", "governor")]


def test_entities_are_in_rasa_format_and_the_synonym_mapper_keeps_working(trained: ClosedListEntityExtractor,
                                                                          tmp_path: Path) -> None:
    message = Message(data={TEXT: "can teachers see it", "intent": {"name": "ask_policy", "confidence": 1.0}})
    message.set("entities", [{"entity": "other", "value": "x", "start": 0, "end": 3, "extractor": "Earlier"}])
    trained.process([message])
    earlier, entity = message.get("entities")
    assert earlier["extractor"] == "Earlier"  # entities from earlier extractors are kept
    assert set(entity) == {"entity", "value", "start", "end", "confidence_entity", "extractor"}
    assert entity["extractor"] == "ClosedListEntityExtractor"
    assert 0 < entity["confidence_entity"] <= 1
    assert (entity["start"], entity["end"]) == (4, 12)
    (tmp_path / "mapper").mkdir()
    storage = LocalModelStorage(tmp_path / "mapper")
    mapper = EntitySynonymMapper.create({}, storage, Resource("mapper"), ExecutionContext(GraphSchema({}), "t"))
    mapper.train(training_data())
    mapper.process([message])
    assert message.get("entities")[1]["value"] == "staff"


def test_a_saved_model_loads_back_as_json_with_the_same_results(tmp_path: Path) -> None:
    extractor, storage, resource = new_extractor(tmp_path)
    extractor.train(training_data())
    loaded = ClosedListEntityExtractor.load(extractor._config, storage, resource,
                                            ExecutionContext(GraphSchema({}), "test"))
    with storage.read_from(resource) as directory:
        assert [p.name for p in directory.iterdir()] == [MODEL_FILE]
        json.loads((directory / MODEL_FILE).read_text(encoding="utf-8"))
    for text, intent in [("i go to kingsmedow", "inform_school"), ("who is the dsl", "who_is"),
                         ("i'm a new teacher", "start_induction")]:
        assert found(loaded, text, intent) == found(extractor, text, intent)


def test_untrained_it_adds_nothing(tmp_path: Path) -> None:
    extractor, storage, resource = new_extractor(tmp_path)
    assert extract(extractor, "kingsmeadow") == []
    loaded = ClosedListEntityExtractor.load(extractor._config, storage, resource,
                                            ExecutionContext(GraphSchema({}), "test"))
    assert extract(loaded, "kingsmeadow") == []


@pytest.mark.parametrize(("setting", "bad", "message"), [
    ("fuzzy_threshold", 1.5, r"fuzzy_threshold must be 'auto', null or a number in \(0, 1\], got 1.5"),
    ("fuzzy_threshold", "high", "fuzzy_threshold must be"),
    ("min_annotation_rate", 2, r"min_annotation_rate must be a number in \[0, 1\], got 2"),
    ("char_ngram_range", [3, 1], r"char_ngram_range must be \[low, high\]"),
])
def test_bad_settings_are_refused_naming_the_setting(tmp_path: Path, setting: str, bad: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        new_extractor(tmp_path, **{setting: bad})


def test_rasa_registers_it_as_a_trainable_entity_extractor() -> None:
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    registered = DefaultV1Recipe._from_registry("components.closed_list_entities.ClosedListEntityExtractor")
    assert registered.clazz is ClosedListEntityExtractor
    assert registered.types == {DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR}
    assert registered.is_trainable


def test_the_shipped_config_runs_it_after_the_intent_and_before_the_synonym_mapper_and_validates() -> None:
    import yaml
    from rasa.engine import validation
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.shared.data import TrainingType

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yml").read_text(encoding="utf-8"))
    names = [component["name"] for component in config["pipeline"]]
    assert names.index("components.linear_intent_classifier.LinearIntentClassifier") < names.index(
        "components.closed_list_entities.ClosedListEntityExtractor") < names.index("EntitySynonymMapper")
    validation.validate(DefaultV1Recipe().graph_config_for_recipe(config, {}, TrainingType.NLU))
