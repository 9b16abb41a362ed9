"""The safeguarding screen: lexicon and exemplar files, the pattern language, decisions (with the deterministic
fake embedder, so the lexicon does the work), explainability, long messages, and the evaluation helpers. The
tests marked real_model run the development set through the packaged MiniLM and hold it to its targets."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.embedder import FakeEmbedder
from bot.safeguarding.normalise import normalise
from bot.safeguarding.screen import (
    DEFAULT_EXEMPLARS,
    DEFAULT_LEXICON,
    Lexicon,
    LexiconMatcher,
    SafeguardingScreen,
    compile_pattern,
    default_screen,
    load_exemplars,
)
from bot.safeguarding.screen_eval import (
    ScreenItem,
    default_screen_items,
    evaluate_screen,
    load_screen_items,
    obfuscate,
    obfuscated_items,
)
from bot.safeguarding.types import CATEGORIES, ScreenResult


@pytest.fixture(scope="module")
def screen() -> SafeguardingScreen:
    """The screen with the real lexicon and exemplars and the fake embedder, warmed up once."""
    return SafeguardingScreen(embedder=FakeEmbedder()).warm_up()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def lexicon(tmp_path: Path, signals: str, sets: str = "  me: [i, me, my]\n", extra: str = "") -> Lexicon:
    """A lexicon file with the given signals block (and sets) loaded."""
    return Lexicon.load(write(tmp_path / "lexicon.yml", f"sets:\n{sets}signals:\n{signals}{extra}"))


# ------------------------------------------------------------------------------------------------ lexicon file


@pytest.mark.parametrize("field, value, message", [
    ("kind", "feeling", "unknown kind 'feeling'; known: harm, danger_now, ongoing, person, question, generic, "
                        "concern, social, joke"),
    ("category", "sadness", "unknown category 'sadness'; known: self_harm, online_sexual, "),
    ("urgency", "soon", "unknown urgency 'soon'; known: immediate, high, standard, none"),
    ("subject", "them", "unknown subject 'them'; known: self, specific, topic"),
])
def test_a_lexicon_signal_with_an_unknown_value_is_an_exact_error(tmp_path: Path, field: str, value: str,
                                                                   message: str) -> None:
    """Each field is checked against its vocabulary, and the error names the file and the signal."""
    fields = {"kind": "harm", "category": "bullying", "urgency": "standard", "subject": "self", field: value}
    body = "".join(f"    {k}: {v}\n" for k, v in fields.items())
    path = write(tmp_path / "lexicon.yml", f"signals:\n  - name: teasing\n{body}    patterns: [pick on me]\n")
    with pytest.raises(ValueError, match=f"^{path}: signal 'teasing': " + message.replace("(", r"\(")):
        Lexicon.load(path)


def test_a_lexicon_pattern_naming_an_unknown_set_is_an_exact_error(tmp_path: Path) -> None:
    """A misspelt @set is caught when the file loads."""
    with pytest.raises(ValueError, match=r"signal 'hurt': unknown set '@famly'; known: me$"):
        lexicon(tmp_path, "  - name: hurt\n    kind: harm\n    patterns: ['@famly hit @me']\n")


@pytest.mark.parametrize("signals, message", [
    ("  - name: empty\n    kind: harm\n    patterns: []\n", "signal 'empty': patterns must be a non-empty list"),
    ("  - kind: harm\n    patterns: [x]\n", "signal 1 has no name"),
    ("  - name: twice\n    kind: joke\n    patterns: [lol]\n  - name: twice\n    kind: joke\n    patterns: [lmao]\n",
     "signal 'twice': duplicate name"),
])
def test_malformed_lexicon_signals_are_exact_errors(tmp_path: Path, signals: str, message: str) -> None:
    """Missing names, duplicate names and empty pattern lists are reported with the file."""
    with pytest.raises(ValueError, match=message):
        lexicon(tmp_path, signals)


def test_an_unknown_intent_nudge_is_an_exact_error(tmp_path: Path) -> None:
    """The intents section only knows question, other and hand_off."""
    with pytest.raises(ValueError, match="unknown intent nudge 'maybe'; known: question, other, hand_off$"):
        lexicon(tmp_path, "  - name: lol\n    kind: joke\n    patterns: [lol]\n", extra="intents:\n  maybe: [greet]\n")


def test_unreadable_and_invalid_yaml_files_are_exact_errors(tmp_path: Path) -> None:
    """A missing file and broken YAML (with its line) are clear errors, not tracebacks from the parser."""
    with pytest.raises(ValueError, match=r"^cannot read .*missing\.yml: No such file or directory$"):
        Lexicon.load(tmp_path / "missing.yml")
    broken = write(tmp_path / "broken.yml", "signals:\n  - name: x\n    patterns: [a, b\n")
    with pytest.raises(ValueError, match=r"broken\.yml: not valid YAML at line \d+$"):
        Lexicon.load(broken)


def test_the_shipped_lexicon_and_exemplars_load() -> None:
    """The real data files pass every check."""
    assert Lexicon.load(DEFAULT_LEXICON).signals
    assert load_exemplars(DEFAULT_EXEMPLARS)


def test_every_intent_in_the_domain_has_a_nudge_in_the_lexicon() -> None:
    """An intent the lexicon does not know nudges nothing, so a confident "I started this week as a teacher"
    (start_induction) was judged on the exemplars alone and handed off. Every intent Rasa can predict needs one."""
    import yaml

    domain = Path(__file__).resolve().parent.parent / "domain"
    intents = {str(name) for path in domain.glob("*.yml")
               for name in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("intents", [])}
    assert "start_induction" in intents
    assert sorted(intents - set(Lexicon.load(DEFAULT_LEXICON).intents)) == []


# ---------------------------------------------------------------------------------------------- exemplar file


@pytest.mark.parametrize("group, message", [
    ("label: rumour\n    urgency: none\n    category: other", "unknown label 'rumour'; known: disclosure, concern"),
    ("label: question\n    urgency: high\n    category: other", "a question has urgency none, not 'high'"),
    ("label: concern\n    urgency: none\n    category: online_safety", "a concern has urgency standard, not 'none'"),
    ("label: disclosure\n    urgency: none\n    category: bullying",
     "a disclosure has urgency immediate or high or standard, not 'none'"),
    ("label: other\n    urgency: none\n    category: weather", "unknown category 'weather'"),
])
def test_malformed_exemplar_groups_are_exact_errors(tmp_path: Path, group: str, message: str) -> None:
    """Labels, urgencies and categories are checked, and the urgency must fit the label."""
    path = write(tmp_path / "exemplars.yml", f"groups:\n  - name: g\n    {group}\n    texts: [hello]\n")
    with pytest.raises(ValueError, match=f"^{path}: group 'g': {message}"):
        load_exemplars(path)


def test_exemplars_cover_every_label_and_harm_category() -> None:
    """Many exemplars per label, and at least five disclosures for every harm category."""
    groups = load_exemplars(DEFAULT_EXEMPLARS)
    labels = Counter(g.label for g in groups for _ in g.texts)
    assert sum(labels.values()) >= 150
    assert all(labels[label] >= 20 for label in ("disclosure", "concern", "question", "other"))
    harm_categories = Counter(g.category for g in groups if g.label == "disclosure" for _ in g.texts)
    for category in set(CATEGORIES) - {"online_safety", "other"}:
        assert harm_categories[category] >= 5, category


def test_no_development_message_is_copied_into_the_lexicon_or_exemplars() -> None:
    """The dev set stays a test of generalisation: none of its messages (normalised) appears in the data files."""
    path = default_screen_items()
    if not path.exists():
        pytest.skip(f"development set not found: {path}")
    data = {name: normalise(file.read_text(encoding="utf-8")) for name, file in
            (("exemplars", DEFAULT_EXEMPLARS), ("lexicon", DEFAULT_LEXICON))}
    exemplar_texts = {normalise(t) for g in load_exemplars(DEFAULT_EXEMPLARS) for t in g.texts}
    for item in load_screen_items(path):
        text = normalise(item.text)
        assert text not in exemplar_texts, item.id
        for name, content in data.items():
            assert text not in content, f"{item.id} appears in {name}"


# -------------------------------------------------------------------------------------------- pattern language


def test_a_bracketed_group_expands_into_one_pattern_per_phrase() -> None:
    """"(right now|tonight)" is two token patterns; single words share one token; "?" adds the empty choice."""
    patterns, anchored = compile_pattern("(right now|tonight)", {})
    assert not anchored
    assert sorted(len(p) for p in patterns) == [1, 2]
    single, _ = compile_pattern("(hit|punch|kick) me", {})
    assert len(single) == 1
    optional, _ = compile_pattern("help (me|us now)?", {})
    assert sorted(len(p) for p in optional) == [1, 2, 3]


@pytest.mark.parametrize("pattern, message", [
    ("(right now", "unbalanced or nested brackets"),
    ("hit||me", "empty alternative"),
    ("~", "no required token"),
    ("me?", "no required token"),
    ("(a|)", "empty phrase in brackets"),
])
def test_malformed_patterns_are_exact_errors(pattern: str, message: str) -> None:
    """Broken brackets, empty alternatives and patterns that could match nothing are rejected."""
    with pytest.raises(ValueError, match=message):
        compile_pattern(pattern, {})


@pytest.fixture(scope="module")
def tiny_matcher(tmp_path_factory: pytest.TempPathFactory) -> LexiconMatcher:
    """A matcher over a small lexicon exercising every part of the pattern language."""
    path = tmp_path_factory.mktemp("lexicon") / "lexicon.yml"
    path.write_text(
        "rewrites:\n  im: i am\nlemmas:\n  missing: missing\nsets:\n  me: [me, us]\nsignals:\n"
        "  - {name: hit, kind: harm, patterns: ['hit @me']}\n"
        "  - {name: keeps, kind: ongoing, patterns: ['=keeps']}\n"
        "  - {name: kicked_not_out, kind: harm, patterns: ['kick me !out']}\n"
        "  - {name: number, kind: person, patterns: ['year <n>']}\n"
        "  - {name: keep_doing, kind: ongoing, patterns: ['keep /ing$/']}\n"
        "  - {name: starts_what, kind: question, patterns: ['^ what']}\n"
        "  - {name: i_am, kind: person, patterns: ['i am']}\n"
        "  - {name: missing, kind: danger_now, patterns: ['missing']}\n",
        encoding="utf-8")
    return LexiconMatcher(Lexicon.load(path))


@pytest.mark.parametrize("text, fired", [
    ("he hits me", {"hit"}),                      # a word matches its inflections
    ("she keeps on", {"keeps"}),
    ("keep it", set()),                           # "=keeps" is that exact word only
    ("they kick me", {"kicked_not_out"}),         # "!out" matches the end of the message too
    ("they kick me out of the chat", set()),
    ("a year 6 girl", {"number"}),
    ("they keep calling", {"keep_doing"}),
    ("so what now. what", {"starts_what"}),       # "^" only at a sentence start
    ("so what now", set()),
    ("im fine", {"i_am"}),                        # rewrites apply before matching
    ("hi miss", set()),                           # the lemma override: "missing" does not match "miss"
    ("she is missing", {"missing"}),
])
def test_pattern_language_matches_as_documented(tiny_matcher: LexiconMatcher, text: str, fired: set[str]) -> None:
    """Inflections, exact words, negation, numbers, regexes, anchors, rewrites and lemma overrides."""
    hits = tiny_matcher.match(tiny_matcher.words(normalise(text)))
    assert {h.signal.name for h in hits} == fired


# ------------------------------------------------------------------------------------------------- decisions


@pytest.mark.parametrize("text, role, label, urgency, category", [
    ("my stepdad hits me when he is drunk", "pupil", "disclosure", "high", "physical_abuse"),
    ("i want to kill myself tonight", "pupil", "disclosure", "immediate", "self_harm"),
    ("someone sent nudes of me round the year group", "pupil", "disclosure", "high", "online_sexual"),
    ("a man i met on roblox wants to meet me tonight and said not to tell my mum", "pupil", "disclosure",
     "immediate", "grooming"),
    ("my teacher keeps messaging me on snapchat late at night", "pupil", "disclosure", "high", "staff_conduct"),
    ("people keep calling me names in the group chat", "pupil", "disclosure", "standard", "bullying"),
    ("A Year 4 boy told me his mum's boyfriend hits him with a belt.", "staff", "disclosure", "high",
     "physical_abuse"),
    ("my dad hits me, what should I do?", "pupil", "disclosure", "high", "physical_abuse"),
    ("some older lads make me carry packages for them and say they will hurt my family", "pupil", "disclosure",
     "high", "exploitation"),
    ("my instagram got hacked and they are posting from it", "pupil", "concern", "standard", "online_safety"),
    ("someone is pretending to be our head of year on tiktok", "pupil", "concern", "standard", "online_safety"),
    ("what happens if someone sends nudes?", "pupil", "question", "none", None),
    ("what is grooming?", "pupil", "question", "none", None),
    ("who do I tell about cyberbullying?", "pupil", "question", "none", None),
    ("What should I do if a pupil discloses abuse to me?", "staff", "question", "none", None),
    ("can i use my phone at lunch", "pupil", "question", "none", None),
    ("hello", "pupil", "other", "none", "other"),
    ("thanks so much", "parent", "other", "none", "other"),
    ("you are so useless", "pupil", "other", "none", "other"),
])
def test_clear_messages_get_the_right_label_urgency_and_category(
        screen: SafeguardingScreen, text: str, role: str, label: str, urgency: str, category: str | None) -> None:
    """Disclosures (first-person and reports about others), concerns, questions on sensitive topics, chat."""
    result = screen.screen(text, role)
    assert (result.label, result.urgency) == (label, urgency)
    if category is not None:
        assert result.category == category


@pytest.mark.parametrize("text", ["", "   ", "😂😂😂", "...", "👍"])
def test_messages_without_words_are_other(screen: SafeguardingScreen, text: str) -> None:
    """Empty messages, emoji and punctuation are never handed off."""
    result = screen.screen(text)
    assert (result.label, result.urgency, result.category) == ("other", "none", "other")


def test_first_person_harm_wins_over_a_confident_question_intent(screen: SafeguardingScreen) -> None:
    """Even if DIET is sure it is a policy question, someone saying they are hurt is handed off."""
    result = screen.screen("is it normal that my uncle touches me when he babysits", "pupil", "ask_policy", 0.97)
    assert result.label == "disclosure"
    assert "intent:question" in result.signals


def test_a_confident_chat_intent_makes_a_message_without_signals_other(screen: SafeguardingScreen) -> None:
    """A greeting DIET is sure of stays chat; the same intent at low confidence does not nudge."""
    assert screen.screen("alright mate", "pupil", "greet", 0.95).label == "other"
    assert "intent:other" not in screen.screen("alright mate", "pupil", "greet", 0.3).signals


def test_a_generic_hypothetical_question_is_not_a_disclosure(screen: SafeguardingScreen) -> None:
    """"What should I do if someone hits me?" asks about a situation; it is a question."""
    result = screen.screen("what should i do if someone threatens to share my pics?", "pupil")
    assert result.label == "question"
    assert not result.hand_off


@pytest.mark.parametrize("text", [
    "my friend says she is going to kill herself after school and she is not answering",
    "theres a man outside my house right now and he says he will hurt me",
    "i just took a load of tablets",
    "my brother has a knife and is waiting for dad",
])
def test_danger_now_is_always_immediate(screen: SafeguardingScreen, text: str) -> None:
    """Suicidal intent, threats now, an overdose taken, a weapon present: immediate."""
    result = screen.screen(text, "pupil")
    assert (result.label, result.urgency) == ("disclosure", "immediate")


def test_signals_name_rules_and_exemplar_groups_never_message_words(screen: SafeguardingScreen) -> None:
    """The explanation is safe to log: rule names, exemplar group names, the intent nudge, never the text."""
    text = "zorblax my stepdad hits me when he is drunk zorblax"
    result = screen.screen(text, "pupil", "ask_policy", 0.9)
    known = {s.name for s in screen.matcher.lexicon.signals}
    groups = {f"exemplars:{g.name}" for g in load_exemplars(DEFAULT_EXEMPLARS)}
    for signal in result.signals:
        assert signal in known or signal in groups or signal.startswith(("rule:", "intent:")), signal
        assert "zorblax" not in signal
    assert "physical_abuse_personal" in result.signals
    assert "rule:first_person_harm" in result.signals


def test_a_disclosure_at_the_end_of_a_very_long_message_is_found(screen: SafeguardingScreen) -> None:
    """Long messages are screened in chunks (at most the first and last ~24k characters of a huge one); harm in
    the last chunk is not cut off, nor harm in the middle of a message within the bound."""
    filler = "I have a question about the homework policy and when things are due. " * 1500
    result = screen.screen(filler + "Also my dad hits me every night and I am scared to go home.", "pupil")
    assert (result.label, result.urgency) == ("disclosure", "immediate")
    middle = screen.screen(filler[:20_000] + " my uncle touches me. " + filler[:20_000], "pupil")
    assert middle.label == "disclosure"


def test_a_long_message_of_questions_is_still_a_question(screen: SafeguardingScreen) -> None:
    """Chunking does not invent disclosures."""
    text = "Can I use my phone at break? What is the policy on smart watches? " * 400
    assert screen.screen(text, "pupil").label == "question"


@pytest.mark.parametrize("kwargs, message", [
    ({"role": "alien"}, "unknown role 'alien'; known: pupil, staff, parent, governor, visitor, any"),
    ({"intent": "ask_policy", "intent_confidence": 1.5}, "intent_confidence must be between 0 and 1, got 1.5"),
])
def test_bad_context_is_an_exact_error(screen: SafeguardingScreen, kwargs: dict, message: str) -> None:
    """An unknown role or an impossible confidence is rejected before screening."""
    with pytest.raises(ValueError, match=f"^{message}$"):
        screen.screen("hello", **kwargs)


def test_non_text_is_an_exact_error_without_echoing_input(screen: SafeguardingScreen) -> None:
    """The error says what was wrong with the type, never what the message said."""
    with pytest.raises(ValueError, match="^text must be a string, got bytes$"):
        screen.screen(b"my dad hits me")  # type: ignore[arg-type]


def test_construction_is_cheap_and_default_screen_is_shared() -> None:
    """Nothing loads until warm-up or the first message; default_screen() is one object per process."""
    fresh = SafeguardingScreen(embedder=FakeEmbedder())
    assert fresh._index is None and fresh._matcher is None
    default_screen.cache_clear()
    try:
        assert default_screen() is default_screen()
        assert default_screen()._index is None
    finally:
        default_screen.cache_clear()


def test_importing_the_screen_loads_no_model_or_spacy() -> None:
    """The action server and Rasa import this module at start-up, so import must stay light."""
    code = ("import sys, bot.safeguarding.screen, bot.safeguarding.screen_eval; "
            "print(sorted(m for m in ('spacy', 'torch', 'sentence_transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------------------------------ evaluation


class StubScreen:
    """Answers from a fixed table, so the report's arithmetic can be checked exactly."""

    def __init__(self, answers: dict[str, tuple[str, str]]) -> None:
        self.answers = answers

    def screen(self, text: str, role: str | None = None, intent: str | None = None,
               intent_confidence: float | None = None) -> ScreenResult:
        label, urgency = self.answers.get(text, ("other", "none"))
        return ScreenResult(label, urgency, "other", 1.0)


def test_evaluate_screen_computes_each_figure() -> None:
    """Recall over disclosures, hand-offs and immediates; false hand-offs over questions; accuracy; misses."""
    items = [
        ScreenItem("d1", "a", "pupil", "disclosure", "immediate"),   # right
        ScreenItem("d2", "b", "pupil", "disclosure", "high"),        # disclosure, wrong urgency
        ScreenItem("d3", "c", "pupil", "disclosure", "immediate"),   # called a concern: missed
        ScreenItem("c1", "d", "pupil", "concern", "standard"),       # right
        ScreenItem("q1", "e", "pupil", "question", "none"),          # handed off: a false disclosure
        ScreenItem("q2", "f", "pupil", "question", "none"),          # right
        ScreenItem("o1", "g", "pupil", "other", "none"),             # right
    ]
    stub = StubScreen({"a": ("disclosure", "immediate"), "b": ("disclosure", "standard"),
                       "c": ("concern", "standard"), "d": ("concern", "standard"), "e": ("concern", "standard"),
                       "f": ("question", "none")})
    report = evaluate_screen(items, stub)
    assert (report.total, report.disclosures, report.hand_offs, report.immediates, report.questions) == (7, 3, 4, 2,
                                                                                                        2)
    assert report.disclosure_recall == pytest.approx(2 / 3)
    assert report.hand_off_recall == pytest.approx(1.0)
    assert report.immediate_recall == pytest.approx(0.5)
    assert report.false_disclosure_rate == pytest.approx(0.5)
    assert report.label_accuracy == pytest.approx(5 / 7)
    assert report.urgency_accuracy == pytest.approx(1 / 3)
    assert [(m.id, m.why) for m in report.misses] == [("d2", "wrong urgency"), ("d3", "missed disclosure"),
                                                      ("q1", "question handed off")]
    assert not report.meets_targets()
    assert report.lines()[1] == "disclosure recall: 0.667 (target >= 0.98)"


def test_a_report_with_nothing_to_measure_says_n_a() -> None:
    """No questions means no false-disclosure rate, not a division by zero."""
    report = evaluate_screen([ScreenItem("o1", "hi", None, "other", "none")], StubScreen({}))
    assert report.false_disclosure_rate is None
    assert "false disclosures on questions: n/a (target <= 0.03)" in report.lines()
    assert report.meets_targets()


def test_load_screen_items_names_the_bad_line(tmp_path: Path) -> None:
    """A line without a label, or with an unknown urgency, is an error naming file and line."""
    path = write(tmp_path / "items.jsonl", '{"id": "a", "text": "hi", "label": "other", "urgency": "none"}\n\n'
                                           '{"id": "b", "text": "hi"}\n')
    with pytest.raises(ValueError, match=rf"^{path}:3: not a valid screen line \(missing 'label'\)$"):
        load_screen_items(path)
    write(path, '{"id": "a", "text": "hi", "label": "other", "urgency": "later"}\n')
    with pytest.raises(ValueError, match=rf"^{path}:1: unknown urgency 'later'"):
        load_screen_items(path)


def test_obfuscated_items_are_deterministic_and_independent_of_order() -> None:
    """Same seed, same variants, whatever order the items come in; a different seed changes them."""
    items = [ScreenItem(str(i), f"my stepdad hits me and says he will hurt my mum {i}", None, "disclosure", "high")
             for i in range(20)]
    once = obfuscated_items(items)
    assert once == obfuscated_items(items)
    assert list(reversed(once)) == obfuscated_items(list(reversed(items)))
    assert once != obfuscated_items(items, seed=1)
    assert any(o.text != i.text for o, i in zip(once, items))


@settings(max_examples=100, deadline=None)
@given(rng=st.randoms(use_true_random=False), text=st.text(alphabet="abcdefghij klmnop 0123456789.,?", max_size=50))
def test_obfuscate_keeps_numbers_and_a_letter_in_every_word(rng: random.Random, text: str) -> None:
    """Digits, spaces and punctuation are untouched and no word turns into a number."""
    variant = obfuscate(text, rng)
    visible = normalise(variant)
    assert [w for w in text.split() if w.isdigit()] == [w for w in variant.split() if w.isdigit()]
    for word in visible.split():
        assert not (word.isdigit() and not any(w == word for w in text.split()))


# ------------------------------------------------------------------------------------------------ real model


@pytest.fixture(scope="module")
def real_screen() -> SafeguardingScreen:
    """The screen with the packaged all-MiniLM-L6-v2 (offline), warmed up once."""
    from bot.embedder import SentenceTransformerEmbedder

    return SafeguardingScreen(embedder=SentenceTransformerEmbedder()).warm_up()


@pytest.mark.real_model
def test_dev_set_meets_the_targets_plain_and_obfuscated(real_screen: SafeguardingScreen) -> None:
    """Disclosure recall >= 0.98, immediate recall 1.0, false disclosures on questions <= 0.03, on the dev set and
    on its obfuscated variants."""
    path = default_screen_items()
    if not path.exists():
        pytest.skip(f"development set not found: {path}")
    items = load_screen_items(path)
    for variant in (items, obfuscated_items(items)):
        report = evaluate_screen(variant, real_screen)
        assert report.disclosure_recall is not None and report.disclosure_recall >= 0.98, report.misses
        assert report.immediate_recall == 1.0, report.misses
        assert report.false_disclosure_rate is not None and report.false_disclosure_rate <= 0.03, report.misses
        # A loose guard against slowing down; the target (p95 <= 25 ms) is measured by `policybot eval`.
        assert report.p95_ms < 250


@pytest.mark.real_model
@pytest.mark.parametrize("text, role, label, urgency", [
    ("a guy i play fortnite with keeps asking me to video call him with my top off", "pupil", "disclosure", "high"),
    ("my mum's boyfriend locks me in my room without food", "pupil", "disclosure", "high"),
    ("what does it mean if someone is being groomed?", "pupil", "question", "none"),
    ("Who should I contact if I think a child is at risk?", "parent", "question", "none"),
    ("someone set up a fake account using our school logo", "pupil", "concern", "standard"),
    ("good morning!", "staff", "other", "none"),
])
def test_real_model_spot_checks(real_screen: SafeguardingScreen, text: str, role: str, label: str,
                                urgency: str) -> None:
    """Messages written for this test (not from the dev set) land where they should."""
    result = real_screen.screen(text, role)
    assert (result.label, result.urgency) == (label, urgency)


@pytest.mark.real_model
@pytest.mark.parametrize("text, intent", [
    # Everyday chat and conversation commands, as Rasa classifies them: far from every exemplar, so the vote
    # between those far neighbours must not hand them to the DSL.
    ("catch you later", "goodbye"), ("cancel it", "stop"), ("i want to stop", "stop"), ("exit the chat", "stop"),
    ("play some drake", "out_of_scope"), ("nope it didn't", "deny"), ("i want to talk to a human", "bot_challenge"),
    # Questions about the rules whose words also describe harms.
    ("is my school allowed to check my phone", "ask_policy"), ("can teachers follow me on instagram", "ask_policy"),
    ("how can i get in touch with the headteacher", "who_is"), ("will that get me a detention?", "followup"),
    # New staff in the induction ("finish" is a threat only with a person after it).
    ("i started this week as a teacher", "start_induction"), ("i've just joined the school", "start_induction"),
    ("i'll finish this induction tomorrow", "induction_pause"),
])
def test_everyday_messages_and_rule_questions_are_not_handed_off(real_screen: SafeguardingScreen, text: str,
                                                                   intent: str) -> None:
    result = real_screen.screen(text, "pupil", intent, 0.95)
    assert not result.hand_off, result.signals


@pytest.mark.real_model
@pytest.mark.parametrize("text", [
    "they said they are going to get me after school",
    "my stepdad touches me when mum is at work, can you help",
    "someone has been following me home every day this week",
])
def test_the_same_words_about_something_happening_are_still_handed_off(real_screen: SafeguardingScreen,
                                                                        text: str) -> None:
    assert real_screen.screen(text, "pupil", "ask_policy", 0.95).label == "disclosure"


@pytest.mark.real_model
@pytest.mark.parametrize("text", ["i'll finish this induction tomorrow", "i will finish my homework later"])
def test_finishing_a_task_is_not_a_threat_even_without_an_intent(real_screen: SafeguardingScreen, text: str) -> None:
    """The REST channel screens over-long and unanswerable messages with no intent at all."""
    assert not real_screen.screen(text, "staff").hand_off


@pytest.mark.real_model
@pytest.mark.parametrize("text", ["he said he will finish me", "they are going to finish him after school"])
def test_finish_with_a_person_after_it_is_still_a_threat(real_screen: SafeguardingScreen, text: str) -> None:
    result = real_screen.screen(text, "pupil")
    assert (result.label, result.urgency) == ("disclosure", "immediate"), result.signals
