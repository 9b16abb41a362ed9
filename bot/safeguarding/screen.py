"""The safeguarding screen run on every message: is it a disclosure (someone harmed or at risk), a concern to pass
on, a question, or something else, and how urgent?

Three sources of evidence, combined by explainable rules in `decide`:
  (a) a spaCy Matcher over lemmas of the normalised message, built from data/safeguarding/lexicon.yml: harm signals
      (first-person, about a specific person, or just the topic), danger-now markers, question and hypothetical
      framings, online-safety concerns, greetings;
  (b) the message's nearest exemplars (data/safeguarding/exemplars.yml) by cosine similarity (unit vectors, so an
      inner product), voting for label, urgency and category;
  (c) the Rasa intent, when given, as a nudge only.
A missed disclosure is far worse than a false one, so first-person harm always wins over question framing and the
intent, and any danger-now marker in a disclosure makes it `immediate`.

Construction is cheap; the lexicon, exemplar vectors and model load in `warm_up()` or on the first `screen()`.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import yaml

from bot import settings
from bot.embedder import Embedder
from bot.safeguarding import normalise as normalising
from bot.safeguarding.types import CATEGORIES, LABELS, URGENCIES, ScreenResult

SAFEGUARDING_DATA = settings.PROJECT_ROOT / "data" / "safeguarding"
DEFAULT_LEXICON = SAFEGUARDING_DATA / "lexicon.yml"
DEFAULT_EXEMPLARS = SAFEGUARDING_DATA / "exemplars.yml"

KINDS = ("harm", "danger_now", "ongoing", "person", "question", "generic", "concern", "social", "joke")
SUBJECTS = ("self", "specific", "topic")
INTENT_NUDGES = ("question", "other", "hand_off")
#: Roles whose statements about "a pupil" are reports about a particular child.
ADULT_ROLES = frozenset({"staff", "parent", "governor", "visitor"})

#: Severity order used to merge the results of a long message's chunks and to pick the strongest harm signal.
_URGENCY_RANK = {"none": 0, "standard": 1, "high": 2, "immediate": 3}
_LABEL_RANK = {"other": 0, "question": 1, "concern": 2, "disclosure": 3}
_SUBJECT_RANK = {"topic": 0, "specific": 1, "self": 2}

#: Neighbours that vote, and how sharply closer ones count more (softmax temperature over cosine similarity).
K_NEIGHBOURS = 7
VOTE_TEMPERATURE = 0.05
#: Below this best similarity the exemplars say nothing useful about a message.
MIN_SIMILARITY = 0.25
#: The exemplar share that makes a message a disclosure (or concern, question) with no rule behind it; higher when
#: concern words fired, lower when the Rasa intent already says hand-off.
VOTE_SHARE = 0.5
VOTE_OVER_CONCERN = 0.7
VOTE_NUDGED = 0.3
#: A statement about the writer or a named person hands off at this lower disclosure share: missing one costs more.
VOTE_LEAN = 0.35
#: With no harm rule behind it, the exemplar vote hands a message off only when its nearest exemplar is at least
#: this close: below it, short everyday messages ("catch you later", "cancel it", "play some drake") have
#: neighbours that are all far away and the vote between them is noise.
VOTE_ALONE_SIMILARITY = 0.45
#: ... and closer still when Rasa is confident the message is chat or a conversation command ("I want to stop").
VOTE_ALONE_OVER_CHAT = 0.65
#: Exemplars of danger now make a disclosure immediate only when they are this close (a safety net for the rules).
VOTE_IMMEDIATE_SIMILARITY = 0.5
#: A Rasa intent at or above this confidence nudges the decision.
INTENT_CONFIDENCE = 0.8
#: Messages longer than this are screened in chunks of about this size (MiniLM reads ~256 word pieces anyway).
CHUNK_CHARS = 800
#: At most this many chunks of one message are embedded: the first, the last and those where harm signals fired.
MAX_EMBEDDED_CHUNKS = 6
#: At most this many chunks are matched at all (about 48k characters, under a second); a longer message is screened
#: as its first and last 24k or so, so the cost stays bounded and a disclosure at the very end is still seen.
MAX_CHUNKS = 60

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]")
_SENTENCE_END = frozenset(".?!;:\n")
_SENTENCE_SPLIT = re.compile(r"(?<=[.?!])\s+")


# ------------------------------------------------------------------------------------------------ data files


@dataclass(frozen=True)
class Signal:
    """One named lexicon signal: its kind, the category/urgency/subject it hints at, and its pattern strings."""

    name: str
    kind: str
    patterns: tuple[str, ...]
    category: str = "other"
    urgency: str = "none"
    subject: str = "topic"


@dataclass(frozen=True)
class Lexicon:
    """The parsed lexicon.yml: word rewrites, word sets, signals and intent nudges."""

    rewrites: Mapping[str, tuple[str, ...]]
    sets: Mapping[str, frozenset[str]]
    signals: tuple[Signal, ...]
    intents: Mapping[str, str]
    lemmas: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read and check a lexicon file; every mistake is reported with the file and signal it is in."""
        raw = _read_yaml(path)
        rewrites = {str(k).lower(): tuple(str(v).lower().split()) for k, v in (raw.get("rewrites") or {}).items()}
        sets = {str(k): frozenset(str(w).lower() for w in v) for k, v in (raw.get("sets") or {}).items()}
        signals = []
        seen: set[str] = set()
        for number, item in enumerate(raw.get("signals") or [], 1):
            if not isinstance(item, dict) or not item.get("name"):
                raise ValueError(f"{path}: signal {number} has no name")
            name = str(item["name"])
            where = f"{path}: signal {name!r}"
            if name in seen:
                raise ValueError(f"{where}: duplicate name")
            seen.add(name)
            kind = str(item.get("kind", ""))
            if kind not in KINDS:
                raise ValueError(f"{where}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
            category = str(item.get("category", "other"))
            if category not in CATEGORIES:
                raise ValueError(f"{where}: unknown category {category!r}; known: {', '.join(CATEGORIES)}")
            urgency = str(item.get("urgency", "none"))
            if urgency not in URGENCIES:
                raise ValueError(f"{where}: unknown urgency {urgency!r}; known: {', '.join(URGENCIES)}")
            subject = str(item.get("subject", "topic"))
            if subject not in SUBJECTS:
                raise ValueError(f"{where}: unknown subject {subject!r}; known: {', '.join(SUBJECTS)}")
            raw_patterns = item.get("patterns") or ()
            if not raw_patterns or not all(isinstance(p, str) and p.strip() for p in raw_patterns):
                raise ValueError(f"{where}: patterns must be a non-empty list of non-empty strings")
            patterns = tuple(raw_patterns)
            for pattern in patterns:
                for alternative in re.split(r"[\s|()]+", pattern):
                    if alternative.startswith("@") and alternative.strip("@?") not in sets:
                        raise ValueError(f"{where}: unknown set {alternative.rstrip('?')!r}; known: {', '.join(sets)}")
            signals.append(Signal(name, kind, patterns, category, urgency, subject))
        intents: dict[str, str] = {}
        for nudge, names in (raw.get("intents") or {}).items():
            if nudge not in INTENT_NUDGES:
                raise ValueError(f"{path}: unknown intent nudge {nudge!r}; known: {', '.join(INTENT_NUDGES)}")
            intents.update({str(n): nudge for n in names})
        lemmas = {str(k).lower(): str(v).lower() for k, v in (raw.get("lemmas") or {}).items()}
        return cls(rewrites, sets, tuple(signals), intents, lemmas)


@dataclass(frozen=True)
class ExemplarGroup:
    """Exemplar messages sharing a label, urgency and category; its name is reported when it votes."""

    name: str
    label: str
    urgency: str
    category: str
    texts: tuple[str, ...]


def load_exemplars(path: Path) -> tuple[ExemplarGroup, ...]:
    """Read and check an exemplars file: known labels/urgencies/categories, urgency consistent with the label."""
    raw = _read_yaml(path)
    groups = []
    for number, item in enumerate(raw.get("groups") or [], 1):
        if not isinstance(item, dict) or not item.get("name"):
            raise ValueError(f"{path}: group {number} has no name")
        where = f"{path}: group {item['name']!r}"
        label, urgency, category = (str(item.get(key, "")) for key in ("label", "urgency", "category"))
        if label not in LABELS:
            raise ValueError(f"{where}: unknown label {label!r}; known: {', '.join(LABELS)}")
        if urgency not in URGENCIES:
            raise ValueError(f"{where}: unknown urgency {urgency!r}; known: {', '.join(URGENCIES)}")
        if category not in CATEGORIES:
            raise ValueError(f"{where}: unknown category {category!r}; known: {', '.join(CATEGORIES)}")
        expected = _expected_urgencies(label)
        if urgency not in expected:
            raise ValueError(f"{where}: a {label} has urgency {' or '.join(expected)}, not {urgency!r}")
        texts = tuple(str(t) for t in item.get("texts") or ())
        if not texts:
            raise ValueError(f"{where}: no texts")
        groups.append(ExemplarGroup(str(item["name"]), label, urgency, category, texts))
    if not groups:
        raise ValueError(f"{path}: no exemplar groups")
    return tuple(groups)


def _expected_urgencies(label: str) -> tuple[str, ...]:
    return {"disclosure": ("immediate", "high", "standard"), "concern": ("standard",)}.get(label, ("none",))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as problem:
        raise ValueError(f"cannot read {path}: {problem.strerror}") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return raw


# --------------------------------------------------------------------------------------------- the matcher


_PLAIN_WORD = re.compile(r"^@?[\w'£]+$")
_REGEX_ITEM = re.compile(r"(?<!\S)/\S+/(?!\S)")
_REGEX_PLACEHOLDER = re.compile(r"^/(\d+)/$")


def compile_pattern(pattern: str, sets: Mapping[str, frozenset[str]],
                    lemma: Callable[[str], str] | None = None) -> tuple[list[list[dict[str, Any]]], bool]:
    """spaCy token patterns for one lexicon pattern string (one per phrase combination) and whether the match
    must start a sentence. A word matches tokens whose lemma is the word or the word's own lemma."""
    lemma = lemma or lookup_lemma
    # Regular expressions may contain brackets and bars: set them aside before reading the pattern's structure.
    regexes: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        regexes.append(match.group(0))
        return f"/{len(regexes) - 1}/"

    items = _split_outside_brackets(_REGEX_ITEM.sub(set_aside, pattern), " ", pattern)
    anchored = bool(items) and items[0] == "^"
    if anchored:
        items = items[1:]
    compiled = []
    for combination in itertools.product(*(_item_choices(item, pattern) for item in items)):
        tokens = [_REGEX_PLACEHOLDER.sub(lambda m: regexes[int(m.group(1))], token)
                  for phrase in combination for token in phrase]
        specs = [spec for token in tokens for spec in _token_specs(token, sets, pattern, lemma)]
        if not any("OP" not in spec for spec in specs):
            raise ValueError(f"pattern {pattern!r} has no required token")
        compiled.append(specs)
    return compiled, anchored


def _split_outside_brackets(text: str, separator: str, pattern: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0 or depth > 1:
            raise ValueError(f"pattern {pattern!r} has unbalanced or nested brackets")
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth:
        raise ValueError(f"pattern {pattern!r} has unbalanced or nested brackets")
    parts.append(current)
    return [part for part in parts if part] if separator == " " else parts


def _item_choices(item: str, pattern: str) -> list[list[str]]:
    """The token sequences one item can match: its single words as one token, each bracketed phrase, and nothing
    if the item ends in "?" after a bracket ("(right now|tonight)?", "a|(at the moment)")."""
    optional = item.endswith(")?")
    body = item[:-1] if optional else item
    if "(" not in body:
        return [[body]]
    words: list[str] = []
    choices: list[list[str]] = []
    for alternative in _split_outside_brackets(body, "|", pattern):
        if alternative.startswith("(") and alternative.endswith(")"):
            for phrase in alternative[1:-1].split("|"):
                if not phrase.split():
                    raise ValueError(f"pattern {pattern!r} has an empty phrase in brackets")
                # Single plain words share one token spec: fewer patterns, a faster matcher.
                if len(phrase.split()) == 1 and _PLAIN_WORD.match(phrase.strip()):
                    words.append(phrase.strip())
                else:
                    choices.append(phrase.split())
        elif alternative and "(" not in alternative and ")" not in alternative:
            words.append(alternative)
        else:
            raise ValueError(f"pattern {pattern!r} has a malformed item {item!r}")
    if words:
        choices.insert(0, ["|".join(words)])
    return choices + ([[]] if optional else [])


def _token_specs(token: str, sets: Mapping[str, frozenset[str]], pattern: str,
                 lemma: Callable[[str], str]) -> list[dict[str, Any]]:
    if token == "~":
        # Up to three tokens of anything: spaCy 3.4 has no {n,m} operator.
        return [{"OP": "?"} for _ in range(3)]
    optional = token.endswith("?") and len(token) > 1
    token = token[:-1] if optional else token
    negated = token.startswith("!") and len(token) > 1
    token = token[1:] if negated else token
    exact = token.startswith("=") and len(token) > 1
    token = token[1:] if exact else token
    if token == "<n>":
        spec: dict[str, Any] = {"LIKE_NUM": True}
    elif len(token) > 2 and token.startswith("/") and token.endswith("/"):
        spec = {"LOWER": {"REGEX": token[1:-1]}}
    else:
        words: set[str] = set()
        if "" in token.split("|"):
            raise ValueError(f"pattern {pattern!r} has an empty alternative in {token!r}")
        for alternative in token.split("|"):
            words |= sets[alternative[1:]] if alternative.startswith("@") else {alternative}
        attribute, forms = ("LOWER", words) if exact else ("LEMMA", words | {lemma(w) for w in words})
        spec = {attribute: {"NOT_IN" if negated else "IN": sorted(forms)}}
    if optional:
        spec["OP"] = "?"
    return [spec]


@lru_cache(maxsize=50_000)
def lookup_lemma(word: str) -> str:
    """The lookup lemma of a lower-case word (spaCy's English table, as bot/text.py uses)."""
    from bot.text import nlp

    table = nlp().get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
    return table.get(word, word)


@dataclass(frozen=True)
class Hit:
    """A signal that fired, where (token offsets), and what it stands for."""

    signal: Signal
    start: int
    end: int


class LexiconMatcher:
    """The lexicon compiled into one spaCy Matcher over lookup lemmas."""

    def __init__(self, lexicon: Lexicon) -> None:
        from spacy.matcher import Matcher

        from bot.text import nlp

        self.lexicon = lexicon
        self._nlp = nlp()
        self._matcher = Matcher(self._nlp.vocab)
        self._signals: dict[str, Signal] = {}
        self._anchored: dict[str, bool] = {}
        for signal in lexicon.signals:
            for number, pattern in enumerate(signal.patterns):
                specs, anchored = compile_pattern(pattern, lexicon.sets, self.lemma)
                key = f"{signal.name}#{number}"
                self._matcher.add(key, specs)
                self._signals[key] = signal
                self._anchored[key] = anchored

    def lemma(self, word: str) -> str:
        """The lookup lemma, except where the lexicon overrides a misleading one ("missing" is not "miss")."""
        override = self.lexicon.lemmas.get(word)
        return override if override is not None else lookup_lemma(word)

    def words(self, text: str) -> list[str]:
        """Tokens of an already normalised text, with chat spellings rewritten ("im" -> "i am")."""
        out: list[str] = []
        for token in _TOKEN.findall(text):
            out.extend(self.lexicon.rewrites.get(token, (token,)))
        return out

    def match(self, words: Sequence[str]) -> list[Hit]:
        """Every signal hit in the token sequence (anchored patterns only at a sentence start)."""
        from spacy.tokens import Doc

        if not words:
            return []
        # A closing full stop lets a "!not-this" token match at the end of the message.
        tokens = [*words, "."]
        doc = Doc(self._nlp.vocab, words=tokens, lemmas=[self.lemma(w) for w in tokens])
        hits = []
        for match_id, start, end in self._matcher(doc):
            key = self._nlp.vocab.strings[match_id]
            if self._anchored[key] and not _sentence_start(words, start):
                continue
            hits.append(Hit(self._signals[key], start, end))
        return hits


def _sentence_start(words: Sequence[str], index: int) -> bool:
    return index == 0 or words[index - 1] in _SENTENCE_END


# ---------------------------------------------------------------------------------------------- exemplars


@dataclass(frozen=True)
class Vote:
    """What a message's nearest exemplars say: label/urgency/category shares and the groups among them."""

    labels: Mapping[str, float]
    urgencies: Mapping[str, float]
    categories: Mapping[str, float]
    groups: tuple[str, ...]
    best: float

    @property
    def label(self) -> str:
        """The label with the largest share ("other" when nothing was close enough to vote)."""
        return max(self.labels, key=self.labels.get) if self.labels else "other"

    def share(self, label: str) -> float:
        """This label's share of the vote, 0 to 1."""
        return self.labels.get(label, 0.0)


NO_VOTE = Vote({}, {}, {}, (), 0.0)


class ExemplarIndex:
    """Unit vectors of all exemplar texts; nearest neighbours by inner product (= cosine similarity)."""

    def __init__(self, groups: Sequence[ExemplarGroup], vectors: np.ndarray) -> None:
        self.groups = tuple(g for g in groups for _ in g.texts)
        self.vectors = vectors

    def vote(self, vector: np.ndarray, k: int = K_NEIGHBOURS) -> Vote:
        """The softmax-weighted vote of the k nearest exemplars (closer ones count for much more)."""
        sims = self.vectors @ vector
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        best = float(sims[top[0]])
        if best < MIN_SIMILARITY:
            return Vote({}, {}, {}, (), best)
        weights = np.exp((sims[top] - best) / VOTE_TEMPERATURE)
        weights = weights / weights.sum()
        labels: dict[str, float] = {}
        categories: dict[str, dict[str, float]] = {}
        urgencies: dict[str, float] = {}
        groups: list[str] = []
        for index, weight in zip(top, weights):
            group = self.groups[index]
            labels[group.label] = labels.get(group.label, 0.0) + float(weight)
            per_label = categories.setdefault(group.label, {})
            per_label[group.category] = per_label.get(group.category, 0.0) + float(weight)
            if group.label == "disclosure":
                urgencies[group.urgency] = urgencies.get(group.urgency, 0.0) + float(weight)
            if group.name not in groups and weight >= 0.1:
                groups.append(group.name)
        top_label = max(labels, key=labels.get)
        return Vote(labels, urgencies, categories.get(top_label, {}), tuple(groups), best)


# ------------------------------------------------------------------------------------------------ decision


@dataclass(frozen=True)
class Evidence:
    """Everything `decide` looks at for one piece of text: lexicon hits, the exemplar vote and the intent nudge."""

    hits: tuple[Hit, ...]
    vote: Vote = NO_VOTE
    nudge: str | None = None
    ends_with_question_mark: bool = False
    has_words: bool = True
    role: str = "any"

    def kinds(self, kind: str) -> list[Hit]:
        """The hits of one signal kind."""
        return [h for h in self.hits if h.signal.kind == kind]

    def harm(self, *subjects: str) -> list[Hit]:
        """The harm hits about these subjects (self, specific, topic)."""
        return [h for h in self.hits if h.signal.kind == "harm" and h.signal.subject in subjects]

    def fired(self, name: str) -> bool:
        """Whether the named signal fired."""
        return any(h.signal.name == name for h in self.hits)


def decide(evidence: Evidence) -> ScreenResult:
    """The label, urgency and category for one piece of text, with the names of the rules behind them."""
    if not evidence.has_words:
        return ScreenResult("other", "none", "other", 1.0, ("no_words",))
    vote = evidence.vote
    self_harm = evidence.harm("self")
    specific_harm = evidence.harm("specific")
    topic_harm = evidence.harm("topic")
    harms = self_harm + specific_harm + topic_harm
    now = evidence.kinds("danger_now")
    concern = evidence.kinds("concern")
    person = bool(evidence.kinds("person"))
    # Staff and parents write about "a pupil" or "a child" when they report someone specific.
    specific = evidence.fired("specific_person") or (
        evidence.role in ADULT_ROLES and evidence.fired("generic_subject") and not evidence.kinds("question"))
    joking = bool(evidence.kinds("joke"))
    actual = bool(now) or bool(evidence.kinds("ongoing"))
    policy_frame = evidence.fired("question_policy_frame")
    # Rasa calling a message a question counts only when nothing says it is happening: Rasa reads "someone keeps
    # following me home" as a policy question as easily as "can teachers follow me on instagram".
    asking = (bool(evidence.kinds("question")) or evidence.ends_with_question_mark
              or (evidence.nudge == "question" and not actual))
    # "What happens if someone shares nudes?" is a question about a topic; "my dad hits me, what do I do?" is not.
    generic_ask = asking and evidence.fired("hypothetical")

    # "Is my school allowed to check my phone?", "how can I get in touch with the head?": a question about the
    # rules that Rasa also reads as a question, with no danger now and exemplars not saying disclosure. Harm words
    # in it ("check my phone", "touch") describe the topic, not something happening to the writer.
    policy_question = (policy_frame and asking and evidence.nudge == "question" and not now
                       and vote.share("disclosure") < VOTE_SHARE)
    vote_alone = vote.best >= (VOTE_ALONE_OVER_CHAT if evidence.nudge == "other" else VOTE_ALONE_SIMILARITY)

    reason = None
    if self_harm and not (generic_ask and not actual) and not policy_question and not (
            joking and len(harms) == len(self_harm) and not actual):
        reason = "first_person_harm"
    elif specific_harm and not policy_question and (not asking or (actual and not generic_ask)):
        reason = "specific_person_harm"
    elif topic_harm and not asking and not joking and (specific or (person and (
            actual or vote.share("disclosure") >= VOTE_NUDGED))):
        # "grooming" next to "my sister", or next to "I" with something happening: not an essay topic.
        reason = "harm_with_person"
    elif (vote.label == "disclosure" and not asking and not joking and vote_alone
          and vote.share("disclosure") >= (VOTE_OVER_CONCERN if concern else VOTE_SHARE)):
        reason = "exemplar_vote"
    elif (person and not asking and not joking and not concern and not evidence.kinds("social") and vote_alone
          and vote.share("disclosure") >= VOTE_LEAN):
        # Someone writing about themselves or a named person, with no question in it and exemplars leaning
        # towards disclosure: hand it off rather than miss it.
        reason = "exemplar_lean"
    elif evidence.nudge == "hand_off" and (harms or vote.share("disclosure") >= VOTE_NUDGED):
        reason = "intent_hand_off"
    if reason:
        reasons = [reason, "danger_now"] if now else [reason]
        urgency = _disclosure_urgency(harms, now, vote)
        return _result("disclosure", urgency, _category(harms, vote, "disclosure"),
                       max(0.6, vote.share("disclosure")), evidence, reasons)

    if concern and not asking and not joking:
        return _result("concern", "standard", concern[0].signal.category, 0.7, evidence, ["concern_signal"])
    if vote.label == "concern" and vote.share("concern") >= VOTE_SHARE and not asking and vote_alone:
        return _result("concern", "standard", _category([], vote, "concern"), vote.share("concern"), evidence,
                       ["exemplar_vote"])
    if evidence.nudge == "hand_off" and vote.share("concern") >= VOTE_NUDGED:
        return _result("concern", "standard", _category([], vote, "concern"), 0.5, evidence, ["intent_hand_off"])

    # A question about school, safety or the policy is a question; "are you a robot?" is chat.
    about_something = bool(harms) or bool(concern)
    if not about_something and (evidence.nudge == "other" or evidence.fired("bot_remark")):
        return _result("other", "none", "other", 0.7, evidence, ["chat"])
    if asking:
        if (not about_something and not policy_frame and vote.label == "other"
                and vote.share("other") >= VOTE_SHARE):
            return _result("other", "none", "other", vote.share("other"), evidence, ["exemplar_vote"])
        return _result("question", "none", _category(harms, vote, "question"), 0.7, evidence, ["question_frame"])
    if evidence.kinds("social") or joking:
        return _result("other", "none", "other", 0.7, evidence, ["social"])
    if vote.label == "question" and vote.share("question") >= VOTE_SHARE:
        return _result("question", "none", _category(harms, vote, "question"), vote.share("question"), evidence,
                       ["exemplar_vote"])
    return _result("other", "none", "other", 0.4, evidence, ["no_signal"])


def _disclosure_urgency(harms: Sequence[Hit], now: Sequence[Hit], vote: Vote) -> str:
    """Danger now is always immediate; otherwise the most urgent harm rule about a person (topic-only rules count
    when no personal one fired: "they call me a terrorist" is bullying), or the exemplars when no rule fired."""
    if now or any(h.signal.urgency == "immediate" for h in harms) or _vote_says_immediate(vote):
        return "immediate"
    personal = [h for h in harms if h.signal.subject != "topic"] or list(harms)
    if personal:
        return max((h.signal.urgency for h in personal), key=_URGENCY_RANK.get)
    if vote.urgencies:
        return max(vote.urgencies, key=vote.urgencies.get)
    return "high"


def _vote_says_immediate(vote: Vote) -> bool:
    """Close exemplars of danger now count even when no danger-now rule fired (a safety net, not the main path)."""
    return vote.urgencies.get("immediate", 0.0) >= VOTE_SHARE and vote.best >= VOTE_IMMEDIATE_SIMILARITY


def _category(harms: Sequence[Hit], vote: Vote, label: str) -> str:
    """Staff conduct if an adult working with children is involved (it has its own route); else the category of
    the most urgent harm rule about a person (topic-only rules when none), else the exemplars' for this label."""
    if any(h.signal.category == "staff_conduct" for h in harms):
        return "staff_conduct"
    personal = [h for h in harms if h.signal.subject != "topic"] or list(harms)
    if personal:
        best = max(personal, key=lambda h: (_URGENCY_RANK[h.signal.urgency], _SUBJECT_RANK[h.signal.subject],
                                            h.signal.category != "danger"))
        return best.signal.category
    if vote.categories and vote.label == label:
        return max(vote.categories, key=vote.categories.get)
    return "online_safety" if label == "concern" else "other"


def _result(label: str, urgency: str, category: str, confidence: float, evidence: Evidence,
            reasons: Sequence[str]) -> ScreenResult:
    """The result, with the names of every signal, voting exemplar group, intent nudge and rule (never text)."""
    names: list[str] = []
    for name in [*(h.signal.name for h in evidence.hits), *(f"exemplars:{g}" for g in evidence.vote.groups),
                 *(f"intent:{evidence.nudge}" for _ in [0] if evidence.nudge), *(f"rule:{r}" for r in reasons)]:
        if name not in names:
            names.append(name)
    return ScreenResult(label, urgency, category, round(float(min(confidence, 1.0)), 3), tuple(names))


def _severity(result: ScreenResult) -> tuple[int, int]:
    return _LABEL_RANK[result.label], _URGENCY_RANK[result.urgency]


# -------------------------------------------------------------------------------------------------- screen


class SafeguardingScreen:
    """Screens one message at a time; cheap to construct, loads the lexicon, exemplars and model on warm-up."""

    def __init__(self, embedder: Embedder | None = None, lexicon_path: Path | str | None = None,
                 exemplars_path: Path | str | None = None) -> None:
        self._embedder = embedder
        self.lexicon_path = Path(lexicon_path) if lexicon_path else DEFAULT_LEXICON
        self.exemplars_path = Path(exemplars_path) if exemplars_path else DEFAULT_EXEMPLARS
        self._matcher: LexiconMatcher | None = None
        self._index: ExemplarIndex | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The embedder given, else the configured default (POLICYBOT_EMBEDDING_MODEL), created on first use."""
        if self._embedder is None:
            from bot.embedder import shared_embedder

            self._embedder = shared_embedder()
        return self._embedder

    def warm_up(self) -> SafeguardingScreen:
        """Load the lexicon, word frequencies and model and embed the exemplars (idempotent)."""
        if self._index is not None:
            return self
        with self._lock:
            if self._index is None:
                matcher = LexiconMatcher(Lexicon.load(self.lexicon_path))
                groups = load_exemplars(self.exemplars_path)
                normalising.warm_up()
                texts = [" ".join(matcher.words(normalising.normalise(t))) for g in groups for t in g.texts]
                vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
                self._matcher = matcher
                self._index = ExemplarIndex(groups, vectors)
        return self

    @property
    def matcher(self) -> LexiconMatcher:
        """The compiled lexicon (loads everything on first use)."""
        return self.warm_up()._matcher  # type: ignore[return-value]

    @property
    def index(self) -> ExemplarIndex:
        """The embedded exemplars (loads everything on first use)."""
        return self.warm_up()._index  # type: ignore[return-value]

    def screen(self, text: str, role: str | None = None, intent: str | None = None,
               intent_confidence: float | None = None) -> ScreenResult:
        """Screen one message; `role`, `intent` and its confidence are optional context."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        role = _canonical_role(role)
        if intent_confidence is not None and not 0.0 <= float(intent_confidence) <= 1.0:
            raise ValueError(f"intent_confidence must be between 0 and 1, got {intent_confidence!r}")
        self.warm_up()
        nudge = self._nudge(intent, intent_confidence)
        normal = normalising.normalise(text)
        chunks = _chunks(normal)
        if len(chunks) <= 1:
            return decide(self._evidence(normal, nudge, role, embed=True))
        matched = [(chunk, self.matcher.match(self.matcher.words(chunk))) for chunk in chunks]
        # Embed the first and last chunks and those with harm, danger or concern hits (most hits first).
        wanted = {0, len(matched) - 1}
        flagged = sorted((i for i, (_, hits) in enumerate(matched)
                          if any(h.signal.kind in ("harm", "danger_now", "concern") for h in hits)),
                         key=lambda i: -len(matched[i][1]))
        wanted.update(flagged[:max(0, MAX_EMBEDDED_CHUNKS - len(wanted))])
        results = [decide(self._evidence(chunk, nudge, role, embed=i in wanted, hits=hits))
                   for i, (chunk, hits) in enumerate(matched)]
        return max(results, key=_severity)

    def evidence(self, text: str, role: str | None = None, intent: str | None = None,
                 intent_confidence: float | None = None) -> Evidence:
        """The evidence `decide` would see for a short text (for explaining a decision)."""
        return self._evidence(normalising.normalise(text), self._nudge(intent, intent_confidence),
                              _canonical_role(role), embed=True)

    def _evidence(self, normal: str, nudge: str | None, role: str, embed: bool,
                  hits: list[Hit] | None = None) -> Evidence:
        words = self.matcher.words(normal)
        if not any(any(c.isalpha() for c in w) for w in words):
            return Evidence((), has_words=False)
        if hits is None:
            hits = self.matcher.match(words)
        vote = NO_VOTE
        if embed:
            vector = np.asarray(self.embedder.embed([" ".join(words)]), dtype=np.float32)[0]
            vote = self.index.vote(vector)
        return Evidence(tuple(hits), vote, nudge, normal.rstrip().endswith("?"), role=role)

    def _nudge(self, intent: str | None, confidence: float | None) -> str | None:
        if not intent:
            return None
        intents = self.matcher.lexicon.intents
        nudge = intents.get(intent, intents.get(intent.split("/")[0]))
        if nudge is None or (confidence is not None and confidence < INTENT_CONFIDENCE):
            return None
        return nudge


def _canonical_role(role: str | None) -> str:
    """The role the retrieval core uses for this word ("teacher" -> staff); an unknown role is an exact error."""
    from bot.retrieval import canonical_role

    return canonical_role(role)


def _chunks(normal: str) -> list[str]:
    """The normalised text cut at sentence ends into pieces of about CHUNK_CHARS (one piece if it is short)."""
    if len(normal) <= CHUNK_CHARS:
        return [normal]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_SPLIT.split(normal):
        while len(sentence) > CHUNK_CHARS:
            cut = sentence.rfind(" ", 0, CHUNK_CHARS)
            cut = cut if cut > CHUNK_CHARS // 2 else CHUNK_CHARS
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut])
            sentence = sentence[cut:].lstrip()
        if current and len(current) + 1 + len(sentence) > CHUNK_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}" if current else sentence
    if current:
        pieces.append(current)
    if len(pieces) > MAX_CHUNKS:
        half = MAX_CHUNKS // 2
        pieces = pieces[:half] + pieces[-half:]
    return pieces


@lru_cache(maxsize=1)
def default_screen() -> SafeguardingScreen:
    """The process-wide screen with the configured embedder (POLICYBOT_EMBEDDING_MODEL); built on first use."""
    return SafeguardingScreen()
