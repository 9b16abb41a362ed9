"""Training the answer model on the project's own tuning questions, with grouped cross-validation by section.

The tuning corpus (data/eval/tuning/*.jsonl, the development file's format plus `section`) was written school by
school from the policies alone. Folds are grouped by school and policy section, so no section is on both sides:
the figures say how the model does on parts of a policy it has never seen questions about, which is what a new
school or a new question brings. The answer threshold is the one under which the most out-of-fold questions end
right: answered with the evidence first, or (when the policy does not answer) abstained. A wrong passage shown as
the answer counts as wrong as an abstention on a question the policy answers; that is what a person asking gets.
The development set is never used to choose anything.

The reranker also reads a learned word-by-word reading of each candidate (bot.qa.reading). Each question's reading
comes from a reader trained without its fold (the same folds), so the reranker learns from scores like the ones it
meets on questions the reader never saw; the reader kept in the model is trained on every question.

It reads too what the school's other tuning questions say (bot.qa.memory): which passages answered the ones that
read most like this one. Each question is left out of the memory it reads, in training and in cross-validation;
the model keeps a memory of all of them. The folds keep a question's section-mates in its memory, as a school's
memory holds questions on every section a new question may ask about (docs/benchmarks.md gives the figures with
the section taken out of the memory too, and with an empty one).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bot import settings
from bot.core import artifacts
from bot.core.roles import canonical_role
from bot.evaluation import span_found
from bot.qa import ranking
from bot.qa.answerability import (MODEL_VERSION, AnswerModel, AnswerModelNotReady, CandidateFeaturizer,
                                  Candidates, LogisticHead, Reranker, question_features)
from bot.qa.memory import ASKED_FEATURES, MEMORY_FEATURES, TEMPERATURE, QuestionMemory
from bot.qa.reading import Reader, ReaderRecipe, fit_reader
from bot.qa.retrieval import Retriever, SearchHit
from bot.qa.tuning import TuningQuestion, corpus_fingerprint, default_corpus_dir, load_questions

log = logging.getLogger(__name__)

FOLDS = 5
#: Regularisation of the answer head (inverse strength), from grouped cross-validation (docs/benchmarks.md).
C_ANSWER = 1.0
_THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)
#: How the threshold is chosen (part of the recipe: a model chosen another way is stale).
THRESHOLD_OBJECTIVE = "ended-right, hint at best abstention accuracy"
#: How the word-by-word reader is trained (recipes compared by grouped CV in docs/benchmarks.md).
READER = ReaderRecipe()


def model_dir(embedder_name: str) -> Path:
    """artifacts/qa/answer/<embedder>: one model per embedding model (its features are that model's cosines)."""
    return artifacts.embedder_folder(settings.artifacts_dir() / "qa" / "answer", embedder_name)


def _indexes_fingerprint(retriever: Retriever, schools: Sequence[str]) -> str:
    """What the features were computed over: each school's policy file and index version."""
    manifests = [retriever.index_for(s).manifest for s in sorted(schools)]
    keys = ("school", "policy_sha256", "ingest_version", "index_version", "model")
    return hashlib.sha256(json.dumps([{k: m.get(k) for k in keys} for m in manifests]).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------ examples


@dataclass(frozen=True)
class Example:
    """A tuning question's candidates and which of them hold its evidence."""

    question: TuningQuestion
    candidates: Candidates
    relevant: np.ndarray


def examples(questions: Sequence[TuningQuestion], featurizer: CandidateFeaturizer) -> list[Example]:
    out = []
    for q in questions:
        candidates = featurizer.candidates(q.school, q.question, q.role)
        relevant = np.array([any(span_found(span, hit.text) for span in q.evidence) for hit in candidates.hits],
                            dtype=bool)
        out.append(Example(q, candidates, relevant))
    return out


def grouped_folds(items: Sequence[Example], folds: int = FOLDS) -> list[np.ndarray]:
    """Test indices of each fold, whole (school, section) groups only (GroupKFold: deterministic)."""
    from sklearn.model_selection import GroupKFold

    groups = [e.question.group for e in items]
    return [test for _, test in GroupKFold(n_splits=folds).split(np.zeros(len(items)), groups=groups)]


# ------------------------------------------------------------------------------------------------ reading


def _fit_reader(items: Sequence[Example], rows: Sequence[int]) -> Reader | None:
    """A reader trained on `rows`; the untrained one when none of them can teach it which passage is right (no
    word pieces, or no evidence among the candidates); None when the index has no word-piece vectors at all."""
    if any(items[i].candidates.reading is not None and items[i].question.answerable and items[i].relevant.any()
           for i in rows):
        return fit_reader([items[i].candidates.reading for i in rows], [items[i].relevant for i in rows],
                          [items[i].question.answerable for i in rows], READER)
    known = next((e.candidates.reading for e in items if e.candidates.reading is not None), None)
    return Reader.identity(known.question.shape[1]) if known is not None else None


def read(item: Example, reader: Reader) -> Example:
    """The example with its candidates' READING_FEATURES appended, as `reader` reads them."""
    found = item.candidates
    extra = reader.features(found.reading, candidates=len(found.hits))
    return replace(item, candidates=replace(found, features=np.hstack([found.features, extra])))


def cross_read(items: Sequence[Example], folds: int = FOLDS) -> tuple[list[Example], Reader | None]:
    """Every example read by a reader trained without its fold (grouped_folds), and the reader trained on all."""
    final = _fit_reader(items, range(len(items)))
    if final is None:
        return list(items), None
    out = list(items)
    for test in grouped_folds(items, folds):
        reader = _fit_reader(items, np.setdiff1d(np.arange(len(items)), test)) or final
        for i in test:
            out[int(i)] = read(items[int(i)], reader)
    return out, final


# ------------------------------------------------------------------------------------------------ memory


def question_memory(items: Sequence[Example], retriever: Retriever) -> QuestionMemory:
    """The memory of `items`, row by row in their order: each answerable question with every passage of its
    school's policy that holds its evidence (not only its candidates)."""
    dim = next((len(e.candidates.vector) for e in items if e.candidates.vector is not None), 0)
    vectors = np.zeros((len(items), dim), dtype=np.float32)
    answered_by = []
    for i, item in enumerate(items):
        if item.candidates.vector is not None:
            vectors[i] = item.candidates.vector
        q = item.question
        passages = retriever.index_for(q.school).passages if q.answerable else ()
        answered_by.append(frozenset(p.id for p in passages if any(span_found(s, p.text) for s in q.evidence)))
    featurizer = CandidateFeaturizer(retriever)
    words = tuple(featurizer.question_words(e.question.school, e.question.question) for e in items)
    return QuestionMemory(tuple(e.question.school for e in items), vectors, tuple(answered_by), words,
                          tuple(canonical_role(e.question.role) for e in items))


def remember(items: Sequence[Example], memory: QuestionMemory) -> list[Example]:
    """Every example with MEMORY_FEATURES appended and its ASKED_FEATURES, each read from `memory` (built from
    `items`) without itself."""
    out = []
    for i, item in enumerate(items):
        found = item.candidates
        school = item.question.school
        words = memory.words[i] if memory.words else None
        extra, asked = (memory.read(school, found.vector, [h.passage.id for h in found.hits], i, words,
                                    canonical_role(item.question.role))
                        if found.vector is not None else (np.zeros((len(found.hits), len(MEMORY_FEATURES))),
                                                          np.zeros(len(ASKED_FEATURES))))
        out.append(replace(item, candidates=replace(found, features=np.hstack([found.features, extra]),
                                                    asked=asked)))
    return out


def prepared(questions: Sequence[TuningQuestion], retriever: Retriever, folds: int = FOLDS
             ) -> tuple[list[Example], Reader | None, QuestionMemory]:
    """The examples a model is cross-validated and fitted on (read out of fold, then remembered without
    themselves), the reader trained on all of them and the memory of all of them."""
    items, reader = cross_read(examples(questions, CandidateFeaturizer(retriever)), folds)
    memory = question_memory(items, retriever)
    return remember(items, memory), reader, memory


# ------------------------------------------------------------------------------------------------ fitting


def _fit_rerank(items: Sequence[Example], rows: Sequence[int]) -> Reranker:
    """The reranker: trees that rank each answerable question's candidates (bot.qa.ranking)."""
    return ranking.TreeRanker.fit([(items[i].candidates.features, items[i].relevant) for i in rows
                                   if items[i].question.answerable])


def _honest_question_rows(items: Sequence[Example], rows: np.ndarray, folds: int) -> np.ndarray:
    """Answer-head features for `rows` with reranker scores from models that did not see each question's group,
    so the answer head learns from scores like the ones it will meet."""
    from sklearn.model_selection import GroupKFold

    out = np.zeros((len(rows), len(question_features(items[0].candidates, np.zeros(0)))))
    groups = [items[i].question.group for i in rows]
    for inner_train, inner_test in GroupKFold(n_splits=folds).split(np.zeros(len(rows)), groups=groups):
        head = _fit_rerank(items, rows[inner_train])
        for j in inner_test:
            candidates = items[rows[j]].candidates
            out[j] = question_features(candidates, head.probabilities(candidates.features))
    return out


def fit(items: Sequence[Example], rows: Sequence[int] | None = None, threshold: float = 0.5,
        folds: int = FOLDS, meta: dict | None = None, hint_threshold: float | None = None,
        reader: Reader | None = None, memory: QuestionMemory | None = None,
        unremembered: AnswerModel | None = None) -> AnswerModel:
    """A model trained on `rows` (all by default); with `reader` and `memory`, `items` must carry their features
    (`prepared`)."""
    chosen = np.arange(len(items)) if rows is None else np.asarray(rows)
    rerank = _fit_rerank(items, chosen)
    answer = LogisticHead.fit(_honest_question_rows(items, chosen, max(2, folds - 1)),
                              [items[i].question.answerable for i in chosen], C_ANSWER)
    return AnswerModel(rerank, answer, threshold, meta, hint_threshold, reader, memory, unremembered)


def forgotten(items: Sequence[Example]) -> list[Example]:
    """The examples as a school with no remembered questions meets them: without the memory's columns."""
    width = len(MEMORY_FEATURES)
    return [replace(e, candidates=replace(e.candidates, features=e.candidates.features[:, :-width], asked=None))
            if e.candidates.asked is not None else e for e in items]


# ------------------------------------------------------------------------------------------------ cross-validation


@dataclass(frozen=True)
class Outcome:
    """One question's out-of-fold result: whether the policy answers it, the answer head's probability, and
    whether the first / first three reranked candidates hold its evidence."""

    question: TuningQuestion
    answerable: float
    first: bool
    first_three: bool
    top: SearchHit | None = None


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold outcomes and the threshold under which most of them end right."""

    outcomes: tuple[Outcome, ...]
    threshold: float
    #: Below `threshold`, from here up the closest passage is shown as such: the best abstention accuracy.
    hint_threshold: float | None = None

    def figures(self, threshold: float | None = None) -> dict[str, float]:
        t = self.threshold if threshold is None else threshold
        answerable = [o for o in self.outcomes if o.question.answerable]
        unanswerable = [o for o in self.outcomes if not o.question.answerable]
        answered = lambda o: o.answerable >= t  # noqa: E731
        return {
            "questions": float(len(self.outcomes)), "answerable": float(len(answerable)),
            "evidence_at_1": _share(answerable, lambda o: answered(o) and o.first),
            "evidence_at_3": _share(answerable, lambda o: answered(o) and o.first_three),
            "rerank_at_1": _share(answerable, lambda o: o.first),
            "abstention_accuracy": _share(self.outcomes, lambda o: answered(o) == o.question.answerable),
            "unanswerable_abstained": _share(unanswerable, lambda o: not answered(o)),
            "answerable_answered": _share(answerable, answered),
            "ended_right": _share(self.outcomes, lambda o: _ends_right(o, t)),
        }

    def by_kind(self) -> dict[str, float]:
        """Per kind: evidence@1 for answerable kinds, abstention for the unanswerable ones."""
        return {kind: _share(items, (lambda o: o.answerable >= self.threshold and o.first)
                             if items[0].question.answerable else (lambda o: o.answerable < self.threshold))
                for kind, items in self._grouped(lambda q: q.kind).items()}

    def by_source(self) -> dict[str, float]:
        """Per question set (`TuningQuestion.source`): the share that ended right. The sets were written at different
        times for different gaps (the broad topic-level questions, the cross-school ones), so a change that helps
        overall can still cost one of them, which the overall figure hides."""
        return {source: _share(items, lambda o: _ends_right(o, self.threshold))
                for source, items in self._grouped(lambda q: q.source).items()}

    def _grouped(self, key: Callable[[TuningQuestion], str]) -> dict[str, list[Outcome]]:
        """The outcomes by `key` of their question ("unknown" when empty), keys in order."""
        groups: dict[str, list[Outcome]] = {}
        for o in self.outcomes:
            groups.setdefault(key(o.question) or "unknown", []).append(o)
        return dict(sorted(groups.items()))


def _ends_right(outcome: Outcome, threshold: float) -> bool:
    """Answered with the evidence first, or abstained where the policy does not answer."""
    answered = outcome.answerable >= threshold
    return answered and outcome.first if outcome.question.answerable else not answered


def _share(items: Sequence[Outcome], test) -> float:
    return sum(bool(test(o)) for o in items) / len(items) if items else 0.0


def cross_validate(items: Sequence[Example], folds: int = FOLDS) -> CrossValidation:
    outcomes: list[Outcome | None] = [None] * len(items)
    for test in grouped_folds(items, folds):
        train = np.setdiff1d(np.arange(len(items)), test)
        model = fit(items, train, folds=folds)
        for i in test:
            judged = model.judge(items[i].candidates)
            relevant = {items[i].candidates.hits[j].passage.id for j in np.where(items[i].relevant)[0]}
            firsts = [hit.passage.id in relevant for hit in judged.hits[:3]]
            outcomes[int(i)] = Outcome(items[i].question, judged.answerable, bool(firsts[:1] and firsts[0]),
                                       any(firsts), judged.hits[0] if judged.hits else None)
    done = tuple(o for o in outcomes if o is not None)
    best = max(_THRESHOLDS, key=lambda t: (_share(done, lambda o: _ends_right(o, t)), -abs(t - 0.5)))
    hint = max(_THRESHOLDS, key=lambda t: (_share(done, lambda o: (o.answerable >= t) == o.question.answerable),
                                           -abs(t - 0.5)))
    return CrossValidation(done, float(best), float(min(hint, best)))


# ------------------------------------------------------------------------------------------------ build


def recipe_fingerprint() -> str:
    recipe = (MODEL_VERSION, sorted(ranking.PARAMS.items()), C_ANSWER, THRESHOLD_OBJECTIVE, READER, TEMPERATURE)
    return hashlib.sha256(repr(recipe).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainedAnswerModel:
    model: AnswerModel
    crossval: CrossValidation
    #: The stand-in's, for a school without remembered questions.
    unremembered: CrossValidation | None = None


def fitted(items: Sequence[Example], reader: Reader | None, memory: QuestionMemory, folds: int = FOLDS,
           meta: dict | None = None) -> TrainedAnswerModel:
    """From `prepared` examples: cross-validate to choose the thresholds, then fit on every one; likewise the
    stand-in without the memory, for schools it holds no question of (its figures in meta `crossval_unremembered`:
    a new school's, before anyone writes questions for it)."""
    crossval = cross_validate(items, folds)
    plain_items = forgotten(items)
    plain_crossval = cross_validate(plain_items, folds)
    plain = fit(plain_items, threshold=plain_crossval.threshold, folds=folds,
                hint_threshold=plain_crossval.hint_threshold, reader=reader)
    meta = {**(meta or {}), "crossval": {k: round(v, 4) for k, v in crossval.figures().items()},
            "crossval_unremembered": {k: round(v, 4) for k, v in plain_crossval.figures().items()}}
    return TrainedAnswerModel(fit(items, threshold=crossval.threshold, folds=folds, meta=meta,
                                  hint_threshold=crossval.hint_threshold, reader=reader, memory=memory,
                                  unremembered=plain), crossval, plain_crossval)


def train(retriever: Retriever, corpus_dir: Path | str | None = None, folds: int = FOLDS) -> TrainedAnswerModel:
    """Cross-validate (grouped by section) to choose the threshold, then fit on every tuning question."""
    questions = [q for q in load_questions(corpus_dir) if q.school in retriever.schools.slugs]
    items, reader, memory = prepared(questions, retriever, folds)
    meta = {"embedder": retriever.embedder.name, "corpus": corpus_fingerprint(corpus_dir),
            "indexes": _indexes_fingerprint(retriever, {q.school for q in questions}),
            "recipe": recipe_fingerprint(), "questions": len(questions), "folds": folds}
    return fitted(items, reader, memory, folds, meta)


def _checked(retriever: Retriever, corpus_dir: Path | str | None = None) -> tuple[str, AnswerModel | None]:
    """The model's state for the retriever's embedder (`ready`, `missing`, `stale` or `no corpus`) and the model
    itself when it could be read, so a caller that wants it does not read it twice."""
    folder = Path(corpus_dir or default_corpus_dir())
    if not any(folder.glob("*.jsonl")):
        return "no corpus", None
    try:
        model = AnswerModel.load(model_dir(retriever.embedder.name))
    except AnswerModelNotReady as problem:
        return ("missing" if "no answer model" in str(problem) else "stale"), None
    schools = {q.school for q in load_questions(folder) if q.school in retriever.schools.slugs}
    fresh = (model.meta.get("embedder") == retriever.embedder.name
             and model.meta.get("corpus") == corpus_fingerprint(folder)
             and model.meta.get("recipe") == recipe_fingerprint()
             and model.meta.get("indexes") == _indexes_fingerprint(retriever, schools))
    return ("ready" if fresh else "stale"), model


def model_state(retriever: Retriever, corpus_dir: Path | str | None = None) -> str:
    """`ready`, `missing`, `stale` or `no corpus` for the retriever's embedder."""
    return _checked(retriever, corpus_dir)[0]


def ready_model(retriever: Retriever) -> AnswerModel | None:
    """The answer model for the retriever's embedder; None when the data folder has no tuning questions to train
    one from; an exact error naming the folder and `make index` when it is missing or stale."""
    state, model = _checked(retriever)
    if state == "missing":
        raise AnswerModelNotReady(f"no answer model in {model_dir(retriever.embedder.name)}; run `make index` "
                                  f"(policybot build-index trains it)")
    if state == "stale":
        raise AnswerModelNotReady(f"the answer model in {model_dir(retriever.embedder.name)} was trained on other "
                                  f"questions, policies or code; run `make index` to rebuild it")
    return model


def save_atomically(model: AnswerModel, directory: Path) -> None:
    """Write the model beside `directory` and swap it in (bot.core.artifacts.save_atomically)."""
    artifacts.save_atomically(model.save, directory)


def build(retriever: Retriever, force: bool = False) -> str:
    """Train and save the answer model for the retriever's embedder unless it is ready."""
    state = model_state(retriever)
    if state == "no corpus" or (state == "ready" and not force):
        return "up to date" if state == "ready" else state
    trained = train(retriever)
    save_atomically(trained.model, model_dir(retriever.embedder.name))
    figures = trained.crossval.figures()
    return (f"built (grouped CV: evidence@1 {figures['evidence_at_1']:.3f}, abstention "
            f"{figures['abstention_accuracy']:.3f}, threshold {trained.crossval.threshold:.2f})")


__all__ = ["CrossValidation", "Example", "FOLDS", "READER", "TrainedAnswerModel", "TuningQuestion", "build",
           "corpus_fingerprint", "cross_read", "cross_validate", "default_corpus_dir", "examples", "fit", "fitted",
           "forgotten", "grouped_folds", "load_questions", "model_dir", "model_state", "prepared", "question_memory",
           "read", "ready_model", "remember", "save_atomically", "train"]
