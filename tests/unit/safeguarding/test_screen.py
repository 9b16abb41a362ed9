"""The learned safeguarding screen (bot/safeguarding/screen/): its corpus, model, thresholds, bands, backstop and
facade, with the fake embedder (a model trained once per session on the real corpus)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot import settings
from bot.core.embedder import FakeEmbedder
from bot.safeguarding.screen import SafeguardingScreen, training
from bot.safeguarding.screen.backstop import Backstop
from bot.safeguarding.screen.corpus import Example, expected_urgencies, load_corpus
from bot.safeguarding.screen.decide import Thresholds, decide
from bot.safeguarding.screen.model import ModelConfig, ModelNotReady, Prediction, ScreenModel
from bot.safeguarding.screen.normalise import normalise
from bot.safeguarding.types import CATEGORIES, ScreenResult

CORPUS = settings.PROJECT_ROOT / "data" / "safeguarding" / "training"
DEV_SET = settings.PROJECT_ROOT.parent / "shared" / "eval" / "dev_safeguarding.jsonl"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ corpus


@pytest.fixture(scope="module")
def corpus() -> tuple[Example, ...]:
    return load_corpus(CORPUS)


def test_the_corpus_is_big_varied_and_in_families(corpus: tuple[Example, ...]) -> None:
    """At least 2,000 messages in families of 5-12 wordings; every label; at least a quarter hard negatives;
    pupils, staff and parents all write."""
    families: dict[str, list[Example]] = {}
    for example in corpus:
        families.setdefault(example.family, []).append(example)
    assert len(corpus) >= 2000
    assert all(5 <= len(wordings) <= 12 for family, wordings in families.items() if not family.startswith("pq:"))
    labels = {e.label for e in corpus}
    assert labels == {"disclosure", "concern", "question", "other"}
    assert sum(e.label in ("question", "other") for e in corpus) >= len(corpus) / 4
    assert {"pupil", "staff", "parent"} <= {e.role for e in corpus}


def test_every_harm_category_and_urgency_has_disclosures(corpus: tuple[Example, ...]) -> None:
    """Every KCSIE category (but the less acute online one and 'other') is disclosed, at every urgency overall."""
    disclosed = {e.category for e in corpus if e.label == "disclosure"}
    assert set(CATEGORIES) - {"online_safety", "other"} <= disclosed
    assert {e.urgency for e in corpus if e.label == "disclosure"} == set(expected_urgencies("disclosure"))


def test_no_corpus_message_copies_a_development_message(corpus: tuple[Example, ...]) -> None:
    """The development set is for measuring: no corpus wording of five words or more equals one, or shares 70% of
    its words (a two-word greeting may coincide with one without copying it)."""
    if not DEV_SET.is_file():
        pytest.skip("the shared development set is not beside the repository")
    dev = [json.loads(line)["text"] for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]

    def words(text: str) -> set[str]:
        return set(re.findall(r"[a-z0-9']+", normalise(text)))

    dev_words = [words(t) for t in dev]
    for example in corpus:
        mine = words(example.text)
        if len(mine) < 5:
            continue
        for theirs in dev_words:
            overlap = len(mine & theirs) / max(1, len(mine | theirs))
            assert overlap < 0.7, f"corpus family {example.family} is too close to a development message"


@pytest.mark.parametrize("family, message", [
    ("  - id: a\n    label: alarm\n    urgency: none\n    category: other\n", r"family 'a': unknown label 'alarm'"),
    ("  - id: a\n    label: disclosure\n    urgency: none\n    category: other\n",
     r"family 'a': a disclosure has urgency immediate or high or standard, not 'none'"),
    ("  - id: a\n    label: question\n    urgency: none\n    category: sadness\n",
     r"family 'a': unknown category 'sadness'"),
    ("  - id: a\n    label: question\n    urgency: none\n    category: other\n    messages: [[pupil, hi]]\n",
     r"family 'a': needs 5 to 12 messages, has 1"),
    ("  - id: a\n    label: question\n    urgency: none\n    category: other\n    messages:\n"
     + "      - [pupil, hi]\n" * 4 + "      - [alien, hi]\n",
     r"family 'a': message 5 must be \[role, text\] with role one of pupil, staff"),
    ("  - label: question\n", r"family 1 has no id"),
])
def test_malformed_families_are_exact_errors(tmp_path: Path, family: str, message: str) -> None:
    path = write(tmp_path / "bad.yml", "families:\n" + family)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: {message}"):
        load_corpus(tmp_path)


def test_a_family_in_two_files_and_an_empty_folder_are_exact_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path))}: no training files \(\*\.yml\)$"):
        load_corpus(tmp_path)
    family = ("families:\n  - id: same\n    label: other\n    urgency: none\n    category: other\n    messages:\n"
              + "      - [pupil, hi]\n" * 5)
    write(tmp_path / "a.yml", family)
    second = write(tmp_path / "b.yml", family)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(second))}: family 'same' is also in a.yml$"):
        load_corpus(tmp_path)


def test_every_tuning_question_joins_the_corpus_with_its_label(corpus: tuple[Example, ...]) -> None:
    """The answer core's tuning questions are in, grouped by school and section; the few that tell of a specific
    child carry the label the rubric gives them, and the rest are questions."""
    from bot.qa import tuning

    asked = [e for e in corpus if e.family.startswith("pq:")]
    questions = tuning.load_questions()
    assert [e.text for e in asked] == [q.question for q in questions]
    assert {e.family for e in asked} == {f"pq:{q.group}" for q in questions}
    assert sum(e.label == "question" for e in asked) >= 0.9 * len(asked)
    told = {e.text: e for e in asked}["sum1 i met on a game wants to meet me is that ok"]
    assert (told.label, told.category) == ("disclosure", "grooming")


def tuning_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "tuning"
    folder.mkdir()
    write(folder / "a.jsonl", "\n".join(json.dumps(
        {"id": f"q{n}", "school": "alder", "role": "pupil", "question": f"can I bring item {n}?",
         "answerable": False, "evidence": [], "kind": "not_covered", "section": "Phones"}) for n in (1, 2)))
    write(tmp_path / "one.yml", "families:\n  - id: same\n    label: other\n    urgency: none\n    category: other\n"
          "    messages:\n" + "      - [pupil, hi]\n" * 5)
    return folder


@pytest.mark.parametrize("lines, message", [
    (['{"id": "q1", "label": "question", "urgency": "none", "category": "other"}'],
     r": 1 tuning question\(s\) have no label, first 'q2'"),
    (['{"id": "q9", "label": "question", "urgency": "none", "category": "other"}'], r":1: 'q9' is not a tuning question"),
    (['{"id": "q1", "label": "question", "urgency": "none", "category": "other"}'] * 2, r":2: 'q1' is labelled twice"),
    (['{"id": "q1", "label": "concern", "urgency": "none", "category": "other"}'],
     r":1: a concern has urgency standard, not 'none'"),
    (['{"id": "q1"}'], r':1: expected \{"id", "label", "urgency", "category"\}'),
])
def test_tuning_question_labels_are_checked_exactly(tmp_path: Path, lines: list[str], message: str) -> None:
    tuning_dir = tuning_folder(tmp_path)
    write(tmp_path / "policy_questions.jsonl", "\n".join(lines))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path / 'policy_questions.jsonl'))}{message}"):
        load_corpus(tmp_path, tuning_dir)


def test_labelled_tuning_questions_are_examples_grouped_by_section(tmp_path: Path) -> None:
    tuning_dir = tuning_folder(tmp_path)
    write(tmp_path / "policy_questions.jsonl", "\n".join(
        json.dumps({"id": f"q{n}", "label": "question", "urgency": "none", "category": "online_safety"})
        for n in (2, 1)))
    asked = [e for e in load_corpus(tmp_path, tuning_dir) if e.family.startswith("pq:")]
    assert [(e.text, e.role, e.label, e.family) for e in asked] == [
        ("can I bring item 1?", "pupil", "question", "pq:alder|Phones"),
        ("can I bring item 2?", "pupil", "question", "pq:alder|Phones")]


def test_grouped_folds_never_put_a_family_on_both_sides(corpus: tuple[Example, ...]) -> None:
    folds = training.grouped_folds(corpus)
    assert sorted(int(i) for fold in folds for i in fold) == list(range(len(corpus)))
    seen: dict[str, int] = {}
    for number, fold in enumerate(folds):
        for index in fold:
            assert seen.setdefault(corpus[int(index)].family, number) == number


# ------------------------------------------------------------------------------------------------ thresholds


def prediction(hand_off: float, disclosure_share: float = 1.0, immediate: float = 0.0,
               category: str = "bullying") -> Prediction:
    disclosure = hand_off * disclosure_share
    return Prediction({"disclosure": disclosure, "concern": hand_off - disclosure, "question": 1.0 - hand_off,
                       "other": 0.0},
                      {"immediate": immediate, "high": 1.0 - immediate, "standard": 0.0},
                      {category: 0.9, "other": 0.1})


def test_the_bar_is_the_highest_threshold_that_keeps_the_recall() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    assert training._bar(scores, 1.0) == pytest.approx(0.05)
    assert training._bar(scores, 0.9) == pytest.approx(0.1)
    assert training._bar(scores, 0.5) == pytest.approx(0.5)
    assert training._bar(np.array([]), 0.99) == 0.5


def test_choose_thresholds_orders_the_bands() -> None:
    examples = [Example(f"t{i}", "pupil", "disclosure", "immediate" if i < 5 else "high", "bullying", f"f{i}")
                for i in range(100)] + [Example("q", "pupil", "question", "none", "other", "q")]
    predictions = [prediction(0.2 + 0.008 * i, immediate=0.3 + 0.005 * i) for i in range(100)] + [prediction(0.1)]
    chosen = training.choose_thresholds(examples, predictions)
    assert chosen.signpost <= chosen.check_in <= chosen.hand_off
    assert chosen.hand_off == pytest.approx(0.216, abs=1e-3)   # 2 of 100 disclosures may fall below the bar


def test_the_danger_bar_weighs_danger_now_caught_against_chat_handed_off() -> None:
    scores = np.array([0.30, 0.20, 0.10, 0.05, 0.25, 0.15, 0.08, 0.08, 0.08, 0.08])
    missed = np.array([True, True, True, True, False, False, False, False, False, False])
    chat = ~missed
    # At 0.20 two danger-now messages are caught for one needless hand-off; at 0.10 three for two; at 0.05 four for
    # six. With one miss worth ten needless hand-offs, 0.05 gains most (4 - 0.6).
    assert training._danger_bar(scores, missed, chat) == pytest.approx(0.05)
    # When every bar hands off more chat than it is worth, the route stays shut.
    assert training._danger_bar(np.array([0.5, 0.5]), np.array([False, False]), np.array([True, True])) == 1.0
    many_chat = np.concatenate([scores[:1], np.full(20, 0.4)])
    assert training._danger_bar(many_chat, np.arange(21) == 0, np.arange(21) > 0) == 1.0


def test_choose_thresholds_opens_the_danger_route_where_the_bands_miss_danger_now() -> None:
    # Danger-now messages the hand-off band misses (hand-off 0.1) whose heads both lean to danger now, beside chat
    # that neither head thinks is danger now.
    examples = [Example(f"d{i}", "pupil", "disclosure", "immediate", "self_harm", f"d{i}") for i in range(100)] + \
               [Example(f"c{i}", "pupil", "other", "none", "other", f"c{i}") for i in range(50)]
    predictions = [prediction(0.9, immediate=0.9) for _ in range(98)] + \
                  [prediction(0.1, immediate=0.9) for _ in range(2)] + [prediction(0.02) for _ in range(50)]
    chosen = training.choose_thresholds(examples, predictions)
    assert chosen.hand_off == pytest.approx(0.9)   # the band lets the two quiet ones go (98% recall)
    assert chosen.danger == pytest.approx(0.09)    # 0.1 x 0.9
    assert (decide(predictions[99], chosen).label, decide(predictions[99], chosen).urgency) == ("disclosure",
                                                                                              "immediate")
    assert not decide(predictions[120], chosen).hand_off


@pytest.mark.parametrize("kwargs, message", [
    ({"hand_off": 1.5}, r"threshold hand_off must be between 0 and 1, got 1.5"),
    ({"danger": -0.1}, r"threshold danger must be between 0 and 1, got -0.1"),
    ({"check_in": 0.9, "hand_off": 0.5}, r"thresholds must satisfy signpost <= check_in <= hand_off"),
])
def test_bad_thresholds_are_exact_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Thresholds(**kwargs)


# ------------------------------------------------------------------------------------------------ bands


BANDS = Thresholds(hand_off=0.5, check_in=0.3, signpost=0.1, disclosure_share=0.6, immediate=0.4)


@pytest.mark.parametrize("predicted, label, urgency, check_in, signpost", [
    (prediction(0.9), "disclosure", "high", False, True),
    (prediction(0.9, immediate=0.5), "disclosure", "immediate", False, True),
    (prediction(0.9, disclosure_share=0.2), "concern", "standard", False, True),
    (prediction(0.4), "question", "none", True, True),
    (prediction(0.2), "question", "none", False, True),
    (prediction(0.05), "question", "none", False, False),
])
def test_each_band_gives_its_verdict(predicted: Prediction, label: str, urgency: str, check_in: bool,
                                     signpost: bool) -> None:
    result = decide(predicted, BANDS)
    assert (result.label, result.urgency, result.check_in, result.signpost) == (label, urgency, check_in, signpost)


def test_danger_now_below_the_hand_off_band_is_handed_off_as_immediate() -> None:
    # Hand-off 0.2 is below the band (0.5); P(disclosure) x P(immediate) = 0.2 x 0.9 = 0.18 is over the bar.
    result = decide(prediction(0.2, immediate=0.9), replace(BANDS, danger=0.15))
    assert (result.label, result.urgency, result.hand_off) == ("disclosure", "immediate", True)
    assert "model:danger=0.18" in result.signals
    # Without the route (models saved before it), the same message gets the check-in band's gentler reply.
    assert decide(prediction(0.2, immediate=0.9), BANDS).label == "question"
    # A concern is not danger now, however urgent its wording: the route reads P(disclosure), not P(hand-off).
    assert decide(prediction(0.2, disclosure_share=0.0, immediate=0.9), replace(BANDS, danger=0.15)).urgency \
        == "none"


def test_a_check_in_knows_the_urgency_it_would_have_if_told() -> None:
    assert "if_told:immediate" in decide(prediction(0.4, immediate=0.9), BANDS).signals


def test_a_backstop_phrase_is_immediate_whatever_the_model_says() -> None:
    backstop = Backstop.load()
    hits = backstop.hits(normalise("i took a whole packet of paracetamol an hour ago"))
    assert [h.id for h in hits] == ["overdose_taken"]
    result = decide(prediction(0.01), BANDS, hits)
    assert (result.label, result.urgency) == ("disclosure", "immediate")
    assert "backstop:overdose_taken" in result.signals


# ------------------------------------------------------------------------------------------------ backstop


@pytest.mark.parametrize("text", [
    "i have taken an overdose", "my friend just swallowed a load of her mums tablets",
    "im going to kill myself tonight when everyone is asleep", "i wrote a suicide note last night",
    "i wont be here tomorrow", "he is hitting my mum right now", "he's got a knife in his bag at school",
])
def test_the_backstop_fires_on_danger_now(text: str) -> None:
    assert Backstop.load().hits(normalise(text))


def test_the_backstop_never_fires_on_the_corpus_questions_and_chat(corpus: tuple[Example, ...]) -> None:
    """High precision is its whole point: no question, everyday message or chat in the corpus sets it off."""
    backstop = Backstop.load()
    fired = [e.family for e in corpus if e.label in ("question", "other") and backstop.hits(normalise(e.text))]
    assert fired == []


@pytest.mark.parametrize("body, message", [
    ("entries:\n  - category: danger\n    all: [x]\n", r"entry 1 has no id"),
    ("entries:\n  - id: a\n    category: doom\n    all: [x]\n", r"entry 'a': unknown category 'doom'"),
    ("entries:\n  - id: a\n    category: danger\n    all: []\n", r"entry 'a': `all` must list at least one"),
    ("entries:\n  - id: a\n    category: danger\n    all: ['(']\n", r"entry 'a': pattern in `all` is not a valid"),
    ("entries:\n  - id: a\n    category: danger\n    all: ['{nope}']\n", r"entry 'a': unknown definition \{nope\}"),
    ("entries: 3\n", r"expected a mapping with a list `entries`"),
])
def test_a_malformed_backstop_is_an_exact_error(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path / "backstop.yml", body)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: {message}"):
        Backstop.load(path)


# ------------------------------------------------------------------------------------------------ model


def test_the_model_saves_and_loads_without_pickles(fake_screen_model: Path, tmp_path: Path) -> None:
    """The same probabilities after a round trip through JSON and a numpy archive (allow_pickle=False)."""
    model = ScreenModel.load(fake_screen_model)
    texts = ["my dad hits me", "what is the phone rule"]
    dense = FakeEmbedder().embed(texts)
    before = model.predict(texts, ["pupil", None], dense)
    model.save(tmp_path / "copy")
    after = ScreenModel.load(tmp_path / "copy").predict(texts, ["pupil", None], dense)
    for one, two in zip(before, after):
        assert one.labels == pytest.approx(two.labels, abs=1e-6)
        assert one.urgencies == pytest.approx(two.urgencies, abs=1e-6)
    assert not list((tmp_path / "copy").glob("*.pkl"))
    assert set(model.meta["thresholds"]) == {"hand_off", "check_in", "signpost", "disclosure_share", "immediate",
                                              "danger"}


def test_a_missing_or_foreign_model_is_an_exact_error(tmp_path: Path, fake_screen_model: Path) -> None:
    with pytest.raises(ModelNotReady, match=rf"^no safeguarding screen model in {re.escape(str(tmp_path))}; run"):
        ScreenModel.load(tmp_path)
    screen = SafeguardingScreen(FakeEmbedder(dim=64), model_dir=fake_screen_model, languages=False)
    with pytest.raises(ModelNotReady, match="was trained with another embedding model"):
        screen.warm_up()


@pytest.mark.parametrize("kwargs, message", [
    ({"dense_weight": -1.0}, r"dense_weight must not be negative"),
    ({"c_label": 0.0}, r"c_label must be positive"),
    ({"role_dropout": 1.0}, r"role_dropout must be in \[0, 1\)"),
    ({"char_ngrams": (3, 2)}, r"char_ngrams must be \(low, high\)"),
])
def test_bad_model_settings_are_exact_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


# ------------------------------------------------------------------------------------------------ the facade


@pytest.fixture(scope="module")
def screen(fake_screen_model: Path) -> SafeguardingScreen:
    return SafeguardingScreen(FakeEmbedder(), model_dir=fake_screen_model, languages=False).warm_up()


@pytest.mark.parametrize("text", ["", "   ", "😂😂😂", "...", "👍"])
def test_messages_without_words_are_other(screen: SafeguardingScreen, text: str) -> None:
    assert screen.screen(text) == ScreenResult("other", "none", "other", 1.0, ("no_words",))


def test_a_disclosure_at_the_end_of_a_very_long_message_is_found(screen: SafeguardingScreen) -> None:
    text = "I was wondering about the rules on homework and trips. " * 400 + "i want to kill myself tonight"
    result = screen.screen(text, "pupil")
    assert (result.label, result.urgency) == ("disclosure", "immediate")


def test_a_sentence_pasted_over_and_over_is_screened_once_and_whole() -> None:
    """A long message that repeats one sentence is read as that sentence, not as windows cut from the middle of
    the repetition (what the model never saw); a disclosure after the repeats stays."""
    from bot.safeguarding.screen import _chunks

    sentence = "please can you tell me about the rules for phones and tablets at school"
    assert _chunks(normalise(f"{sentence} " * 40)) == [sentence]
    chunks = _chunks(normalise(f"{sentence} " * 40 + ". my dad hits me every night and i am scared to go home"))
    assert len(chunks) == 1 and chunks[0].startswith(sentence) and chunks[0].endswith("scared to go home")


def test_signals_name_bands_and_phrases_never_message_words(screen: SafeguardingScreen) -> None:
    result = screen.screen("my uncle keeps touching me and i took all my mums tablets", "pupil")
    assert result.hand_off
    assert all(re.fullmatch(r"(model:hand_off=\d\.\d\d|backstop:\w+|band:\w+|if_told:\w+)", s)
               for s in result.signals)
    assert not any(word in " ".join(result.signals) for word in ("uncle", "touching", "tablets"))


@pytest.mark.parametrize("role, message", [("wizard", r"unknown role 'wizard'"), (3, r"role must be text")])
def test_a_bad_role_is_an_exact_error(screen: SafeguardingScreen, role: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        screen.screen("hello", role)


def test_non_text_is_an_exact_error_without_echoing_input(screen: SafeguardingScreen) -> None:
    with pytest.raises(ValueError, match=r"^text must be a string, got bytes$"):
        screen.screen(b"secret words")  # type: ignore[arg-type]


def test_the_same_message_is_screened_once(screen: SafeguardingScreen, monkeypatch: pytest.MonkeyPatch) -> None:
    """The channel guard and the NLU component in one process screen a message once (the verdict is cached under
    a hash of role and text)."""
    calls = []
    real = screen._screen
    monkeypatch.setattr(screen, "_screen", lambda text, role: calls.append(role) or real(text, role))
    first = screen.screen("a brand new message about lunch menus", "parent")
    assert screen.screen("a brand new message about lunch menus", "carer") == first
    assert calls == ["parent"]
    assert not any("lunch" in key for key in screen._cache)


class StubLanguages:
    def __init__(self, verdict: Any) -> None:
        self.verdict = verdict

    def warm_up(self) -> StubLanguages:
        return self

    def detect(self, text: str) -> Any:
        return self.verdict


def test_another_language_is_routed_by_its_harm_words(fake_screen_model: Path) -> None:
    """Harm words in another language: a concern with its language noted (an immediate disclosure when they mean
    danger now); none: `other`, marked for the templates' signposting."""
    from bot.safeguarding.language import LanguageVerdict

    def screened(verdict: LanguageVerdict) -> ScreenResult:
        return SafeguardingScreen(FakeEmbedder(), model_dir=fake_screen_model,
                                  languages=StubLanguages(verdict)).screen("słowa")

    hit = screened(LanguageVerdict("pl", "Polish", 0.99, ("pl:hit",)))
    assert (hit.label, hit.urgency, hit.language, hit.category) == ("concern", "standard", "pl", "physical_abuse")
    assert "harm_term:pl:hit" in hit.signals
    danger = screened(LanguageVerdict("es", "Spanish", 0.99, ("es:weapon",)))
    assert (danger.label, danger.urgency, danger.language) == ("disclosure", "immediate", "es")
    calm = screened(LanguageVerdict("so", "Somali", 0.95))
    assert (calm.label, calm.signpost, calm.language) == ("other", True, "so")


def test_importing_the_screen_loads_no_model() -> None:
    """The action server imports everything under actions/ at start-up: importing the screen loads nothing."""
    code = ("import sys; import bot.safeguarding.screen, bot.safeguarding.routing, bot.safeguarding.checkin; "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'lingua', 'sklearn', 'spacy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=settings.PROJECT_ROOT).stdout
    assert out.strip() == "[]"
