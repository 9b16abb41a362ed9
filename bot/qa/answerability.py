"""Which passage answers a question, and whether the policy answers it at all: a learned reranker and a learned
answer-or-abstain head over the hybrid retriever's candidates.

The retriever proposes candidates (its fused top ones, plus the best by dense, by BM25 and by best single
sentence). Each candidate gets a row of features: how close it is in meaning (passage and best sentence), how many
of the question's distinctive words it holds (weighted by how rare they are in this school's policy; in the text,
the headings, the synonyms), whom it is written for against who asks, what kind of passage it is, and what the
question asks for (who / when / can I ...) against what the passage holds (a name, a time). The reranker scores
each row (ranking trees, bot.qa.ranking); the answer head, a logistic regression, reads the best rows and the
question's own signals (how many of its words the policy never uses) and says how likely it is that the policy
answers. Both are trained on the project's own tuning questions (training.py), with the threshold chosen by grouped
cross-validation by policy section. Saved as JSON plus a numpy archive, never pickled.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from bot.core.artifacts import read_model_files
from bot.core.embedder import TokenVectors
from bot.core.roles import canonical_role
from bot.qa.index import SchoolIndex, passage_sentences
from bot.qa.memory import ASKED_FEATURES, HEAD_MEMORY_FEATURES, MEMORY_FEATURES, QuestionMemory
from bot.qa.ranking import TreeRanker
from bot.qa.reading import READING_FEATURES, Reader, Reading, stack_passages
from bot.qa.retrieval import Retriever, SearchHit, query_tokens, roles_served
from bot.text import lemmas, normalise_query

#: Bump when features or the file layout change, so a saved model is rebuilt rather than misread.
MODEL_VERSION = 13
ARRAYS_FILE = "answer_model.npz"
META_FILE = "answer_model.json"
#: Candidates: the fused top ones, plus this many more each by dense, BM25 and best sentence.
FUSED_CANDIDATES = 12
EXTRA_CANDIDATES = 6

_WH = ("who", "what", "when", "where", "why", "how", "which")
QUESTION_TYPES: tuple[str, ...] = (*_WH, "yes_no", "statement")
_YES_NO = re.compile(r"^(can|could|may|am|is|are|do|does|did|should|must|will|would|have|has|shall)\b")
_ASKS_PERSON = re.compile(r"\b(who|whos|whom|name|names|contact)\b")
_TIME = re.compile(r"\b(day|days|daily|week|weeks|weekly|month|months|monthly|year|years|yearly|annual|annually|"
                   r"term|terms|termly|hour|hours|minute|minutes|regularly|immediately|\d+)\b", re.I)
_PERSON_NAME = re.compile(r"\b[A-Z][a-z]+ [A-Z][a-z]+\b")

#: Word by word (see `word_matches`): kernel centres over the cosines of a question's word pieces to a passage's.
_KERNELS = np.round(np.arange(0.9, 0.0, -0.1), 1)
_KERNEL_WIDTH = 0.05
WORD_FEATURES: tuple[str, ...] = ("words_mean", "words_weighted", "words_sentence", "words_least", "words_close",
                                  "words_near", *(f"kernel_{k:.1f}" for k in _KERNELS))
_WORD_SUMMARY = ("words_weighted", "words_sentence", "words_least", "words_close", "words_near")

CANDIDATE_FEATURES: tuple[str, ...] = (
    "dense", "dense_gap", "lexical_share", "lexical_log", "fused_gap", "fused_rank_log", "dense_rank_log",
    "lexical_rank_log", "cover_search", "cover_text", "cover_heading", "cover_synonyms",
    "audience_everyone", "audience_serves", "audience_other", "role_unknown", "kind_table", "kind_bullet",
    "length_log", "has_time", "has_name", "content_words", "unseen_share", "unseen_weighted",
    *(f"asks_{t}" for t in QUESTION_TYPES), "who_and_name", "when_and_time", "sentence_best", "sentence_gap",
    "sentence_cover", "names_asked_person", "asks_person", "table_serves", "table_other", *WORD_FEATURES,
    "words_weighted_gap", "words_sentence_gap")
_AT = {name: i for i, name in enumerate(CANDIDATE_FEATURES)}


def candidate_columns(reader: Reader | None, memory: bool = False) -> tuple[str, ...]:
    """The columns of a candidate's row: CANDIDATE_FEATURES, then READING_FEATURES when a reader reads it, then
    MEMORY_FEATURES when a question memory (bot.qa.memory) is consulted."""
    return (CANDIDATE_FEATURES + (READING_FEATURES if reader is not None else ())
            + (MEMORY_FEATURES if memory else ()))


#: The best candidate's features the answer head reads (besides the scores). Only what relates the question to
#: the policy. The question's own form (its length, its question word, whether it asks for a person or the role
#: is known) told the head how the tuning questions happened to be written, not whether this policy answers
#: them; the share of its words the policy never uses is carried by the coverage features, and its two weights
#: pulled against each other. Without them, grouped CV ended right is unchanged (0.629 -> 0.627) with
#: evidence@1 0.562 -> 0.597, and no probe abstains less often where the policy is silent; the blind probe
#: written afterwards scores the same on both heads (docs/benchmarks.md, 2026-12-07 morning). The interactions
#: (a "who" question and a named person, a "when" and a time) stay: they are about the passage.
_TOP_FEATURES: tuple[str, ...] = (
    "cover_search", "cover_text", "cover_heading", "cover_synonyms", "audience_everyone", "audience_serves",
    "audience_other", "kind_table", "who_and_name", "when_and_time", "sentence_best", "sentence_cover",
    "names_asked_person", *_WORD_SUMMARY)
QUESTION_FEATURES: tuple[str, ...] = ("best", "second", "margin", "max_dense", "max_lexical_log",
                                      "max_sentence", *(f"top_{n}" for n in _TOP_FEATURES),
                                      *(f"max_{n}" for n in _WORD_SUMMARY), "max_reading", "top_reading",
                                      *(f"top_{n}" for n in HEAD_MEMORY_FEATURES), *ASKED_FEATURES)


def question_type(question: str) -> str:
    """who / what / ... from the first four words, else yes_no ("can I ...") or statement."""
    words = normalise_query(question).split()
    asked = next((w for w in words[:4] if w in _WH), None)
    if asked:
        return asked
    return "yes_no" if _YES_NO.match(" ".join(words)) else "statement"


# ------------------------------------------------------------------------------------------------ a school's words


@dataclass(frozen=True)
class SchoolWords:
    """Lemma sets of one school's passages (searched text, quoted text, headings) and sentences, with the policy's
    inverse document frequencies and the names its profile holds."""

    search: tuple[frozenset[str], ...]
    text: tuple[frozenset[str], ...]
    heading: tuple[frozenset[str], ...]
    sentences: tuple[tuple[frozenset[str], ...], ...]
    idf: Mapping[str, float]
    unseen_idf: float
    names: tuple[str, ...]
    #: The same for the embedder's word pieces (`word_matches` weights a question's pieces by it).
    piece_idf: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, index: SchoolIndex, names: Sequence[str]) -> SchoolWords:
        search = tuple(frozenset(lemmas(p.search_text())) for p in index.passages)
        counts: dict[str, int] = {}
        for words in search:
            for word in words:
                counts[word] = counts.get(word, 0) + 1
        n = len(search)
        pieces: dict[str, int] = {}
        for number in range(n) if index.sentences else ():
            for piece in {str(p) for held in index.sentences.passage_pieces(number) for p in held}:
                pieces[piece] = pieces.get(piece, 0) + 1
        return cls(search, tuple(frozenset(lemmas(p.text)) for p in index.passages),
                   tuple(frozenset(lemmas(" ".join(p.section))) for p in index.passages),
                   tuple(tuple(frozenset(lemmas(s)) for s in passage_sentences(p)) for p in index.passages),
                   {w: math.log((n + 1) / (c + 0.5)) for w, c in counts.items()}, math.log(n + 1),
                   tuple(name for name in names if name),
                   {w: math.log((n + 1) / (c + 0.5)) for w, c in pieces.items()})

    def weighed(self, tokens: Sequence[str]) -> dict[str, float]:
        """Each distinct token, in order, with its inverse document frequency (`unseen_idf` for a word the policy
        never uses): the weights of coverage and of the question memory's word overlap."""
        return {t: self.idf.get(t, self.unseen_idf) for t in dict.fromkeys(tokens)}


def _profile_names(retriever: Retriever, school: str) -> list[str]:
    profile = retriever.schools.get(school)
    names = [profile.headteacher, *profile.dsl, *profile.deputy_dsl, profile.data_protection_officer]
    for post in ("online_safety_lead", "governor", "technical_lead"):
        contact = getattr(profile, post, None)
        names.append(getattr(contact, "name", None))
    return [n for n in names if isinstance(n, str) and n.strip()]


# ------------------------------------------------------------------------------------------------ word by word


def word_matches(question: TokenVectors | None, passages: Sequence[Sequence[np.ndarray]],
                 idf: Mapping[str, float], unseen_idf: float) -> np.ndarray:
    """How well each passage's words meet the question's, one question word piece at a time: a row per passage
    (given as its sentences' word-piece vectors), WORD_FEATURES order.

    Each of the question's pieces takes its closest piece in the passage (cosine of the model's last-layer
    vectors, so "mobile" meets "phone" and "bypass" meets "get round"); rare pieces count more. From those: the
    mean, the weighted mean, the same within the passage's best sentence, the least-met of the question's rarer
    pieces (a question about an age whose passage has no age), the shares met closely, and soft counts of the
    cosines near each kernel centre (K-NRM's kernel pooling, with frozen vectors). A learned weighting of these is
    a reading of the passage against the question that a single vector per text cannot give. All passages are
    scored in one product (a question's 20-30 candidates one by one cost 6 ms; together under 2)."""
    out = np.zeros((len(passages), len(WORD_FEATURES)))
    sizes = [[len(v) for v in sentences] for sentences in passages]
    kept = [i for i, s in enumerate(sizes) if sum(s)]
    if question is None or not len(question.pieces) or not kept:
        return out
    weights = np.array([idf.get(p, unseen_idf) for p in question.pieces])
    weights = weights / (weights.sum() or 1.0)
    rarer = weights >= np.median(weights)
    sentence_sizes = [n for i in kept for n in sizes[i] if n]
    cosines = question.vectors @ np.vstack([v for i in kept for v in passages[i] if len(v)]).T
    passage_starts = np.cumsum([0, *(sum(sizes[i]) for i in kept)])[:-1]
    sentence_starts = np.cumsum([0, *sentence_sizes])[:-1]
    closest = np.maximum.reduceat(cosines, passage_starts, axis=1)  # (pieces, passages)
    by_sentence = weights @ np.maximum.reduceat(cosines, sentence_starts, axis=1)
    first_sentence = np.cumsum([0, *(sum(1 for n in sizes[i] if n) for i in kept)])[:-1]
    soft = np.exp(-((cosines[None] - _KERNELS[:, None, None]) ** 2) / (2 * _KERNEL_WIDTH ** 2))
    kernels = np.einsum("kqp,q->kp", np.log1p(np.add.reduceat(soft, passage_starts, axis=2)), weights)
    out[kept] = np.column_stack([closest.mean(axis=0), weights @ closest,
                                 np.maximum.reduceat(by_sentence, first_sentence), closest[rarer].min(axis=0),
                                 (closest > 0.9).mean(axis=0), (closest > 0.7).mean(axis=0), kernels.T])
    return out


# ------------------------------------------------------------------------------------------------ candidates


@dataclass(frozen=True)
class Candidates:
    """The passages proposed for one question and a feature row for each (CANDIDATE_FEATURES order)."""

    hits: tuple[SearchHit, ...]
    features: np.ndarray = field(repr=False)
    #: What a learned reading needs (bot.qa.reading), when the index has word-piece vectors.
    reading: Reading | None = field(default=None, repr=False)
    #: The question's vector, as searched (a question memory is built from it).
    vector: np.ndarray | None = field(default=None, repr=False)
    #: ASKED_FEATURES, when a question memory was consulted (the rows then end with MEMORY_FEATURES).
    asked: np.ndarray | None = field(default=None, repr=False)


class CandidateFeaturizer:
    """Proposes candidates for a question and describes each one; a school's word statistics are built once. With a
    `reader` (the answer model's), each row goes on with its READING_FEATURES; with a `memory`, it ends with its
    MEMORY_FEATURES."""

    def __init__(self, retriever: Retriever, reader: Reader | None = None,
                 memory: QuestionMemory | None = None) -> None:
        self.retriever = retriever
        self.reader = reader
        self.memory = memory
        self._words: dict[str, SchoolWords] = {}
        self._lock = threading.Lock()

    def words_for(self, school: str) -> SchoolWords:
        with self._lock:
            if school not in self._words:
                self._words[school] = SchoolWords.of(self.retriever.index_for(school),
                                                     _profile_names(self.retriever, school))
            return self._words[school]

    def question_words(self, school: str, question: str) -> dict[str, float]:
        """The question's content words (the school's own name taken out, as searched) weighted by the policy's
        inverse document frequencies: what the question memory compares word by word."""
        base, _ = query_tokens(self.retriever.schools.get(school).without_own_name(question))
        return self.words_for(school).weighed(base)

    def candidates(self, school: str, question: str, role: str | None = "any") -> Candidates:
        role = canonical_role(role)
        index = self.retriever.index_for(school)
        if not index.passages or not question.strip():
            return Candidates((), np.zeros((0, len(candidate_columns(self.reader, self.memory is not None)))))
        question = self.retriever.schools.get(school).without_own_name(question)
        words = self.words_for(school)
        question_tokens: TokenVectors | None = None
        if index.sentences is not None and index.sentences.token_vectors is not None:
            vector, question_tokens = self.retriever.embed_query_tokens(school, question)
        else:
            vector = self.retriever.embed_query(school, question)
        hits = self.retriever.retrieve(school, question, role, k=len(index.passages), query_vector=vector)
        position = {hit.passage.id: i for i, hit in enumerate(hits)}
        number = {p.id: i for i, p in enumerate(index.passages)}
        dense = np.array([h.dense for h in hits])
        lexical = np.array([h.lexical for h in hits])
        fused = np.array([h.score for h in hits])
        dense_rank = np.argsort(np.argsort(-dense, kind="stable"), kind="stable")
        lexical_rank = np.argsort(np.argsort(-lexical, kind="stable"), kind="stable")
        sentence_best = (index.sentences.best_per_passage(vector, len(index.passages)) if index.sentences
                         else np.full(len(index.passages), -1.0))
        by_sentence = {position[index.passages[i].id]
                       for i in np.argsort(-sentence_best, kind="stable")[:EXTRA_CANDIDATES]}
        chosen = sorted(set(range(min(FUSED_CANDIDATES, len(hits)))) | by_sentence
                        | {int(i) for i in np.where(dense_rank < EXTRA_CANDIDATES)[0]}
                        | {int(i) for i in np.where(lexical_rank < EXTRA_CANDIDATES)[0]})

        base, extra = query_tokens(question)
        said = words.weighed(base)
        content = list(said)
        weights = np.array(list(said.values()))
        total = float(weights.sum()) or 1.0
        unseen = [t not in words.idf for t in content]
        unseen_share = sum(unseen) / len(content) if content else 0.0
        unseen_weighted = float(weights[np.array(unseen, dtype=bool)].sum()) / total if content else 0.0
        synonyms = set(extra)
        asked = question_type(question)
        asks_person = float(bool(_ASKS_PERSON.search(normalise_query(question))))
        served = roles_served(role) if role != "any" else set()
        top_dense, top_lexical, top_fused = float(dense.max()), float(lexical.max()) or 1.0, float(fused.max())
        top_sentence = float(sentence_best.max())

        def cover(held: frozenset[str]) -> float:
            return float(sum(w for t, w in zip(content, weights) if t in held)) / total if content else 0.0

        rows = []
        numbers = tuple(number[hits[r].passage.id] for r in chosen)
        matrices = (index.sentences.token_matrices(numbers) if question_tokens is not None and index.sentences
                    else [[] for _ in chosen])
        matched = word_matches(question_tokens, matrices, words.piece_idf, words.unseen_idf)
        reading = None
        if question_tokens is not None and index.sentences is not None:
            reading = Reading(question_tokens.vectors, np.array([words.piece_idf.get(p, words.unseen_idf)
                                                                 for p in question_tokens.pieces]),
                              numbers, index.sentences)
        best_matched = matched[:, [1, 2]].max(axis=0) if len(chosen) else np.zeros(2)
        for at, rank in enumerate(chosen):
            hit = hits[rank]
            i = number[hit.passage.id]
            audience = hit.passage.audience
            best_sentence = float(sentence_best[i]) if sentence_best[i] > -1 else hit.dense
            has_time = float(bool(_TIME.search(hit.text)))
            has_name = float(bool(_PERSON_NAME.search(hit.text)))
            types = [float(asked == t) for t in QUESTION_TYPES]
            rows.append([
                hit.dense, hit.dense - top_dense, hit.lexical / top_lexical, math.log1p(hit.lexical),
                hit.score - top_fused, math.log1p(rank), math.log1p(dense_rank[rank]),
                math.log1p(lexical_rank[rank]), cover(words.search[i]), cover(words.text[i]),
                cover(words.heading[i]), len(synonyms & words.search[i]) / len(synonyms) if synonyms else 0.0,
                float(not audience), float(bool(audience & served)),
                float(bool(audience) and bool(served) and not audience & served), float(role == "any"),
                float(hit.passage.kind == "table_row"), float(hit.passage.kind == "bullet"),
                math.log1p(len(hit.text.split())), has_time, has_name, len(content) / 10, unseen_share,
                unseen_weighted, *types, types[0] * has_name, types[2] * has_time, best_sentence,
                best_sentence - top_sentence, max((cover(s) for s in words.sentences[i]), default=0.0),
                asks_person * float(any(n.lower() in hit.text.lower() for n in words.names)), asks_person,
                # A table row states one group's rule exactly: whose row it is matters more than for prose.
                float(hit.passage.kind == "table_row" and bool(audience & served)),
                float(hit.passage.kind == "table_row" and bool(audience) and bool(served)
                      and not audience & served),
                *matched[at], *(matched[at, [1, 2]] - best_matched)])
        features = np.asarray(rows, dtype=np.float64)
        if self.reader is not None:
            features = np.hstack([features, self.reader.features(
                reading, stack_passages(matrices, index.dense.dim), len(chosen))])
        asked = None
        if self.memory is not None and self.memory.remembers(school):
            remembered, asked = self.memory.read(school, vector, [hits[r].passage.id for r in chosen],
                                                 words=said, role=role)
            features = np.hstack([features, remembered])
        return Candidates(tuple(hits[r] for r in chosen), features, reading, vector, asked)


def question_features(candidates: Candidates, rerank: np.ndarray) -> np.ndarray:
    """The answer head's row: the reranker's best scores and the best candidate's features (QUESTION_FEATURES)."""
    if not len(rerank):
        return np.zeros(len(QUESTION_FEATURES))
    order = np.argsort(-rerank, kind="stable")
    rows = candidates.features
    best = float(rerank[order[0]])
    second = float(rerank[order[1]]) if len(order) > 1 else 0.0
    top = rows[order[0]]
    # The learned reading over "none of these" (bot.qa.reading), when the rows carry it: the best candidate's and
    # the first-ranked one's. Zeros for a model without a reader.
    remembered = candidates.asked is not None
    reading = (rows[:, len(CANDIDATE_FEATURES)].max(), top[len(CANDIDATE_FEATURES)]) \
        if rows.shape[1] - (len(MEMORY_FEATURES) if remembered else 0) > len(CANDIDATE_FEATURES) else (0.0, 0.0)
    # What the question memory says (bot.qa.memory): of the first-ranked passage, and of the question as a whole.
    # Zeros without one.
    memory = ((*(top[len(top) - len(MEMORY_FEATURES) + MEMORY_FEATURES.index(n)] for n in HEAD_MEMORY_FEATURES),
               *candidates.asked) if candidates.asked is not None
              else np.zeros(len(HEAD_MEMORY_FEATURES) + len(ASKED_FEATURES)))
    return np.array([best, second, best - second, rows[:, _AT["dense"]].max(), rows[:, _AT["lexical_log"]].max(),
                     rows[:, _AT["sentence_best"]].max(), *(top[_AT[n]] for n in _TOP_FEATURES),
                     *(rows[:, _AT[n]].max() for n in _WORD_SUMMARY), *reading, *memory])


# ------------------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class LogisticHead:
    """Standardised features into one logistic regression: P(positive)."""

    mean: np.ndarray = field(repr=False)
    scale: np.ndarray = field(repr=False)
    coef: np.ndarray = field(repr=False)
    intercept: float

    @classmethod
    def fit(cls, features: np.ndarray, targets: Sequence[bool], c: float = 1.0) -> LogisticHead:
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(targets, dtype=bool)
        if len(set(y.tolist())) < 2:
            raise ValueError("an answer-model head needs examples of both outcomes to learn from")
        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        scale[scale == 0] = 1.0
        model = LogisticRegression(C=c, max_iter=5000).fit((features - mean) / scale, y)
        return cls(mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))

    @property
    def width(self) -> int:
        """How many features a row has."""
        return len(self.coef)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        z = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


@dataclass(frozen=True)
class Judgement:
    """The candidates best first, each with its reranker probability, and the chance the policy answers."""

    hits: tuple[SearchHit, ...]
    relevance: tuple[float, ...]
    answerable: float
    threshold: float
    hint_threshold: float | None = None

    @property
    def answers(self) -> bool:
        return bool(self.hits) and self.answerable >= self.threshold

    @property
    def hints(self) -> bool:
        """Not sure enough to answer, but the best candidate is worth showing as what it is (the closest part)."""
        return (bool(self.hits) and not self.answers and self.hint_threshold is not None
                and self.answerable >= self.hint_threshold)


#: What ranks the candidates: the trees the training builds, or a logistic row of weights (tests write those by hand).
Reranker = LogisticHead | TreeRanker


class AnswerModel:
    """The reranker, the answer head and two thresholds chosen by grouped cross-validation: at `threshold` it
    answers; from `hint_threshold` up to it, it shows the closest passage as such and says it may not be the rule.
    With a `reader`, the reranker also reads its learned word-by-word scores (the featurizer must carry the same
    reader: `featurizer()`). With a `memory`, it also reads what the school's remembered questions say, and a school
    the memory holds no question of is judged by `unremembered`, the same recipe trained without a memory: a model
    that learned to lean on the memory answers far too readily where it is empty (docs/benchmarks.md, 2026-12-07
    afternoon). `meta` says what it was trained on."""

    def __init__(self, rerank: Reranker, answer: LogisticHead, threshold: float,
                 meta: Mapping[str, Any] | None = None, hint_threshold: float | None = None,
                 reader: Reader | None = None, memory: QuestionMemory | None = None,
                 unremembered: AnswerModel | None = None) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"the answer threshold must be between 0 and 1, got {threshold!r}")
        if hint_threshold is not None and not 0.0 < hint_threshold <= threshold:
            raise ValueError(f"the hint threshold must be between 0 and the answer threshold {threshold!r}, "
                             f"got {hint_threshold!r}")
        if unremembered is not None and (unremembered.memory is not None or unremembered.reader is not reader):
            raise ValueError("the model for schools without remembered questions must read no memory and the same "
                             "reader as the model it stands in for")
        self.rerank, self.answer, self.threshold = rerank, answer, threshold
        self.hint_threshold = hint_threshold
        self.reader = reader
        self.memory = memory
        self.unremembered = unremembered
        self.meta: dict[str, Any] = dict(meta or {})

    @property
    def candidate_features(self) -> tuple[str, ...]:
        """The columns the reranker reads."""
        return candidate_columns(self.reader, self.memory is not None)

    def featurizer(self, retriever: Retriever) -> CandidateFeaturizer:
        """A featurizer whose rows this model reads."""
        return CandidateFeaturizer(retriever, self.reader, self.memory)

    def judge(self, candidates: Candidates) -> Judgement:
        if self.memory is not None and candidates.asked is None:
            # A school the memory holds no question of (CandidateFeaturizer left the memory out of its rows).
            if self.unremembered is None:
                raise ValueError("this answer model reads a question memory and has no model for a school without "
                                 "remembered questions; run `make index` to rebuild it")
            return self.unremembered.judge(candidates)
        if len(candidates.hits) and candidates.features.shape[1] != self.rerank.width:
            raise ValueError(f"the answer model reads {self.rerank.width} features per candidate, got "
                             f"{candidates.features.shape[1]}: make the candidates with model.featurizer()")
        relevance = self.rerank.probabilities(candidates.features)
        answerable = float(self.answer.probabilities(question_features(candidates, relevance)[None, :])[0]) \
            if len(relevance) else 0.0
        order = np.argsort(-relevance, kind="stable")
        return Judgement(tuple(candidates.hits[i] for i in order), tuple(float(relevance[i]) for i in order),
                         answerable, self.threshold, self.hint_threshold)

    def save(self, directory: Path | str) -> None:
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        heads = [("rerank", self.rerank), ("answer", self.answer)]
        if self.unremembered is not None:
            heads += [("unremembered_rerank", self.unremembered.rerank),
                      ("unremembered_answer", self.unremembered.answer)]
        arrays = {f"{name}_{part}": getattr(head, part) for name, head in heads if isinstance(head, LogisticHead)
                  for part in ("mean", "scale", "coef")}
        arrays.update({f"{name}_trees": head.to_array() for name, head in heads if isinstance(head, TreeRanker)})
        if self.reader is not None:
            arrays.update(self.reader.arrays())
        if self.memory is not None:
            arrays.update(self.memory.arrays())
        np.savez_compressed(folder / ARRAYS_FILE, **arrays)
        (folder / META_FILE).write_text(json.dumps({
            "version": MODEL_VERSION, "threshold": self.threshold, "hint_threshold": self.hint_threshold,
            "candidate_features": list(self.candidate_features),
            "question_features": list(QUESTION_FEATURES), "rerank_intercept": _intercept(self.rerank),
            "answer_intercept": self.answer.intercept, "meta": self.meta,
            "unremembered": None if self.unremembered is None else {
                "threshold": self.unremembered.threshold, "hint_threshold": self.unremembered.hint_threshold,
                "rerank_intercept": _intercept(self.unremembered.rerank),
                "answer_intercept": self.unremembered.answer.intercept}}, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path | str) -> AnswerModel:
        """Read a saved model; a missing, partial or older one is an exact error naming the folder."""
        folder = Path(directory)
        raw, arrays = read_model_files(folder, META_FILE, ARRAYS_FILE, "answer model", AnswerModelNotReady)
        try:
            reader = (Reader.from_arrays(arrays) if raw.get("version") == MODEL_VERSION
                      and "reader_transform" in arrays else None)
        except (KeyError, ValueError):
            reader = None
            raw = {**raw, "version": None}  # a reader half written by other code: rebuild, never misread
        try:
            memory = QuestionMemory.from_arrays(arrays) if "memory_vectors" in arrays else None
        except (KeyError, ValueError, IndexError):
            memory = None
            raw = {**raw, "version": None}
        stand_in = raw.get("unremembered")
        if (raw.get("version") != MODEL_VERSION
                or raw.get("candidate_features") != list(candidate_columns(reader, memory is not None))
                or raw.get("question_features") != list(QUESTION_FEATURES)
                or (memory is not None and not stand_in)):
            raise AnswerModelNotReady(f"the answer model in {folder} was made by another version of this code; "
                                      f"run `make index` to rebuild it")

        def head(name: str, intercept: float) -> LogisticHead:
            return LogisticHead(arrays[f"{name}_mean"], arrays[f"{name}_scale"], arrays[f"{name}_coef"],
                                float(intercept))

        def reranker(name: str, intercept: Any) -> Reranker:
            """The trees when the archive holds them, else a logistic row (whose intercept the JSON holds)."""
            if f"{name}_trees" not in arrays:
                return head(name, intercept)
            return TreeRanker.from_array(arrays[f"{name}_trees"])

        def optional(value: Any) -> float | None:
            return None if value is None else float(value)

        try:
            unremembered = None if not stand_in else cls(
                reranker("unremembered_rerank", stand_in["rerank_intercept"]),
                head("unremembered_answer", stand_in["answer_intercept"]), float(stand_in["threshold"]), {},
                optional(stand_in.get("hint_threshold")), reader)
            rerank = reranker("rerank", raw["rerank_intercept"])
            if rerank.width != len(raw["candidate_features"]):
                raise ValueError(f"its reranker reads {rerank.width} features, not {len(raw['candidate_features'])}")
            return cls(rerank, head("answer", raw["answer_intercept"]),
                       float(raw["threshold"]), raw.get("meta") or {}, optional(raw.get("hint_threshold")), reader,
                       memory, unremembered)
        except KeyError as missing:
            raise AnswerModelNotReady(f"the answer model in {folder} lacks {missing}; run `make index` to rebuild "
                                      f"it") from None
        except ValueError as bad:
            raise AnswerModelNotReady(f"the answer model in {folder} cannot be read ({bad}); run `make index` to "
                                      f"rebuild it") from None


def _intercept(rerank: Reranker) -> float | None:
    return rerank.intercept if isinstance(rerank, LogisticHead) else None


class AnswerModelNotReady(ValueError):
    """The trained answer model is missing, unreadable or from another version of the code."""


__all__ = ["AnswerModel", "AnswerModelNotReady", "CANDIDATE_FEATURES", "CandidateFeaturizer", "Candidates",
           "Judgement", "LogisticHead", "QUESTION_FEATURES", "QUESTION_TYPES", "SchoolWords", "question_features",
           "question_type"]
