"""The learned word-by-word reading (bot.qa.reading): what the untrained reader scores, that training learns a
match the frozen vectors miss, and that an answer model carrying a reader stores it and reads the same after."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.qa.answerability import CANDIDATE_FEATURES, QUESTION_FEATURES, AnswerModel, AnswerModelNotReady, \
    CandidateFeaturizer, LogisticHead
from bot.qa.index import SentenceIndex
from bot.qa.reading import READING_FEATURES, Reader, ReaderRecipe, Reading, fit_reader
from bot.qa.retrieval import Retriever


def _unit(*rows: np.ndarray) -> np.ndarray:
    out = np.asarray(rows, dtype=np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _sentences(passages: list[np.ndarray]) -> SentenceIndex:
    """One sentence per passage, holding the given word-piece vectors."""
    starts = np.cumsum([0, *(len(p) for p in passages)]).astype(np.int32)
    dim = passages[0].shape[1]
    return SentenceIndex(np.zeros((len(passages), dim), np.float32), np.arange(len(passages), dtype=np.int32),
                         np.vstack(passages).astype(np.float16),
                         np.array(["x"] * int(starts[-1]), dtype=str), starts)


def test_the_untrained_reader_weighs_each_question_piece_by_rarity_and_takes_its_best_match() -> None:
    e = np.eye(4, dtype=np.float32)
    question, rarity = e[:2], np.array([1.0, 3.0])  # the second piece is three times as rare
    reading = Reading(question, rarity, (0, 1, 2), _sentences([e[[0]], e[[1]], e[[0, 1, 2]]]))
    reader = Reader.identity(4)
    assert np.allclose(reader.piece_weights(question, rarity), [0.25, 0.75])
    features = reader.features(reading)
    assert features.shape == (3, len(READING_FEATURES))
    assert np.allclose(features[:, 0], [0.25, 0.75, 1.0], atol=1e-3)
    assert np.allclose(features[:, 1], [-0.75, -0.25, 0.0], atol=1e-3)
    assert np.allclose(features[:, 2], np.log1p([2, 1, 0]))


def test_no_word_pieces_reads_as_zeros_for_every_candidate() -> None:
    empty = Reading(np.zeros((0, 4), np.float32), np.zeros(0), (0, 1), _sentences([np.eye(4)[[0]], np.eye(4)[[1]]]))
    assert np.array_equal(Reader.identity(4).features(empty), np.zeros((2, 3)))
    assert np.array_equal(Reader.identity(4).features(None, candidates=5), np.zeros((5, 3)))


def _task(rng: np.random.Generator, rotation: np.ndarray, questions: int
          ) -> tuple[list[Reading], list[np.ndarray], list[bool]]:
    """Each question has a common piece and a telling one. The passage holding the evidence words the telling piece
    another way (the rotation), so frozen vectors do not see it; a distractor repeats the common piece. Every
    third question is one the policy does not answer: two distractors, no evidence."""
    readings, relevant, answerable = [], [], []
    for n in range(questions):
        common, telling = _unit(*rng.normal(size=(2, 8)))
        answers = n % 3 != 2
        evidence = _unit(telling @ rotation, rng.normal(size=8)) if answers else _unit(common, rng.normal(size=8))
        distractor = _unit(common, rng.normal(size=8))
        readings.append(Reading(np.vstack([common, telling]), np.array([1.0, 1.0]), (0, 1),
                                _sentences([distractor, evidence])))
        relevant.append(np.array([False, answers]))
        answerable.append(answers)
    return readings, relevant, answerable


def test_training_learns_a_match_the_frozen_vectors_miss_and_when_nothing_is_good_enough() -> None:
    rng = np.random.default_rng(0)
    rotation = np.linalg.qr(rng.normal(size=(8, 8)))[0].astype(np.float32)
    train, targets, answerable = _task(rng, rotation, 180)
    held_out, _, held_out_answerable = _task(rng, rotation, 60)

    def right(reader: Reader) -> float:
        return float(np.mean([np.argmax(reader.features(r)[:, 0]) == 1
                              for r, a in zip(held_out, held_out_answerable) if a]))

    def told_apart(reader: Reader) -> float:
        """Answerable questions read above "none of these", the others below."""
        return float(np.mean([(reader.features(r)[:, 0].max() > 0) == a
                              for r, a in zip(held_out, held_out_answerable)]))

    trained = fit_reader(train, targets, answerable, ReaderRecipe(epochs=40, learning_rate=0.05, anchor=0.0))
    assert right(Reader.identity(8)) < 0.5 and told_apart(Reader.identity(8)) < 0.7
    assert right(trained) >= 0.8 and told_apart(trained) >= 0.8
    again = [fit_reader(train, targets, answerable, ReaderRecipe(epochs=2)) for _ in range(2)]
    assert np.array_equal(again[0].transform, again[1].transform) and again[0].rarity_weight == again[1].rarity_weight


def test_exact_errors_for_a_malformed_reader_or_nothing_to_learn_from() -> None:
    with pytest.raises(ValueError, match=r"a reader needs a square transform and a direction of the same size, "
                                         r"got \(4, 3\) and \(4,\)"):
        Reader(np.zeros((4, 3), np.float32), np.zeros(4, np.float32), 1.0)
    reading = Reading(np.eye(4, dtype=np.float32)[:1], np.ones(1), (0,), _sentences([np.eye(4)[[0]]]))
    with pytest.raises(ValueError, match=r"a reader needs questions whose evidence is among their candidates"):
        fit_reader([reading], [np.array([False])], [False])


def test_a_model_with_a_reader_stores_it_and_reads_the_same_after(retriever: Retriever, tmp_path: Path) -> None:
    dim = retriever.index_for("alder").dense.dim
    size = len(CANDIDATE_FEATURES) + len(READING_FEATURES)
    rerank = LogisticHead(np.zeros(size), np.ones(size), np.r_[np.zeros(size - 3), 4.0, 0.0, 0.0], 0.0)
    answer = LogisticHead(np.zeros(len(QUESTION_FEATURES)), np.ones(len(QUESTION_FEATURES)),
                          np.zeros(len(QUESTION_FEATURES)), 2.0)
    reader = Reader(np.eye(dim, dtype=np.float32) * 2, np.full(dim, 0.1, np.float32), 0.5, 0.7)
    model = AnswerModel(rerank, answer, 0.5, {}, None, reader)
    model.save(tmp_path / "model")
    loaded = AnswerModel.load(tmp_path / "model")
    assert loaded.reader is not None and np.array_equal(loaded.reader.transform, reader.transform)
    assert np.array_equal(loaded.reader.direction, reader.direction) and loaded.reader.rarity_weight == 0.5
    assert loaded.reader.abstain == 0.7
    question = "must pupils hand in their phones?"
    candidates = model.featurizer(retriever).candidates("alder", question, "pupil")
    assert candidates.features.shape[1] == size
    assert loaded.judge(loaded.featurizer(retriever).candidates("alder", question, "pupil")) == model.judge(candidates)
    # Ranked by the reading alone here: the first passage is the one the reader scores highest.
    best = int(np.argmax(candidates.features[:, len(CANDIDATE_FEATURES)]))
    assert model.judge(candidates).hits[0] == candidates.hits[best]
    with pytest.raises(ValueError, match=rf"the answer model reads {size} features per candidate, got "
                                         rf"{len(CANDIDATE_FEATURES)}: make the candidates with model.featurizer"):
        model.judge(CandidateFeaturizer(retriever).candidates("alder", question, "pupil"))


def test_a_model_saved_by_code_without_the_readers_abstain_score_is_rebuilt_not_misread(
        retriever: Retriever, tmp_path: Path) -> None:
    dim = retriever.index_for("alder").dense.dim
    size = len(CANDIDATE_FEATURES) + len(READING_FEATURES)
    head = LogisticHead(np.zeros(size), np.ones(size), np.zeros(size), 0.0)
    answer = LogisticHead(np.zeros(len(QUESTION_FEATURES)), np.ones(len(QUESTION_FEATURES)),
                          np.zeros(len(QUESTION_FEATURES)), 0.0)
    AnswerModel(head, answer, 0.5, {}, None, Reader.identity(dim)).save(tmp_path / "model")
    arrays = dict(np.load(tmp_path / "model" / "answer_model.npz"))
    del arrays["reader_abstain"]
    np.savez_compressed(tmp_path / "model" / "answer_model.npz", **arrays)
    with pytest.raises(AnswerModelNotReady, match=r"made by another version of this code; run `make index`"):
        AnswerModel.load(tmp_path / "model")
