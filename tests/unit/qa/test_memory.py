"""The question memory: which passages answered the school's earlier questions that read like this one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.qa import training
from bot.qa.answerability import (CANDIDATE_FEATURES, QUESTION_FEATURES, AnswerModel, Candidates, LogisticHead,
                                  question_features)
from bot.qa.memory import ASKED_FEATURES, HEAD_MEMORY_FEATURES, MEMORY_FEATURES, QuestionMemory
from bot.qa.reading import READING_FEATURES
from bot.qa.retrieval import Retriever
from test_answer_model import TINY_CORPUS, tiny_corpus


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


#: Three remembered questions at alder (two answered by passage "a", one the policy does not answer) and one at
#: birch, answered by passage "b", asked in exactly the words of the question below.
MEMORY = QuestionMemory(
    ("alder", "alder", "alder", "birch"),
    np.stack([_unit(1, 0.1, 0), _unit(0.9, 0.3, 0), _unit(0, 0, 1), _unit(1, 0, 0)]),
    (frozenset({"a"}), frozenset({"a"}), frozenset(), frozenset({"b"})))
ASKED = _unit(1, 0, 0)
AT = {name: MEMORY_FEATURES.index(name) for name in MEMORY_FEATURES}
#: The same questions with their words: the second alder one shares the rare word "bluetooth" with the question.
WORDY = QuestionMemory(MEMORY.schools, MEMORY.vectors, MEMORY.answered_by,
                       ({"phone": 1.0}, {"bluetooth": 4.0, "phone": 1.0}, {"bluetooth": 4.0, "lunch": 2.0},
                        {"phone": 1.0}))


def test_a_passage_that_answered_a_question_like_this_one_stands_out() -> None:
    rows = MEMORY.read("alder", ASKED, ["a", "b", "c"])[0]
    assert rows[0, AT["asked_before"]] == pytest.approx(float(ASKED @ MEMORY.vectors[0]), abs=1e-6)
    assert rows[0, AT["asked_before_share"]] > 0.5 and rows[0, AT["asked_before_gap"]] == 0.0
    # Passage "b" answered the birch question word for word, but this is alder's memory.
    assert rows[1].tolist()[:2] == [0.0, 0.0] and rows[1, AT["asked_before_gap"]] < 0.0
    assert rows[2].tolist()[:2] == [0.0, 0.0]
    # Without words on both sides, no word overlap.
    assert not rows[:, AT["asked_before_words"]].any()
    assert not WORDY.read("alder", ASKED, ["a"])[0][:, AT["asked_before_words"]].any()


def test_what_the_askers_own_group_asked_counts_apart_from_what_others_asked() -> None:
    """A pupil asking what staff asked about: the staff questions' passage is not the pupils' answer, and the
    pupils' own question like it was not answered (a staff rule asked about by a pupil)."""
    roles = QuestionMemory(MEMORY.schools, MEMORY.vectors, MEMORY.answered_by, roles=("staff", "any", "pupil", "pupil"))
    close = _unit(1, 0.05, 0.6)  # nearest the first staff question, then the pupils' unanswered one
    as_pupil = roles.read("alder", close, ["a"], role="pupil")[0][0]
    as_staff = roles.read("alder", close, ["a"], role="staff")[0][0]
    # The second question's asker is unknown, so it counts for every group; the first only for staff.
    assert as_pupil[AT["asked_before_role"]] == pytest.approx(float(close @ MEMORY.vectors[1]), abs=1e-6)
    assert as_staff[AT["asked_before_role"]] == pytest.approx(float(close @ MEMORY.vectors[0]), abs=1e-6)
    assert as_pupil[AT["asked_before"]] == as_staff[AT["asked_before"]]
    margin = ASKED_FEATURES.index("asked_role_margin")
    assert roles.read("alder", close, (), role="staff")[1][margin] > roles.read("alder", close, (), role="pupil")[1][margin]
    # Without roles remembered, or without the asker's, the role features are zero.
    assert MEMORY.read("alder", close, ["a"], role="pupil")[0][0, AT["asked_before_role"]] == 0.0
    assert roles.read("alder", close, ())[1][margin] == 0.0
    with pytest.raises(ValueError, match="the role of every question or of none, got 1 for 4"):
        QuestionMemory(MEMORY.schools, MEMORY.vectors, MEMORY.answered_by, roles=("pupil",))


def test_a_passage_that_answered_a_question_sharing_its_rare_words_stands_out() -> None:
    words = {"bluetooth": 4.0, "phone": 1.0}
    rows = WORDY.read("alder", ASKED, ["a", "b"], words=words)[0]
    assert rows[0, AT["asked_before_words"]] == pytest.approx(1.0)  # the second question, word for word
    assert rows[0, AT["asked_before_words_gap"]] == 0.0 and rows[1, AT["asked_before_words_gap"]] == pytest.approx(-1)
    left_out = WORDY.read("alder", ASKED, ["a"], leave_out=1, words=words)[0]
    assert left_out[0, AT["asked_before_words"]] == pytest.approx(1.0 / 5.0)  # shares "phone" (1) of 5 with row 0
    # The unanswered question shares "bluetooth" (4 of 4 + 1 + 2 - 4 = 7); the answered one all five.
    margin = WORDY.read("alder", ASKED, (), words=words)[1][ASKED_FEATURES.index("asked_words_margin")]
    assert margin == pytest.approx(1.0 - 4.0 / 7.0)


def test_a_question_being_trained_on_never_finds_itself() -> None:
    alone = QuestionMemory(("alder",), ASKED[None, :], (frozenset({"a"}),))
    assert not alone.read("alder", ASKED, ["a"], leave_out=0)[0].any()
    assert alone.read("alder", ASKED, ["a"])[0][0, 0] == pytest.approx(1.0)
    without_first = MEMORY.read("alder", ASKED, ["a"], leave_out=0)[0]
    assert without_first[0, 0] == pytest.approx(float(ASKED @ MEMORY.vectors[1]), abs=1e-6)


def test_a_school_without_remembered_questions_gets_the_same_row_for_every_candidate() -> None:
    """All zeros: a choice among the candidates then ranks them as the model without a memory would."""
    for memory, school in ((MEMORY, "cedar"), (QuestionMemory.empty(3), "alder")):
        assert not memory.read(school, ASKED, ["a", "b"])[0].any()


def test_the_memory_is_stored_as_plain_arrays_and_read_back_the_same() -> None:
    for memory in (MEMORY, WORDY):
        again = QuestionMemory.from_arrays(memory.arrays())
        assert again.schools == memory.schools and again.answered_by == memory.answered_by
        assert again.words == memory.words
        assert np.array_equal(again.vectors, memory.vectors)
        assert all(a.dtype != object for a in memory.arrays().values())


def test_a_memory_with_rows_missing_is_an_exact_error() -> None:
    with pytest.raises(ValueError, match=r"one school, vector and passage set per question, got 2, 1 and 2"):
        QuestionMemory(("alder", "birch"), ASKED[None, :], (frozenset(), frozenset()))
    with pytest.raises(ValueError, match=r"the words of every question or of none, got 1 for 4 questions"):
        QuestionMemory(MEMORY.schools, MEMORY.vectors, MEMORY.answered_by, ({"phone": 1.0},))


def test_the_trained_model_remembers_its_questions_and_reads_the_memory_after_saving(
        retriever: Retriever, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = training.train(retriever, tiny_corpus(tmp_path, monkeypatch), folds=2).model
    assert model.memory is not None and len(model.memory.schools) == len(TINY_CORPUS)
    answered = [bool(found) for found in model.memory.answered_by]
    assert answered == [bool(row[3]) for row in TINY_CORPUS]
    training.save_atomically(model, training.model_dir(retriever.embedder.name))
    loaded = AnswerModel.load(training.model_dir(retriever.embedder.name))
    assert loaded.memory is not None and loaded.memory.answered_by == model.memory.answered_by
    assert loaded.memory.words == model.memory.words and "phone" in model.memory.words[1]
    assert loaded.memory.roles == model.memory.roles and "pupil" in model.memory.roles
    question = TINY_CORPUS[1][2]
    candidates = loaded.featurizer(retriever).candidates("alder", question, "pupil")
    assert candidates.features.shape[1] == len(loaded.candidate_features)
    remembered = candidates.features[:, -len(MEMORY_FEATURES):]
    holds = [TINY_CORPUS[1][3][0].lower() in hit.text.lower() for hit in candidates.hits]
    # Asked again in its own words, the question finds itself: its evidence passage scores 1.
    assert remembered[holds.index(True), 0] == pytest.approx(1.0, abs=1e-5)
    assert loaded.judge(candidates).hits[0].passage.id == model.judge(candidates).hits[0].passage.id


def test_a_question_like_one_the_policy_did_not_answer_says_so_to_the_answer_head() -> None:
    margin, unanswered_share, best_answered = (ASKED_FEATURES.index(n) for n in ASKED_FEATURES[:3])
    like_answered = MEMORY.read("alder", ASKED, ())[1]
    like_unanswered = MEMORY.read("alder", _unit(0, 0.1, 1), ())[1]
    assert like_answered[margin] > 0 > like_unanswered[margin]
    assert like_unanswered[unanswered_share] > 0.5 > like_answered[unanswered_share]
    assert like_answered[best_answered] == pytest.approx(float(ASKED @ MEMORY.vectors[0]), abs=1e-6)
    assert not MEMORY.read("cedar", ASKED, ())[1].any()


def test_the_answer_head_reads_the_memory_only_when_the_candidates_carry_it() -> None:
    columns = len(CANDIDATE_FEATURES) + len(READING_FEATURES) + len(MEMORY_FEATURES)
    rows = np.zeros((2, columns))
    rows[0, -len(MEMORY_FEATURES):] = [0.9, 0.8, 0.0, 0.6, 0.0, 0.5]
    rerank = np.array([0.7, 0.2])
    asked = np.array([0.3, 0.1, 0.9, 0.2, 0.4])
    read = question_features(Candidates((), rows, asked=asked), rerank)
    assert len(read) == len(QUESTION_FEATURES)
    assert [read[QUESTION_FEATURES.index(f"top_{n}")] for n in HEAD_MEMORY_FEATURES] == pytest.approx([0.9, 0.8, 0.6, 0.5])
    assert read[-len(ASKED_FEATURES):].tolist() == pytest.approx(asked.tolist())
    without = question_features(Candidates((), rows[:, :-len(MEMORY_FEATURES)]), rerank)
    assert len(without) == len(QUESTION_FEATURES)
    assert not without[-len(ASKED_FEATURES) - len(HEAD_MEMORY_FEATURES):].any()


def test_a_school_with_no_remembered_questions_is_judged_by_the_model_trained_without_a_memory(
        retriever: Retriever, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that learned to lean on the memory answers too readily where it is empty (a new school)."""
    trained = training.train(retriever, tiny_corpus(tmp_path, monkeypatch), folds=2)
    full = trained.model
    assert full.memory is not None and full.memory.remembers("birch")
    assert full.unremembered is not None and full.unremembered.memory is None
    assert trained.unremembered is not None and "crossval_unremembered" in full.meta
    # The same model as if nobody had written questions for birch.
    alder = [i for i, school in enumerate(full.memory.schools) if school == "alder"]
    memory = QuestionMemory(("alder",) * len(alder), full.memory.vectors[alder],
                            tuple(full.memory.answered_by[i] for i in alder))
    model = AnswerModel(full.rerank, full.answer, full.threshold, full.meta, full.hint_threshold, full.reader, memory,
                        full.unremembered)
    assert memory.remembers("alder") and not memory.remembers("birch")
    featurizer = model.featurizer(retriever)
    at_alder = featurizer.candidates("alder", "when can i use my phone", "pupil")
    at_birch = featurizer.candidates("birch", "when can i use my phone", "pupil")
    assert at_alder.asked is not None and at_alder.features.shape[1] == len(model.candidate_features)
    assert at_birch.asked is None and at_birch.features.shape[1] == len(model.unremembered.candidate_features)
    judged = model.judge(at_birch)
    assert judged.threshold == model.unremembered.threshold
    assert judged.answerable == model.unremembered.judge(at_birch).answerable
    training.save_atomically(model, training.model_dir(retriever.embedder.name))
    loaded = AnswerModel.load(training.model_dir(retriever.embedder.name))
    assert loaded.unremembered is not None and loaded.unremembered.threshold == model.unremembered.threshold
    assert loaded.judge(at_birch).answerable == pytest.approx(judged.answerable)
    assert loaded.judge(at_alder).answerable == pytest.approx(model.judge(at_alder).answerable)


def test_a_model_reading_a_memory_without_its_stand_in_is_an_exact_error() -> None:
    alone = QuestionMemory(("alder",), ASKED[None, :], (frozenset({"a"}),))
    head = LogisticHead(np.zeros(2), np.ones(2), np.zeros(2), 0.0)
    model = AnswerModel(head, head, 0.5, memory=alone)
    with pytest.raises(ValueError, match=r"no model for a school without remembered questions; run `make index`"):
        model.judge(Candidates((), np.zeros((0, 2))))
    with pytest.raises(ValueError, match=r"must read no memory and the same reader"):
        AnswerModel(head, head, 0.5, memory=alone, unremembered=model)
