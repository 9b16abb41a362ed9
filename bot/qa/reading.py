"""A learned word-by-word reading of a question against its candidate passages (late interaction, ColBERT-style),
trained on the project's own tuning questions.

`answerability.word_matches` matches each of the question's word pieces to its closest piece in a passage with the
embedding model's frozen vectors. Here the question's pieces first go through a learned linear map, and each
piece's weight is learned from its vector and its rarity, so "can I add my teacher on Snapchat" learns that the
asker and the platform matter more than "can". The score of a passage is the weighted sum, over the question's
pieces, of the best inner product with any of the passage's pieces; a softmax over each question's candidates is
trained to put the passages holding its evidence first. The softmax has one more choice, "none of these", with a
learned score of its own (`abstain`), which questions the policy does not answer are trained to choose: a passage
must read better than that to count, so the reading says not only which passage is best but whether any is good
enough, and the answer head reads that too. Only the question's side is mapped, so the index's stored vectors serve
as they are and a turn costs one small product more (grouped CV and latency in docs/benchmarks.md).

Trained with torch (already installed for sentence-transformers) when the answer model is built; read with NumPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from bot.qa.index import SentenceIndex

#: The features a reading adds to each candidate's row: its score over "none of these", its gap to the best
#: candidate's, its rank.
READING_FEATURES: tuple[str, ...] = ("reading", "reading_gap", "reading_rank_log")


# ------------------------------------------------------------------------------------------------ inputs


def stack_passages(matrices: Sequence[Sequence[np.ndarray]], dim: int) -> list[np.ndarray]:
    """Each passage's word-piece vectors, its sentences (SentenceIndex.token_matrices) end to end; one zero row for
    a passage with none, which then scores 0."""
    return [np.vstack(parts) if parts else np.zeros((1, dim), dtype=np.float32)
            for parts in ([s for s in sentences if len(s)] for sentences in matrices)]


@dataclass(frozen=True, eq=False)
class Reading:
    """What a reading of one question needs: the question's word-piece vectors and their rarity in the school's
    policy, and its candidates' passage numbers in `sentences` (the school's index, shared, never copied)."""

    question: np.ndarray = field(repr=False)
    rarity: np.ndarray = field(repr=False)
    passages: tuple[int, ...]
    sentences: SentenceIndex = field(repr=False)

    def passage_vectors(self) -> list[np.ndarray]:
        """Each candidate's word-piece vectors (`stack_passages`)."""
        return stack_passages(self.sentences.token_matrices(self.passages), self.question.shape[1])


# ------------------------------------------------------------------------------------------------ the reader


@dataclass(frozen=True, eq=False)
class Reader:
    """The learned map of the question's pieces (`transform`, D x D) and of their weights (`direction` over a
    piece's vector plus `rarity_weight` times its log IDF, through a softmax over the question's pieces), and the
    score of "none of these" (`abstain`)."""

    transform: np.ndarray = field(repr=False)
    direction: np.ndarray = field(repr=False)
    rarity_weight: float
    abstain: float = 0.0

    def __post_init__(self) -> None:
        dim = self.transform.shape[0]
        if self.transform.shape != (dim, dim) or self.direction.shape != (dim,):
            raise ValueError(f"a reader needs a square transform and a direction of the same size, got "
                             f"{self.transform.shape} and {self.direction.shape}")

    @classmethod
    def identity(cls, dim: int) -> Reader:
        """The untrained reading: frozen vectors, pieces weighted by rarity alone."""
        return cls(np.eye(dim, dtype=np.float32), np.zeros(dim, dtype=np.float32), 1.0, 0.0)

    def piece_weights(self, question: np.ndarray, rarity: np.ndarray) -> np.ndarray:
        z = self.rarity_weight * np.log(np.maximum(rarity, 1e-3)) + question @ self.direction
        z = np.exp(z - z.max())
        return z / z.sum()

    def scores(self, question: np.ndarray, rarity: np.ndarray, passages: Sequence[np.ndarray]) -> np.ndarray:
        """Each passage's score: the weighted sum over the question's pieces of their best match in it."""
        if not len(passages) or not len(question):
            return np.zeros(len(passages))
        sizes = [len(p) for p in passages]
        best = np.maximum.reduceat((question @ self.transform) @ np.vstack(passages).T,
                                   np.cumsum([0, *sizes])[:-1], axis=1)
        return self.piece_weights(question, rarity) @ best

    def features(self, reading: Reading | None, passages: Sequence[np.ndarray] | None = None,
                 candidates: int = 0) -> np.ndarray:
        """READING_FEATURES for each candidate (zeros when the question has no word pieces to read)."""
        if reading is None or not len(reading.question) or not reading.passages:
            return np.zeros((len(reading.passages) if reading else candidates, len(READING_FEATURES)))
        scores = self.scores(reading.question, reading.rarity,
                             passages if passages is not None else reading.passage_vectors()) - self.abstain
        rank = np.argsort(np.argsort(-scores, kind="stable"), kind="stable")
        return np.column_stack([scores, scores - scores.max(), np.log1p(rank)])

    def arrays(self) -> dict[str, np.ndarray]:
        return {"reader_transform": self.transform, "reader_direction": self.direction,
                "reader_rarity_weight": np.array([self.rarity_weight]), "reader_abstain": np.array([self.abstain])}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Reader:
        return cls(np.asarray(arrays["reader_transform"], dtype=np.float32),
                   np.asarray(arrays["reader_direction"], dtype=np.float32),
                   float(np.asarray(arrays["reader_rarity_weight"]).ravel()[0]),
                   float(np.asarray(arrays["reader_abstain"]).ravel()[0]))


# ------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class ReaderRecipe:
    """How a reader is trained (part of the answer model's recipe fingerprint): Adam over mini-batches of
    questions, the transform held near the identity by `anchor` x |transform - I|^2 / 100."""

    epochs: int = 8
    learning_rate: float = 3e-3
    anchor: float = 0.1
    batch: int = 16
    seed: int = 0


def fit_reader(readings: Sequence[Reading], relevant: Sequence[np.ndarray], answerable: Sequence[bool],
               recipe: ReaderRecipe = ReaderRecipe()) -> Reader:
    """A reader trained to put each answerable question's relevant candidates first and to choose "none of these"
    for a question the policy does not answer (a softmax over its candidates and that). Questions without word
    pieces, or answerable ones whose evidence is not among their candidates, teach nothing. Deterministic for a
    recipe's seed."""
    import torch

    chosen = [(r, np.append(np.asarray(y, dtype=bool), not a)) for r, y, a in zip(readings, relevant, answerable)
              if r is not None and len(r.question) and r.passages and (np.any(y) if a else True)]
    if not any(target[:-1].any() for _, target in chosen):
        raise ValueError("a reader needs questions whose evidence is among their candidates to learn from")
    dim = chosen[0][0].question.shape[1]
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    transform = torch.nn.Parameter(torch.eye(dim))
    direction = torch.nn.Parameter(torch.zeros(dim))
    rarity_weight = torch.nn.Parameter(torch.tensor(1.0))
    # The softmax's sharpness over candidates: learned, started where inner products of unit vectors give a
    # usable spread.
    sharpness = torch.nn.Parameter(torch.tensor(10.0))
    abstain = torch.nn.Parameter(torch.tensor(0.6))
    optimiser = torch.optim.Adam([transform, direction, rarity_weight, sharpness, abstain], lr=recipe.learning_rate)
    identity = torch.eye(dim)
    prepared = [(torch.from_numpy(np.ascontiguousarray(r.question, dtype=np.float32)),
                 torch.from_numpy(np.log(np.maximum(r.rarity, 1e-3)).astype(np.float32)), r, torch.from_numpy(y))
                for r, y in chosen]
    for _ in range(recipe.epochs):
        order = rng.permutation(len(prepared))
        for batch in np.array_split(order, max(1, math.ceil(len(order) / recipe.batch))):
            optimiser.zero_grad()
            loss = torch.zeros(())
            for i in batch:
                question, log_rarity, reading, target = prepared[int(i)]
                passages = reading.passage_vectors()
                matches = (question @ transform) @ torch.from_numpy(np.vstack(passages)).T
                best = torch.stack([part.max(dim=1).values
                                    for part in torch.split(matches, [len(p) for p in passages], dim=1)], dim=1)
                weights = torch.softmax(rarity_weight * log_rarity + question @ direction, dim=0)
                logits = sharpness * torch.cat([weights @ best, abstain[None]])
                loss = loss - (torch.logsumexp(logits[target], 0) - torch.logsumexp(logits, 0))
            loss = loss / len(batch) + recipe.anchor * ((transform - identity) ** 2).sum() / 100
            loss.backward()
            optimiser.step()
    return Reader(transform.detach().numpy().astype(np.float32), direction.detach().numpy().astype(np.float32),
                  float(rarity_weight.detach()), float(abstain.detach()))


__all__ = ["READING_FEATURES", "Reader", "ReaderRecipe", "Reading", "fit_reader", "stack_passages"]
