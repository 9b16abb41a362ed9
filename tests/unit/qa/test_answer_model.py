"""The learned answer core: honest partial answers, one who-is path, the model's storage and its training data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.core.embedder import FakeEmbedder
from bot.qa import training
from bot.qa.answer import PolicyAssistant
from bot.qa.answerability import (ARRAYS_FILE, CANDIDATE_FEATURES, QUESTION_FEATURES, QUESTION_TYPES, AnswerModel,
                                  AnswerModelNotReady, CandidateFeaturizer, Candidates, LogisticHead,
                                  question_features)
from bot.qa.conversation import who_is
from bot.qa.index import IndexStore
from bot.qa.people import asked_post
from bot.qa.ranking import TreeRanker
from bot.qa.retrieval import Retriever
from bot.schools import SchoolDirectory
from conftest import ALDER_POLICY, BIRCH_POLICY, SCHOOLS_YML, write_data_dir


def _head(size: int, weights: dict[int, float], intercept: float) -> LogisticHead:
    coef = np.zeros(size)
    for index, weight in weights.items():
        coef[index] = weight
    return LogisticHead(np.zeros(size), np.ones(size), coef, intercept)


def _model(answers: bool, hint_threshold: float | None = None) -> AnswerModel:
    """A hand-set model: the reranker prefers passages written for another group than the asker's, and the answer
    head always says yes (or always no), so the composer's paths are exercised exactly."""
    rerank = _head(len(CANDIDATE_FEATURES), {CANDIDATE_FEATURES.index("audience_other"): 5.0}, 0.0)
    answer = _head(len(QUESTION_FEATURES), {}, 10.0 if answers else -10.0)
    return AnswerModel(rerank, answer, 0.5, {"note": "hand-set for a test"}, hint_threshold)


def test_unsure_shows_the_closest_part_as_such_never_as_the_rule(retriever: Retriever) -> None:
    """Below the answer threshold but in the hint band: abstained, says it found no clear answer, quotes the
    closest passage under `related` (never `citations`) and names who to check with."""
    answer_head = _head(len(QUESTION_FEATURES), {}, 0.0)  # P(answers) = 0.5
    rerank = _head(len(CANDIDATE_FEATURES), {CANDIDATE_FEATURES.index("dense"): 5.0}, 0.0)
    assistant = PolicyAssistant(retriever, model=AnswerModel(rerank, answer_head, 0.6, {}, hint_threshold=0.4))
    answer = assistant.answer("alder", "what happens to my phone at the start of the day?", "any")
    assert answer.abstained and answer.citations == () and len(answer.related) == 1
    assert answer.text.startswith("I can't find a clear answer to that in Alder's Online Safety Policy. The "
                                  "closest part says: ")
    assert "— Alder Primary School, Online Safety Policy" in answer.text
    assert answer.text.endswith("It may not be what you're asking about, so please check with "
                                "Jane Hollis (Online Safety Lead).")
    without_band = PolicyAssistant(retriever, model=AnswerModel(rerank, answer_head, 0.6, {}))
    assert without_band.answer("alder", "what happens to my phone at the start of the day?", "any").text == (
        "Alder's Online Safety Policy doesn't cover that, so I won't guess. Please ask Jane Hollis "
        "(Online Safety Lead).")


@pytest.mark.parametrize("question, searched", [
    ("what is the phone rule at Alder Primary School?", "what is the phone rule?"),
    ("what's alder's rule on phones", "what's rule on phones"),
    ("Alder", "Alder"),
])
def test_the_schools_own_name_is_not_searched_for(data_dir: Path, question: str, searched: str) -> None:
    """Every passage names its school, so the name would pull boilerplate to the top; a question that is only the
    name is kept as it is."""

    assert SchoolDirectory.load().get("alder").without_own_name(question) == searched


def test_a_rule_for_another_group_is_related_never_cited(retriever: Retriever) -> None:
    """A pupil's question where the policy has only the staff rule: abstained, says there is no rule for pupils,
    and quotes the staff rule as the staff rule, under `related`."""
    assistant = PolicyAssistant(retriever, model=_model(answers=False))
    answer = assistant.answer("alder", "can I use my phone in lessons?", "pupil")
    assert answer.abstained and answer.citations == ()
    assert len(answer.related) == 1 and answer.related[0].text.startswith("Staff & other adults")
    assert answer.text.startswith("Alder's Online Safety Policy has no rule on this for pupils. The rule for staff "
                                  "says: Staff & other adults")
    assert "— Alder Primary School, Online Safety Policy" in answer.text
    assert answer.to_dict()["related"] == [answer.related[0].to_dict()]


def test_a_question_about_oneself_answered_only_by_another_groups_rules_is_a_partial_answer(
        retriever: Retriever) -> None:
    """Even when the model would answer: a member of staff asking about their own phone, where the best passages
    are all the pupils' rules, is told there is no rule for staff and shown the pupils' rule as such. Asked about
    staff in general, the same passages are the answer, with the note whose rule it is."""
    assistant = PolicyAssistant(retriever, model=_model(answers=True))
    mine = assistant.answer("birch", "can I use my phone at lunchtime?", "staff")
    assert mine.abstained and mine.citations == () and len(mine.related) == 1
    assert mine.text.startswith("Birch's E-Safety Policy has no rule on this for staff. The rule for pupils "
                                "says: Students may use their phones at lunchtime")
    general = assistant.answer("birch", "can staff use phones at lunchtime?", "staff")
    assert not general.abstained and general.citations and general.related == ()
    assert "(This part of the policy is written for pupils.)" in general.text


def test_an_answer_the_model_accepts_is_cited_with_nothing_related(retriever: Retriever) -> None:
    assistant = PolicyAssistant(retriever, model=_model(answers=True))
    answer = assistant.answer("birch", "can I add my teachers as friends on social media?", "pupil")
    assert not answer.abstained and answer.related == ()
    assert answer.citations and all(c.school == "birch" for c in answer.citations)
    assert "related" not in answer.to_dict()


def test_no_rule_for_anyone_is_a_plain_abstention_naming_who_to_ask(retriever: Retriever) -> None:
    """Asked without a role, nothing is "another group's" rule: the plain 'doesn't cover that' reply."""
    assistant = PolicyAssistant(retriever, model=_model(answers=False))
    answer = assistant.answer("alder", "does the school run a breakfast club?", "any")
    assert answer.abstained and answer.related == () and answer.citations == ()
    assert answer.text == ("Alder's Online Safety Policy doesn't cover that, so I won't guess. "
                           "Please ask Jane Hollis (Online Safety Lead).")


@pytest.mark.parametrize("question, post", [
    ("who is the DSL?", "dsl"),
    ("whos the dsl", "dsl"),
    ("What's the name of the Principal?", "headteacher"),
    ("what's the headteacher's name?", "headteacher"),
    ("wat is the headteacher called", "headteacher"),
    ("name of the designated safeguarding lead please", "dsl"),
    ("tell me who the online safety lead is", "online_safety_lead"),
    ("what are the names of the safeguarding leads", "dsl"),
    ("Who is the governor responsible for online safety?", "governor"),
    ("who's the online safety governor", "governor"),
    ("who is the head of online safety", "online_safety_lead"),
    ("who is the e-safety coordinator", "online_safety_lead"),
    # Questions that name a post without asking who holds it: the policy answers these.
    ("Who does the online safety coordinator answer to?", None),
    ("What is the DSL responsible for?", None),
    ("How often does the governor meet the DSL?", None),
    ("whose job is it to check the filtering works?", None),
])
def test_identity_questions_are_told_from_questions_that_only_name_a_post(question: str, post: str | None) -> None:
    assert asked_post(question) == post


@pytest.mark.parametrize("answers", [True, False])
def test_who_is_says_the_same_on_every_path_and_names_nobody_it_does_not_know(retriever: Retriever,
                                                                             answers: bool) -> None:
    """"Who is the headteacher?" at a school whose policy names none: the CLI/REST answer path and the who-is
    action give the same words, abstained; a named DSL is named and cited."""
    assistant = PolicyAssistant(retriever, model=_model(answers))
    nobody = assistant.answer("birch", "who is the headteacher?", "parent")
    assert nobody.abstained and nobody.citations == ()
    assert nobody.text == who_is(assistant, "birch", "headteacher").text
    assert nobody.text.startswith("Birch's E-Safety Policy doesn't name the headteacher.")
    named = assistant.answer("alder", "Who's the DSL?", "pupil")
    assert not named.abstained
    assert named.text.splitlines()[0] == "The Designated Safeguarding Lead at Alder is Mary Oak."
    assert named.text == who_is(assistant, "alder", "dsl").text


def test_a_post_held_by_two_people_is_named_in_the_plural(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two DSLs: "The Designated Safeguarding Leads at Birch are Tom Reed and Ann Lee.", not "... Lead ... is ..."."""
    root = write_data_dir(tmp_path / "data", {"alder.txt": ALDER_POLICY, "birch.txt": BIRCH_POLICY},
                          SCHOOLS_YML.replace("dsl: [Tom Reed]", "dsl: [Tom Reed, Ann Lee]"))
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(root))
    retriever = Retriever(schools=SchoolDirectory.load(root / "schools.yml"),
                          store=IndexStore(tmp_path / "artifacts" / "index"), embedder=FakeEmbedder(),
                          auto_build=True)
    assert who_is(PolicyAssistant(retriever), "birch", "dsl").text.splitlines()[0] == (
        "The Designated Safeguarding Leads at Birch are Tom Reed and Ann Lee.")
    assert who_is(PolicyAssistant(retriever), "alder", "dsl").text.splitlines()[0] == (
        "The Designated Safeguarding Lead at Alder is Mary Oak.")


def test_the_model_saves_and_loads_without_pickles(retriever: Retriever, tmp_path: Path) -> None:
    model = _model(answers=False)
    model.save(tmp_path / "model")
    loaded = AnswerModel.load(tmp_path / "model")
    candidates = CandidateFeaturizer(retriever).candidates("alder", "must pupils hand in phones?", "pupil")
    assert loaded.threshold == model.threshold and loaded.meta == model.meta
    assert loaded.judge(candidates) == model.judge(candidates)
    meta = json.loads((tmp_path / "model" / "answer_model.json").read_text())
    meta["version"] = 0
    (tmp_path / "model" / "answer_model.json").write_text(json.dumps(meta))
    with pytest.raises(AnswerModelNotReady, match=r"made by another version of this code; run `make index`"):
        AnswerModel.load(tmp_path / "model")
    with pytest.raises(AnswerModelNotReady, match=r"no answer model in .*; run `make index`"):
        AnswerModel.load(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"the answer threshold must be between 0 and 1, got 1\.5"):
        AnswerModel(model.rerank, model.answer, 1.5)
    with pytest.raises(ValueError, match=r"the hint threshold must be between 0 and the answer threshold 0\.5, "
                                         r"got 0\.7"):
        AnswerModel(model.rerank, model.answer, 0.5, hint_threshold=0.7)
    banded = _model(answers=False, hint_threshold=0.3)
    banded.save(tmp_path / "banded")
    assert AnswerModel.load(tmp_path / "banded").hint_threshold == 0.3


def _question(number: int, school: str, section: str, question: str, evidence: list[str]) -> str:
    return json.dumps({"id": f"t-{number}", "school": school, "role": "pupil", "question": question,
                       "answerable": bool(evidence), "evidence": evidence, "key_facts": [],
                       "kind": "lookup" if evidence else "hard_negative", "section": section})


TINY_CORPUS = [
    ("alder", "Mobile Phones", "do we give our phones to the teacher in the morning", ["hand their mobile phones"]),
    ("alder", "Mobile Phones", "where do phones get kept", ["phones are kept in a locked drawer"]),
    ("alder", "Mobile Phones", "what if i lose my phone", ["lost phones are reported to the school office"]),
    ("alder", "Mobile Phones", "how long do they keep phones for", []),
    ("alder", "Passwords", "how often should passwords change", ["changed every term"]),
    ("alder", "Passwords", "can i tell my friend my password", ["Passwords must be kept private"]),
    ("alder", "Passwords", "how long does a password have to be", []),
    ("birch", "Students", "when can i use my phone", ["at lunchtime in the canteen only"]),
    ("birch", "Students", "can i use my phone on the bus", []),
    ("birch", "Social Media", "can i message a teacher on insta", ["must not contact staff on social media"]),
    ("birch", "Social Media", "which apps are banned", []),
    ("birch", "none", "is there a breakfast club", []),
]


def tiny_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TINY_CORPUS as a tuning folder under `tmp_path`, with the artifacts there too."""
    monkeypatch.setenv("POLICYBOT_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    corpus = tmp_path / "tuning"
    corpus.mkdir()
    (corpus / "tiny.jsonl").write_text("\n".join(_question(i, *row) for i, row in enumerate(TINY_CORPUS)) + "\n")
    return corpus


def test_training_on_tuning_questions_gives_a_ready_model_that_goes_stale_when_they_change(
        retriever: Retriever, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tiny_corpus(tmp_path, monkeypatch)
    trained = training.train(retriever, corpus, folds=2)
    figures = trained.crossval.figures()
    assert figures["questions"] == len(TINY_CORPUS) and figures["answerable"] == 7
    assert all(0.0 <= figures[k] <= 1.0 for k in ("evidence_at_1", "evidence_at_3", "abstention_accuracy"))
    assert 0.0 < trained.crossval.threshold < 1.0
    training.save_atomically(trained.model, training.model_dir(retriever.embedder.name))
    assert training.model_state(retriever, corpus) == "ready"
    with (corpus / "tiny.jsonl").open("a") as more:
        more.write(_question(99, "birch", "none", "is there a uniform shop", []) + "\n")
    assert training.model_state(retriever, corpus) == "stale"


def test_a_saved_model_whose_ranking_trees_read_other_features_must_be_rebuilt(
        retriever: Retriever, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trained = training.train(retriever, tiny_corpus(tmp_path, monkeypatch), folds=2)
    assert isinstance(trained.model.rerank, TreeRanker)
    folder = tmp_path / "model"
    trained.model.save(folder)
    assert AnswerModel.load(folder).rerank.width == trained.model.rerank.width
    archive = folder / ARRAYS_FILE
    with np.load(archive) as saved:
        arrays = dict(saved)
    first = np.array([True, False, False])
    other = TreeRanker.fit([(np.eye(3), first), (np.eye(3)[::-1], first)])
    np.savez_compressed(archive, **{**arrays, "rerank_trees": other.to_array()})
    with pytest.raises(AnswerModelNotReady,
                       match=r"cannot be read \(its reranker reads 3 features, not \d+\); run `make index`"):
        AnswerModel.load(folder)


@pytest.mark.parametrize("line, message", [
    ("{not json", r"tiny\.jsonl:2: not a valid tuning question"),
    (json.dumps({"id": "x", "school": "alder", "question": "q?"}), r"tiny\.jsonl:2: not a valid tuning question"),
    (json.dumps({"id": "x", "school": "alder", "question": "q?", "answerable": True, "evidence": []}),
     r"tiny\.jsonl:2: an answerable question needs evidence spans, and an unanswerable one none"),
])
def test_a_bad_tuning_line_is_an_exact_error(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "tiny.jsonl").write_text(_question(1, *TINY_CORPUS[0]) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=message):
        training.load_questions(tmp_path)


def test_one_question_asked_at_several_schools_is_one_cross_validation_group(tmp_path: Path) -> None:
    """The cross-school set's copies of a question share a family, so a fold never holds one school's copy while
    training on another's; questions without one are grouped by school and section."""
    lines = [_question(1, *TINY_CORPUS[0]), _question(2, *TINY_CORPUS[7])]
    for number, school in ((3, "alder"), (4, "birch")):
        raw = json.loads(_question(number, school, "Phones", "can i have my phone in class", []))
        lines.append(json.dumps({**raw, "kind": "cross_school_silent", "family": "xq-01"}))
    (tmp_path / "tiny.jsonl").write_text("\n".join(lines) + "\n")
    groups = [q.group for q in training.load_questions(tmp_path)]
    assert groups == ["alder|Mobile Phones", "birch|Students", "family|xq-01", "family|xq-01"]


def test_each_question_knows_its_set_and_the_cross_validation_reads_each_set_apart(
        retriever: Retriever, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file named after the school is the first set; `topic-alder.jsonl` is the topic set, even for a school
    whose name has a hyphen. The CV's per-set figure covers every set and agrees with the overall one."""
    sets = tmp_path / "sets"
    sets.mkdir()
    for name, school in (("alder", "alder"), ("topic-alder", "alder"), ("topic-birch-wood", "birch-wood")):
        (sets / f"{name}.jsonl").write_text(_question(1, school, "Phones", "can i have my phone", []) + "\n")
    assert [q.source for q in training.load_questions(sets)] == ["first", "topic", "topic"]
    crossval = training.train(retriever, tiny_corpus(tmp_path, monkeypatch), folds=2).crossval
    assert set(crossval.by_source()) == {"tiny"}
    assert crossval.by_source()["tiny"] == pytest.approx(crossval.figures()["ended_right"])


def test_an_empty_tuning_folder_is_an_exact_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no tuning questions \(\*\.jsonl\) in "):
        training.load_questions(tmp_path)


def test_the_project_corpus_is_big_enough_and_every_span_is_verbatim() -> None:
    """Issue 13's corpus: at least 800 questions, 150 a school, a quarter unanswerable; every evidence span is in
    its school's policy text (whitespace and case aside), so the labels can be trusted."""
    import re

    from bot import settings

    questions = training.load_questions(settings.PROJECT_ROOT / "data" / "eval" / "tuning")
    assert len(questions) >= 800
    by_school: dict[str, int] = {}
    for q in questions:
        by_school[q.school] = by_school.get(q.school, 0) + 1
    assert min(by_school.values()) >= 150
    assert sum(not q.answerable for q in questions) >= len(questions) / 4
    squash = lambda text: re.sub(r"\s+", " ", text).strip().lower()  # noqa: E731
    policies = {s: squash((settings.PROJECT_ROOT / "data" / "policies" / f"{s}.txt").read_text()) for s in by_school}
    missing = [q.id for q in questions for span in q.evidence if squash(span) not in policies[q.school]]
    assert missing == []


def test_no_tuning_question_copies_a_development_question_or_message() -> None:
    """The development sets are for measuring: no tuning question of five words or more shares 70% of its words
    with a development question or safeguarding message."""
    import json
    import re

    from bot import settings
    from bot.safeguarding.screen.normalise import normalise

    shared = settings.PROJECT_ROOT.parent / "shared" / "eval"
    dev_files = [(shared / "dev_questions.jsonl", "question"), (shared / "dev_safeguarding.jsonl", "text")]
    if not all(path.is_file() for path, _ in dev_files):
        pytest.skip("the shared development sets are not beside the repository")

    def words(text: str) -> set[str]:
        return set(re.findall(r"[a-z0-9']+", normalise(text)))

    dev = [words(json.loads(line)[key]) for path, key in dev_files
           for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    too_close = [q.id for q in training.load_questions(settings.PROJECT_ROOT / "data" / "eval" / "tuning")
                 if len(words(q.question)) >= 5
                 and any(len(words(q.question) & d) / len(words(q.question) | d) >= 0.7 for d in dev)]
    assert too_close == []


def test_the_answer_head_reads_how_the_question_relates_to_the_policy_not_its_form() -> None:
    """The question's length, question word, whether it asks for a person, whether the role is known and the share
    of its words the policy never uses say how tuning questions were written, not whether this policy answers
    them (docs/benchmarks.md, 2026-12-07 morning): changing them alone leaves the answer head's row as it was,
    while a passage-side feature still moves it."""
    rows = np.random.default_rng(0).random((4, len(CANDIDATE_FEATURES)))
    rerank = np.array([0.9, 0.4, 0.2, 0.1])
    form = ["content_words", "unseen_share", "unseen_weighted", "asks_person", "role_unknown",
            *(f"asks_{t}" for t in QUESTION_TYPES)]
    reworded = rows.copy()
    reworded[:, [CANDIDATE_FEATURES.index(name) for name in form]] += 1.0
    before = question_features(Candidates((), rows), rerank)
    assert np.array_equal(question_features(Candidates((), reworded), rerank), before)
    other_passage = rows.copy()
    other_passage[0, CANDIDATE_FEATURES.index("cover_text")] += 1.0
    assert not np.array_equal(question_features(Candidates((), other_passage), rerank), before)
