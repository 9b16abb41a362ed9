"""The questions a school's policy has already been asked, and which passage answered each (or that none did): a
nearest-neighbour signal for the reranker and the answer head.

The tuning corpus (data/eval/tuning) holds, for every school, questions with the passages that hold their
evidence. A new question that reads like one of them is probably answered by the same passage: people who read
the same policy ask about the same few things. Measured before this was built (docs/benchmarks.md, 2026-12-07):
the nearest tuning question of a blind probe question points at its evidence 0.73–0.81 of the time, the
cross-school questions' nearest from the other writer's file 0.62; a tuning question's nearest *other* question
from the same file only 0.35, as one writer does not ask the same thing twice. So the reranker is trained with
each question left out of the memory it reads, which under-weights this signal rather than over-trusting it.

Each candidate gets MEMORY_FEATURES: the closest remembered question that this passage answered (cosine), the
share of a softmax over all the school's remembered questions (answered or not) that falls on those that this
passage answered, and the first one's gap to the best candidate's. A school with no remembered questions is judged
by a stand-in trained without the memory (AnswerModel.unremembered): zeros in these columns leave the choice among
candidates alone, but the answer head, which learned to trust the memory, then answers far too readily (grouped CV
with the school's own questions out of the memory: 0.623 of the unanswerable abstained on, the stand-in 0.786;
docs/benchmarks.md, 2026-12-07 afternoon). The answer head
reads the first-ranked passage's HEAD_MEMORY_FEATURES and the question's ASKED_FEATURES: with one writer a school
that cost answers (the nearest questions were mostly other facts), with two it is better on every grouped-CV measure
and abstains far more often on the blind probes' questions the policy does not answer.

The memory compares words as well as vectors (MEMORY_FEATURES' `asked_before_words`, ASKED_FEATURES'
`asked_words_margin`): each remembered question keeps its content lemmas weighted by the policy's inverse document
frequencies, and the overlap with a new question's says what a sentence vector blurs, that both ask about
"bluetooth". Grouped CV: first-ranked right 0.803 -> 0.820, evidence@1 0.749 -> 0.766 (docs/benchmarks.md).

And it knows who asked (`asked_before_role`, `asked_role_margin`): the closest question *the asker's own group*
asked that this passage answered, and the answered-versus-unanswered margin over that group's questions alone. A
pupil's question that reads like a staff question the staff rule answered is not answered by that rule, and reads
like the pupils' questions the policy left unanswered. Grouped CV on 3,982 questions (2026-12-07 evening): ended
right 0.797 -> 0.808, first-ranked right 0.834 -> 0.843, unanswerable abstained 0.837 -> 0.860, role mismatches
abstained 0.80 -> 0.86.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np

MEMORY_FEATURES: tuple[str, ...] = ("asked_before", "asked_before_share", "asked_before_gap", "asked_before_words",
                                    "asked_before_words_gap", "asked_before_role")
#: The first-ranked passage's memory features that the answer head reads (the gaps are zero there by definition).
HEAD_MEMORY_FEATURES: tuple[str, ...] = ("asked_before", "asked_before_share", "asked_before_words",
                                         "asked_before_role")
#: What the memory says of the question as a whole, for the answer head: how much closer its nearest answered
#: remembered question is than its nearest unanswered one, the softmax share of the unanswered ones, and the
#: nearest answered one's cosine. A question like one the policy did not answer is probably not answered either.
#: And how much closer, in shared words, its nearest answered remembered question is than its nearest unanswered one.
#: And the first margin again over the questions asked by the asker's own group only (`asked_before_role` is the
#: same for a passage): the same words from a pupil and from a member of staff may have different answers, or
#: none (a staff rule asked about by a pupil).
ASKED_FEATURES: tuple[str, ...] = ("asked_answered_margin", "asked_unanswered_share", "asked_answered_best",
                                   "asked_words_margin", "asked_role_margin")
#: The softmax temperature over remembered questions' cosines (grouped CV, 0.02 / 0.05 / 0.1 / 0.2 / 0.4).
TEMPERATURE = 0.1


@dataclass(frozen=True, eq=False)
class QuestionMemory:
    """Remembered questions, row by row: the school asked at, the question's vector (the embedder's, unit length,
    the school's own name taken out as for a search), the ids of the passages holding its evidence (none for a
    question the policy does not answer) and, optionally, its content words weighted by the policy's inverse
    document frequencies (`question_words`): two questions that share a rare word ("bluetooth", "encrypted") are
    about the same thing more surely than their sentence vectors say."""

    schools: tuple[str, ...]
    vectors: np.ndarray = field(repr=False)
    answered_by: tuple[frozenset[str], ...] = field(repr=False)
    words: tuple[Mapping[str, float], ...] = field(default=(), repr=False)
    #: Who asked each (bot.core.roles), or none at all: then the role features are zero.
    roles: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not len(self.schools) == len(self.vectors) == len(self.answered_by):
            raise ValueError(f"a question memory needs one school, vector and passage set per question, got "
                             f"{len(self.schools)}, {len(self.vectors)} and {len(self.answered_by)}")
        if self.words and len(self.words) != len(self.schools):
            raise ValueError(f"a question memory needs the words of every question or of none, got {len(self.words)} "
                             f"for {len(self.schools)} questions")
        if self.roles and len(self.roles) != len(self.schools):
            raise ValueError(f"a question memory needs the role of every question or of none, got {len(self.roles)} "
                             f"for {len(self.schools)} questions")

    @classmethod
    def empty(cls, dim: int) -> QuestionMemory:
        return cls((), np.zeros((0, dim), dtype=np.float32), ())

    @cached_property
    def _by_school(self) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]]:
        """Per school: its rows, for each passage the positions among them of the questions it answered, and which
        of them the policy answered."""
        rows: dict[str, list[int]] = {}
        for i, school in enumerate(self.schools):
            rows.setdefault(school, []).append(i)
        out = {}
        for school, found in rows.items():
            cited: dict[str, list[int]] = {}
            for at, row in enumerate(found):
                for passage in self.answered_by[row]:
                    cited.setdefault(passage, []).append(at)
            out[school] = (np.array(found), {p: np.array(a) for p, a in cited.items()},
                           np.array([bool(self.answered_by[r]) for r in found], dtype=bool))
        return out

    def remembers(self, school: str) -> bool:
        """Whether any question asked at `school` is remembered (a school without any is served by the model that
        never reads a memory: AnswerModel.unremembered)."""
        return school in self._by_school

    def _cosines(self, school: str, vector: np.ndarray, leave_out: int | None) -> np.ndarray | None:
        """Cosines to the school's remembered questions (-inf for `leave_out`); None when there are none."""
        if school not in self._by_school:
            return None
        rows = self._by_school[school][0]
        cosines = self.vectors[rows] @ np.asarray(vector, dtype=np.float32)
        if leave_out is not None:
            cosines[rows == leave_out] = -np.inf
        return cosines if np.isfinite(cosines).any() else None

    @cached_property
    def _word_weights(self) -> np.ndarray:
        """Each remembered question's total word weight (the overlap's denominator needs it for every row)."""
        return np.array([sum(found.values()) for found in self.words])

    def _overlaps(self, school: str, words: Mapping[str, float] | None, leave_out: int | None) -> np.ndarray | None:
        """Weighted word overlap (shared weight over the weight of either's words) with the school's remembered
        questions, -inf for `leave_out`; None without words on either side."""
        if not words or not self.words:
            return None
        rows = self._by_school[school][0]
        mine = sum(words.values())
        out = np.empty(len(rows))
        for at, row in enumerate(rows):
            theirs = self.words[row]
            shared = sum(min(weight, theirs[w]) for w, weight in words.items() if w in theirs)
            union = mine + self._word_weights[row] - shared
            out[at] = shared / union if union > 0 else 0.0
        if leave_out is not None:
            out[rows == leave_out] = -np.inf
        return out

    def _same_group(self, school: str, role: str | None) -> np.ndarray | None:
        """Which of the school's remembered questions were asked by `role`'s group (a question of unknown role, or
        an asker of unknown role, matches every group); None when roles are not remembered or not given."""
        if not self.roles or role is None:
            return None
        theirs = np.array([self.roles[r] for r in self._by_school[school][0]])
        return (theirs == role) | (theirs == "any") | (role == "any")

    def read(self, school: str, vector: np.ndarray, passage_ids: Sequence[str], leave_out: int | None = None,
             words: Mapping[str, float] | None = None, role: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """MEMORY_FEATURES for each passage and the question's ASKED_FEATURES, from the school's remembered questions
        except row `leave_out` (a question being trained on must not find itself); the word overlaps only when
        `words` (the question's, `CandidateFeaturizer.question_words`) are given. The cosines and overlaps are
        computed once for both."""
        out = np.zeros((len(passage_ids), len(MEMORY_FEATURES)))
        cosines = self._cosines(school, vector, leave_out)
        if cosines is None:
            return out, np.zeros(len(ASKED_FEATURES))
        _, cited, answered = self._by_school[school]
        weights = np.exp((cosines - cosines.max()) / TEMPERATURE)
        weights /= weights.sum()
        overlaps = self._overlaps(school, words, leave_out)
        group = self._same_group(school, role)
        for at, passage in enumerate(passage_ids):
            positions = cited.get(passage)
            if positions is not None and np.isfinite(cosines[positions]).any():
                out[at, 0] = float(cosines[positions].max())
                out[at, 1] = float(weights[positions].sum())
                if overlaps is not None:
                    out[at, 3] = max(float(overlaps[positions].max()), 0.0)
                if group is not None:
                    mine = positions[group[positions]]
                    if len(mine) and np.isfinite(cosines[mine]).any():
                        out[at, 5] = float(cosines[mine].max())
        if len(passage_ids):
            out[:, 2] = out[:, 0] - out[:, 0].max()
            out[:, 4] = out[:, 3] - out[:, 3].max()
        best = lambda values, mask: (float(values[mask].max())  # noqa: E731
                                     if np.isfinite(values[mask]).any() else 0.0)
        asked = np.array([best(cosines, answered) - best(cosines, ~answered), float(weights[~answered].sum()),
                          best(cosines, answered),
                          0.0 if overlaps is None else best(overlaps, answered) - best(overlaps, ~answered),
                          0.0 if group is None else best(cosines, answered & group) - best(cosines, ~answered & group)])
        return out, asked

    def arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for the model's archive (no pickling): passage ids flattened with their rows."""
        owners = [i for i, ids in enumerate(self.answered_by) for _ in ids]
        ids = [p for found in self.answered_by for p in sorted(found)]
        word_rows = [i for i, found in enumerate(self.words) for _ in found]
        return {"memory_schools": np.array(self.schools, dtype=str), "memory_vectors": self.vectors,
                "memory_passage_rows": np.array(owners, dtype=np.int64),
                "memory_passage_ids": np.array(ids, dtype=str),
                "memory_has_words": np.array(bool(self.words)),
                "memory_word_rows": np.array(word_rows, dtype=np.int64),
                "memory_words": np.array([w for found in self.words for w in found], dtype=str),
                "memory_word_weights": np.array([v for found in self.words for v in found.values()],
                                                dtype=np.float64),
                "memory_roles": np.array(self.roles, dtype=str)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> QuestionMemory:
        schools = tuple(str(s) for s in arrays["memory_schools"])
        found: list[set[str]] = [set() for _ in schools]
        for row, passage in zip(arrays["memory_passage_rows"], arrays["memory_passage_ids"]):
            found[int(row)].add(str(passage))
        words: list[dict[str, float]] = [{} for _ in schools]
        for row, word, weight in zip(arrays["memory_word_rows"], arrays["memory_words"],
                                     arrays["memory_word_weights"]):
            words[int(row)][str(word)] = float(weight)
        return cls(schools, np.asarray(arrays["memory_vectors"], dtype=np.float32),
                   tuple(frozenset(f) for f in found), tuple(words) if bool(arrays["memory_has_words"]) else (),
                   tuple(str(r) for r in arrays["memory_roles"]))


__all__ = ["ASKED_FEATURES", "HEAD_MEMORY_FEATURES", "MEMORY_FEATURES", "QuestionMemory", "TEMPERATURE"]
