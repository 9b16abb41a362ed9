"""The ranking trees (bot.qa.ranking): they learn an order a single row of weights cannot, give the same model on
every build, survive the numpy archive, and refuse what they cannot read."""

from __future__ import annotations

import numpy as np
import pytest

from bot.qa.ranking import TreeRanker


def _questions(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Six candidates a question, five features (the last three noise). The relevant candidate is the one with the
    highest feature 0 among those whose feature 1 is over 0.5: an interaction, which one weight per feature can
    only approximate."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        x = rng.random((6, 5))
        eligible = x[:, 1] > 0.5
        if not eligible.any():
            continue
        relevant = np.zeros(6, dtype=bool)
        relevant[int(np.argmax(np.where(eligible, x[:, 0], -1.0)))] = True
        out.append((x, relevant))
    return out


def _first_right(ranker: TreeRanker, questions: list[tuple[np.ndarray, np.ndarray]]) -> float:
    return float(np.mean([y[int(np.argmax(ranker.scores(x)))] for x, y in questions]))


def test_the_trees_rank_first_what_depends_on_the_question_and_say_how_far_it_stands_out() -> None:
    ranker = TreeRanker.fit(_questions(400, seed=1))
    held_out = _questions(200, seed=2)
    assert ranker.width == 5
    assert _first_right(ranker, held_out) >= 0.85
    assert np.mean([y[int(np.argmax(x[:, 0]))] for x, y in held_out]) < 0.7  # the leading feature alone is not it
    x, _ = held_out[0]
    p = ranker.probabilities(x)
    assert p.shape == (6,) and p.sum() == pytest.approx(1.0) and np.argmax(p) == np.argmax(ranker.scores(x))
    assert ranker.probabilities(np.zeros((0, 5))).shape == (0,)


def test_the_same_questions_give_the_same_trees_and_the_archive_keeps_them() -> None:
    questions = _questions(150, seed=3)
    first, second = TreeRanker.fit(questions), TreeRanker.fit(questions)
    assert first.text == second.text
    restored = TreeRanker.from_array(first.to_array())
    x = np.random.default_rng(4).random((9, 5))
    assert np.array_equal(restored.scores(x), first.scores(x)) and restored.width == 5


def test_what_the_trees_cannot_learn_from_or_read_is_an_exact_error() -> None:
    no_evidence = [(np.ones((4, 3)), np.zeros(4, dtype=bool))]
    with pytest.raises(ValueError, match="needs questions whose evidence is among their candidates"):
        TreeRanker.fit(no_evidence)
    mixed = [(np.ones((2, 3)), np.array([True, False])), (np.ones((2, 4)), np.array([False, True]))]
    with pytest.raises(ValueError, match=r"same features, got widths \[3, 4\]"):
        TreeRanker.fit(mixed)
    ranker = TreeRanker.fit(_questions(60, seed=5))
    with pytest.raises(ValueError, match="reads 5 features per candidate, got 3"):
        ranker.scores(np.ones((2, 3)))
    with pytest.raises(ValueError, match="not a LightGBM model"):
        TreeRanker("these are not trees")
