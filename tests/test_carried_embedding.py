"""One embedding per turn (issue 15): the NLU featurizer packs the question's vector into the parse data, Rasa carries
it to the action server as `tracker.latest_message`, and the search uses it instead of running the model again --
only for the same model and the exact same text; anything odd about it is ignored and the text embedded as before.
Fake embedder throughout (a spy counts what reaches the model)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Sequence

import numpy as np
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.action_answer_followup import ActionAnswerFollowup
from actions.action_answer_policy_question import ActionAnswerPolicyQuestion
from actions.action_set_role import ActionSetRole
from bot.core import contract
from bot.core.embedder import (CarriedEmbedding, FakeEmbedder, carried_embeddings, embed_query, pack_embedding,
                          text_digest)
from bot.qa.answer import PolicyAssistant
from bot.qa.answerability import CandidateFeaturizer
from bot.qa.index import IndexStore
from bot.qa.retrieval import Retriever
from bot.schools import SchoolDirectory
from components.sentence_embedding_featurizer import SentenceEmbeddingFeaturizer

from conftest import BEFORE_REVIEWS

PHONE = "can I use my phone in lessons?"


class SpyEmbedder(FakeEmbedder):
    """The fake embedder, noting every text it is asked to embed one or a few at a time (a query, not an index
    build)."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) <= 4:
            self.queries.extend(texts)
        return super().embed(texts)


def packed(text: str, model: str | None = None) -> dict[str, object]:
    """What the featurizer puts in the parse data for `text`."""
    embedder = FakeEmbedder()
    return pack_embedding(text, embedder.embed([text])[0], model or embedder.name)


# ------------------------------------------------------------------------------------------------ encode / decode


def test_a_packed_vector_is_small_json_without_the_words_and_comes_back_within_float16_precision() -> None:
    vector = FakeEmbedder().embed([PHONE])[0]
    payload = pack_embedding(PHONE, vector, "fake-hash-256")
    assert json.loads(json.dumps(payload)) == payload
    assert set(payload) == {"model", "dim", "digest", "f16"}
    assert payload["digest"] == text_digest(PHONE) and len(str(payload["digest"])) == 32
    assert len(base64.b64decode(str(payload["f16"]))) == 2 * vector.size
    assert "phone" not in json.dumps(payload)
    carried = CarriedEmbedding.unpack(payload)
    assert carried is not None and carried.matches("fake-hash-256", PHONE, vector.size)
    assert carried.vector.dtype == np.float32 and np.isclose(np.linalg.norm(carried.vector), 1.0)
    assert float(carried.vector @ vector) > 1 - 1e-5
    assert np.abs(carried.vector - vector).max() < 1e-3


def test_the_carried_vector_replaces_the_model_only_for_the_same_model_and_exact_text() -> None:
    spy = SpyEmbedder()
    with carried_embeddings([packed(PHONE)]):
        reused = embed_query(spy, PHONE)
        assert spy.queries == []
        assert np.allclose(reused, FakeEmbedder().embed([PHONE])[0], atol=1e-3)
        embed_query(spy, PHONE + " ")  # not the exact text
        embed_query(spy, "can I use my phone at lunch?")
        embed_query(spy, PHONE, dim=384)  # the index wants another dimension
    assert spy.queries == [PHONE + " ", "can I use my phone at lunch?", PHONE]
    embed_query(spy, PHONE)  # closed: nothing is carried any more
    assert spy.queries[-1] == PHONE


def test_another_models_vector_is_not_used() -> None:
    spy = SpyEmbedder()
    with carried_embeddings([packed(PHONE, model="packaged:all-MiniLM-L6-v2")]):
        embed_query(spy, PHONE)
    assert spy.queries == [PHONE]


def test_a_vector_for_other_words_is_not_used() -> None:
    spy = SpyEmbedder()
    payload = {**packed(PHONE), "digest": text_digest("can I use my phone at lunch?")}
    with carried_embeddings([payload]):
        vector = embed_query(spy, PHONE)
    assert spy.queries == [PHONE]
    assert np.allclose(vector, FakeEmbedder().embed([PHONE])[0])


def _corrupt(payload: dict[str, Any]) -> list[object]:
    half = base64.b64decode(str(payload["f16"]))
    return [
        None, "not a dict", [payload], {},
        {**payload, "f16": "!!!not base64!!!"},
        {**payload, "f16": str(payload["f16"])[:-8]},  # cut short
        {**payload, "f16": base64.b64encode(half + b"\x00\x00").decode()},  # one number too many
        {**payload, "dim": 128},
        {**payload, "dim": "256"}, {**payload, "dim": True}, {**payload, "dim": 0}, {**payload, "dim": 10**9},
        {**payload, "model": None}, {**payload, "model": ""},
        {**payload, "digest": "abc"}, {**payload, "digest": None},
        {**payload, "f16": base64.b64encode(np.zeros(256, "<f2").tobytes()).decode()},  # not unit length
        {**payload, "f16": base64.b64encode(np.full(256, np.nan, "<f2").tobytes()).decode()},
        {**payload, "f16": base64.b64encode((np.frombuffer(half, "<f2") * 3).astype("<f2").tobytes()).decode()},
        {**payload, "f16": 12345},
    ]


def test_anything_malformed_is_ignored_and_the_text_embedded_without_failing() -> None:
    payloads = _corrupt(packed(PHONE))
    assert all(CarriedEmbedding.unpack(bad) is None for bad in payloads)
    spy = SpyEmbedder()
    with carried_embeddings(payloads) as carried:
        assert carried == ()
        vector = embed_query(spy, PHONE)
    assert spy.queries == [PHONE]
    assert np.allclose(vector, FakeEmbedder().embed([PHONE])[0])


# ------------------------------------------------------------------------------------------------ the featurizer


def featurizer() -> SentenceEmbeddingFeaturizer:
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "embedding_model": "fake"}
    return SentenceEmbeddingFeaturizer("sentence_embedding", config)


def test_the_featurizer_puts_the_vector_it_computed_in_the_parse_data() -> None:
    message = Message(data={TEXT: PHONE})
    featurizer().process([message])
    output = message.as_dict(only_output_properties=True)
    carried = CarriedEmbedding.unpack(output[contract.EMBEDDING_KEY])
    assert carried is not None and carried.matches(FakeEmbedder().name, PHONE)
    _sequence, sentence = message.get_dense_features(TEXT)
    assert np.abs(carried.vector - sentence.features.reshape(-1)).max() < 1e-3


def test_training_examples_and_messages_without_text_get_no_vector() -> None:
    training = TrainingData([Message(data={TEXT: PHONE, "intent": "ask_policy"})])
    featurizer().process_training_data(training)
    empty = Message(data={TEXT: ""})
    featurizer().process([empty])
    assert contract.EMBEDDING_KEY not in training.training_examples[0].data
    assert contract.EMBEDDING_KEY not in empty.data


def sdk_tracker_through_rasa(text: str, slots: dict[str, Any], earlier: Sequence[str] = (),
                             entities: Sequence[dict[str, Any]] = ()) -> Tracker:
    """What the action server gets for a conversation whose user messages are `earlier` then `text`: each parsed
    by Rasa's own MessageProcessor code around the featurizer, recorded as UserUttered, and the tracker sent the
    way Rasa calls an action (current_state with every event, as JSON)."""
    tracker = DialogueStateTracker("pupil-1", [])
    for turn, said in enumerate((*earlier, text)):
        message = Message(data={TEXT: said, "intent": {"name": "ask_policy", "confidence": 1.0}})
        message.set("intent", {"name": "ask_policy", "confidence": 1.0}, add_to_output=True)
        if turn == len(earlier):
            message.set("entities", list(entities), add_to_output=True)
        featurizer().process([message])
        processor = SimpleNamespace(graph_runner=SimpleNamespace(run=lambda inputs, targets: {"nlu": [message]}),
                                    model_metadata=SimpleNamespace(nlu_target="nlu"))
        parse_data = MessageProcessor._parse_message_with_graph(processor, UserMessage(said), tracker)
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(said, parse_data["intent"], parse_data["entities"], parse_data))
    state = json.loads(json.dumps(tracker.current_state(EventVerbosity.ALL)))
    state["slots"] = slots
    return Tracker.from_dict(state)


def test_rasa_carries_the_vector_to_the_action_servers_latest_message() -> None:
    sdk = sdk_tracker_through_rasa(PHONE, {})
    carried = CarriedEmbedding.unpack(sdk.latest_message.get(contract.EMBEDDING_KEY))
    assert carried is not None and carried.matches(FakeEmbedder().name, PHONE)


# ------------------------------------------------------------------------------------------------ the action path


@pytest.fixture
def spy(schools: SchoolDirectory, store: IndexStore, data_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> SpyEmbedder:
    """The action server's services over the tiny schools, answering through a spy embedder (indexes built)."""
    monkeypatch.setenv("POLICYBOT_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("POLICYBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'policybot.db'}")
    for cached in (services.schools, services.feedback):
        cached.cache_clear()
    embedder = SpyEmbedder()
    assistant = PolicyAssistant(Retriever(schools=schools, store=store, embedder=embedder), today=BEFORE_REVIEWS)
    for school in schools.slugs:
        assistant.retriever.index_for(school)
    embedder.queries.clear()
    monkeypatch.setattr(services, "assistant", lambda: assistant)
    yield embedder
    for cached in (services.schools, services.feedback):
        cached.cache_clear()


def run(action: Action, tracker: Tracker) -> list[str]:
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker, {}))
    return [m.get("text") or m.get("response") for m in dispatcher.messages]


def plain_tracker(text: str, slots: dict[str, Any], parse_extra: dict[str, Any] | None = None,
                  events: list[dict[str, Any]] | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": "ask_policy", "confidence": 1.0}, "entities": [],
              **(parse_extra or {})}
    return Tracker("pupil-1", slots, latest, events or [], False, None, None, "action_listen")


def test_the_answer_uses_the_carried_vector_and_does_not_run_the_model(spy: SpyEmbedder) -> None:
    slots = {"school": "alder", "role": "pupil"}
    with_vector = run(ActionAnswerPolicyQuestion(), sdk_tracker_through_rasa(PHONE, slots))
    assert spy.queries == []
    without = run(ActionAnswerPolicyQuestion(), plain_tracker(PHONE, slots))
    assert spy.queries == [PHONE]
    assert with_vector == without and "allowed with staff permission" in with_vector[0]


def test_a_question_the_search_rewrites_is_embedded_as_before(spy: SpyEmbedder) -> None:
    """The school's own name is taken out before the search, so the carried vector (of the words as said) is not
    the one the search needs."""
    said = "can I use my phone in lessons at Alder?"
    run(ActionAnswerPolicyQuestion(), plain_tracker(said, {"school": "alder", "role": "pupil"},
                                                    {contract.EMBEDDING_KEY: packed(said)}))
    assert spy.queries == ["can I use my phone in lessons?"]


def test_a_follow_up_with_added_words_is_embedded_and_a_bare_one_reuses_the_earlier_vector(spy: SpyEmbedder) -> None:
    slots = {"school": "alder", "role": "pupil", "last_question": PHONE}
    sdk = sdk_tracker_through_rasa("and at lunch?", slots, earlier=[PHONE])
    run(ActionAnswerFollowup(), sdk)
    assert spy.queries == [f"{PHONE.rstrip('?')} — and at lunch?"]
    spy.queries.clear()
    run(ActionAnswerFollowup(), sdk_tracker_through_rasa("what about staff?", slots, earlier=[PHONE]))
    assert spy.queries == []  # the search is the earlier question again: its own vector is in the tracker


def test_the_question_that_waited_for_the_role_reuses_its_vector(spy: SpyEmbedder) -> None:
    sdk = sdk_tracker_through_rasa("I'm a pupil", {"school": "alder", "pending_question": PHONE},
                                   earlier=[PHONE, "alder"], entities=[{"entity": "role", "value": "pupil"}])
    replies = run(ActionSetRole(), sdk)
    assert any("allowed with staff permission" in (r or "") for r in replies)
    assert spy.queries == []


def test_a_corrupt_vector_never_fails_the_turn(spy: SpyEmbedder) -> None:
    slots = {"school": "alder", "role": "pupil"}
    for bad in _corrupt(packed(PHONE)):
        replies = run(ActionAnswerPolicyQuestion(), plain_tracker(PHONE, slots, {contract.EMBEDDING_KEY: bad}))
        assert "allowed with staff permission" in replies[0]
    assert spy.queries == [PHONE] * len(_corrupt(packed(PHONE)))


def test_the_answer_models_candidates_use_the_carried_vector(schools: SchoolDirectory, store: IndexStore) -> None:
    """The learned answer path (CandidateFeaturizer) runs the model once for a question, for its word pieces and its
    vector together; with a carried vector it still runs once (the word pieces need it), never twice, and the
    candidates are the same."""
    spy = SpyEmbedder()
    retriever = Retriever(schools=schools, store=store, embedder=spy)
    retriever.index_for("alder")
    spy.queries.clear()
    fresh = CandidateFeaturizer(retriever).candidates("alder", PHONE, "pupil")
    assert spy.queries == [PHONE]
    with carried_embeddings([packed(PHONE)]):
        reused = CandidateFeaturizer(retriever).candidates("alder", PHONE, "pupil")
    assert spy.queries == [PHONE, PHONE]
    assert [h.passage.id for h in reused.hits] == [h.passage.id for h in fresh.hits]
    assert np.allclose(reused.features, fresh.features, atol=1e-3)


# ------------------------------------------------------------------------------------------------ privacy


def test_the_vector_is_in_no_log_and_not_in_the_feedback_store(spy: SpyEmbedder, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    payload = packed(PHONE)
    caplog.set_level(logging.DEBUG)
    run(ActionAnswerPolicyQuestion(), plain_tracker(PHONE, {"school": "alder", "role": "pupil"},
                                                    {contract.EMBEDDING_KEY: payload}))
    services.feedback()  # the store the answer wrote its question to
    stored = (tmp_path / "policybot.db").read_bytes()
    assert PHONE.encode() in stored  # the gaps report keeps the question's words ...
    for piece in (str(payload["f16"])[:24], str(payload["digest"])):  # ... and nothing of its vector
        assert piece.encode() not in stored
        assert piece not in caplog.text


def test_the_vector_is_encrypted_in_the_tracker_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.fernet import Fernet
    from rasa.shared.core.domain import Domain

    from components.tracker_store import EncryptedSQLTrackerStore

    monkeypatch.setenv("POLICYBOT_TRACKER_KEY", Fernet.generate_key().decode())
    payload = packed(PHONE)
    tracker = DialogueStateTracker("pupil-1", [])
    tracker.update(UserUttered(PHONE, {"name": "ask_policy", "confidence": 1.0}, [],
                               {"intent": {"name": "ask_policy", "confidence": 1.0}, "entities": [],
                                contract.EMBEDDING_KEY: payload}))
    store = EncryptedSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    asyncio.run(store.save(tracker))
    assert str(payload["f16"])[:24].encode() not in (tmp_path / "tracker.db").read_bytes()
    again = asyncio.run(store.retrieve("pupil-1"))
    assert again is not None and again.latest_message.parse_data[contract.EMBEDDING_KEY] == payload
