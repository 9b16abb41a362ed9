"""Which language a message is in, and whether it carries harm words in that language.

A message in another language must never get silence or "didn't get that". Its reply gives the safety signposting
and offers to pass the message to a member of staff, in the writer's language with the English underneath, from
fixed templates in data/safeguarding/languages/<code>.yml (drafted by the team, marked for a native speaker's
review, never generated at run time). Where the message carries harm words in its language (a small lexicon per
language, in the same files) it is handed to the DSL as a concern with its language noted.

How a message is read (`LanguageScreen.detect`), in this order; thresholds chosen on the project's English texts
(Rasa NLU examples, the safeguarding exemplars and training corpus, test messages: 0 of about 7,300 read as another
language) and the test sentences of each language (464 of 465 read as their language):
  1. A message mostly in a non-Latin script is in that script's language: Gurmukhi -> Panjabi, Bengali -> Bengali,
     Gujarati -> Gujarati, Tamil -> Tamil; Arabic script -> Arabic or Urdu, whichever lingua finds likelier. Other
     scripts (Cyrillic, Devanagari, Chinese ...) have no templates yet and come out as `und` (undetermined).
  2. A Latin-script message with a harm phrase in another script ("my dad مجھے مارتا ہے") is in that language.
  3. A romanised Urdu/Hindi, Panjabi, Bengali or Gujarati harm phrase ("mere abbu mujhe maarte hain", "mainu
     maarda") makes the message that language, typed in English letters. These patterns are matched in every
     message, English or not, so each is several words long and none matches any English text in the project.
  4. Otherwise lingua must be sure, because it misreads short English ("ok thx" -> Somali 0.73). School and app
     names are masked first ("rolvenden primery" reads as Spanish), and a message at least half made of words only
     English has ("wat is a terrerist") stays English. Then it is lingua's best language when (a) that is not
     English, English gets at most `MAX_ENGLISH_SHARE` and there are 2 words and 10 letters; or (a') lingua gives
     its best at least `MIN_BEST_SURE`, English at most `MAX_ENGLISH_SHARE_SURE`, over 4 words; or (b) the message
     has a letter English never uses (ł, ș, ñ, ğ, ã ...) and English gets at most `MAX_ENGLISH_SHARE`. When a harm
     phrase of another language matched and none of lingua's choice, that language wins ("quero me matar" reads as
     Spanish to lingua).
  5. Everyday words of a romanised South Asian language ("mera beta aaj school nahi aayega") make it that language.
  6. A harm phrase of a Latin-script language with English at most `MAX_ENGLISH_SHARE_HARM` ("m-a violat").
  7. Everything else is English, including slang and text-speak ("ngl my step dad hits me fr"), and short greetings
     with no telltale letter ("hola", "ciao, come stai?"), which Rasa answers.

The harm lexicons are matched against every message that is not English, whatever language it was read as (a
Portuguese message read as Spanish still meets the Portuguese lexicon). A verdict names the lexicon entries that
matched (`pl:hit`), never the text, so it is safe to log.

Nothing heavy happens at import or construction: the lingua detector (about 300 MB for these 16 languages) and the
data files load in `warm_up()` or on the first `detect()`.
"""

from __future__ import annotations

import difflib
import logging
import re
import string
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

import yaml

from bot import settings
from bot.safeguarding.types import CATEGORIES, URGENCIES

if TYPE_CHECKING:  # lingua is imported on warm-up only
    from lingua import LanguageDetector

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------- vocabulary

#: The languages with templates and a harm lexicon, ISO 639-1 code -> English name: English, then the most common
#: home languages of pupils in England after English (school census), then five more.
SUPPORTED: Mapping[str, str] = {
    "en": "English",
    "pl": "Polish",
    "pa": "Panjabi",
    "ur": "Urdu",
    "bn": "Bengali",
    "ro": "Romanian",
    "ar": "Arabic",
    "pt": "Portuguese",
    "so": "Somali",
    "es": "Spanish",
    "gu": "Gujarati",
    "lt": "Lithuanian",
    "it": "Italian",
    "tr": "Turkish",
    "fr": "French",
    "ta": "Tamil",
}
#: The verdict for a message in a script none of SUPPORTED is written in (Cyrillic, Devanagari, Chinese ...): not
#: English, no lexicon; it gets the English templates.
UNDETERMINED = "und"
UNDETERMINED_NAME = "undetermined language"

#: Languages whose templates are written in a non-Latin script. A romanised message in one of them (Urdu typed in
#: English letters) is answered in English: the writer may not read the script.
NON_LATIN: frozenset[str] = frozenset({"pa", "ur", "bn", "ar", "gu", "ta"})

SCRIPT_LANGUAGES: Mapping[str, tuple[str, ...]] = {
    "Arab": ("ar", "ur"),
    "Guru": ("pa",),
    "Beng": ("bn",),
    "Gujr": ("gu",),
    "Taml": ("ta",),
}


@dataclass(frozen=True)
class HarmKind:
    """What one harm id means for the hand-off: the screen's category and urgency, and a gloss for reviewers."""

    id: str
    category: str
    urgency: str
    meaning: str

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"harm kind {self.id!r}: unknown category {self.category!r}; known: "
                             f"{', '.join(CATEGORIES)}")
        if self.urgency not in URGENCIES:
            raise ValueError(f"harm kind {self.id!r}: unknown urgency {self.urgency!r}; known: {', '.join(URGENCIES)}")


# FGM and forced marriage have their own category once types.py has it (the training corpus README names it).
_HONOUR = "honour_based_abuse" if "honour_based_abuse" in CATEGORIES else "emotional_abuse"

#: Every language file's `harm_terms` has an entry for each of these ids (English aside: the main screen reads
#: English). Urgency follows data/safeguarding/training/README.md: a weapon, a threat to kill and being afraid to
#: go home are danger now; the rest is serious harm not this minute.
HARM_KINDS: Mapping[str, HarmKind] = {kind.id: kind for kind in (
    HarmKind("hit", "physical_abuse", "high", "being hit or beaten"),
    HarmKind("hurt", "physical_abuse", "high", "being hurt or injured by someone"),
    HarmKind("sexual", "sexual_abuse", "high", "sexual touching, sexual abuse or rape"),
    HarmKind("suicide", "self_harm", "high", "wanting to die or to kill oneself"),
    HarmKind("self_harm", "self_harm", "high", "cutting or otherwise harming oneself"),
    HarmKind("afraid_home", "emotional_abuse", "immediate", "being afraid to go home"),
    HarmKind("weapon", "danger", "immediate", "a knife or other weapon, a threat with one"),
    HarmKind("death_threat", "danger", "immediate", "being threatened with being killed"),
    HarmKind("forced_marriage", _HONOUR, "high", "being made to marry"),
    HarmKind("fgm", _HONOUR, "high", "female genital mutilation (cutting)"),
    HarmKind("no_food", "neglect", "high", "not being given food"),
    HarmKind("online_photos", "online_sexual", "high", "someone online asking for photos, nude or not"),
)}
_URGENCY_RANK = {"none": 0, "standard": 1, "high": 2, "immediate": 3}


@dataclass(frozen=True)
class LanguageVerdict:
    """The language one message is in and the harm lexicon entries it matched.

    `code` is ISO 639-1 ("en" for English) or `und`; `confidence` is lingua's probability for that language (1.0
    for a script only one supported language is written in; for a romanised harm match, lingua's probability that
    the message is not English); `script` is the ISO 15924 code of the message's main script (`Latn`, `Arab`,
    `Guru`, `Beng`, `Gujr`, `Taml`, `Zyyy` for no letters, `Zzzz` for other scripts). `harm_terms` holds lexicon
    ids such as `pl:hit`, never text, so the verdict is safe to log.
    """

    code: str
    name: str
    confidence: float
    harm_terms: tuple[str, ...] = ()
    script: str = "Latn"

    def __post_init__(self) -> None:
        if self.code not in SUPPORTED and self.code != UNDETERMINED:
            raise ValueError(f"unknown language code {self.code!r}; known: {', '.join([*SUPPORTED, UNDETERMINED])}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence!r}")
        for term in self.harm_terms:
            code, _, kind = term.partition(":")
            if code not in SUPPORTED or kind not in HARM_KINDS:
                raise ValueError(f"unknown harm term {term!r}; expected <language code>:<{'|'.join(HARM_KINDS)}>")

    @property
    def is_english(self) -> bool:
        return self.code == "en"

    @property
    def has_harm(self) -> bool:
        return bool(self.harm_terms)

    @property
    def romanised(self) -> bool:
        """A language usually written in another script, typed in Latin letters ("mainu maarda")."""
        return self.code in NON_LATIN and self.script == "Latn"

    @property
    def reply_code(self) -> str:
        """The templates to answer in: the message's language, or English for English, `und` and romanised text."""
        return "en" if self.code in ("en", UNDETERMINED) or self.romanised else self.code

    @property
    def urgency(self) -> str:
        """The most urgent of the matched harm kinds (`none` without harm)."""
        ranks = [HARM_KINDS[t.partition(":")[2]].urgency for t in self.harm_terms]
        return max(ranks, key=_URGENCY_RANK.__getitem__, default="none")

    @property
    def category(self) -> str:
        """The category of the first most urgent harm matched (`other` without harm)."""
        kinds = [HARM_KINDS[t.partition(":")[2]] for t in self.harm_terms]
        if not kinds:
            return "other"
        return max(kinds, key=lambda k: _URGENCY_RANK[k.urgency]).category

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "confidence": self.confidence,
                "harm_terms": list(self.harm_terms), "script": self.script}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LanguageVerdict:
        return cls(code=str(raw["code"]), name=str(raw["name"]), confidence=float(raw["confidence"]),
                   harm_terms=tuple(str(t) for t in raw.get("harm_terms") or ()),
                   script=str(raw.get("script") or "Latn"))


# ---------------------------------------------------------------------------------------------------- data files

LANGUAGES_DIRNAME = "languages"
PLACEHOLDERS = frozenset({"dsl", "reference"})
REVIEW_DRAFT = "draft — needs a native speaker's review"
DIRECTIONS = ("ltr", "rtl")
_FIELDS = ("name", "native_name", "direction", "reply", "handed_off", "review", "harm_terms")


class LanguageDataError(ValueError):
    """A language file is missing, malformed or inconsistent; the message names the file and the field."""


def languages_dir() -> Path:
    """data/safeguarding/languages under POLICYBOT_DATA_DIR."""
    return settings.data_dir() / "safeguarding" / LANGUAGES_DIRNAME


@dataclass(frozen=True)
class Buttons:
    """The two answers to "shall I pass your message to a member of staff?", in the file's language."""

    yes: str
    no: str


@dataclass(frozen=True)
class Review:
    status: str
    notes: str


@dataclass(frozen=True)
class BackTranslation:
    """What each bubble of a translation says, put back into English for the school's native-speaker reviewer."""

    reply: tuple[str, ...]
    buttons: Buttons
    handed_off: tuple[str, ...]


@dataclass(frozen=True)
class HarmTerm:
    """One lexicon entry: a harm id and the regular expressions that find it (see `compile_pattern`)."""

    id: str
    patterns: tuple[str, ...]
    romanised: bool = False


@dataclass(frozen=True)
class LanguagePack:
    """One data/safeguarding/languages/<code>.yml file, checked."""

    code: str
    name: str
    native_name: str
    direction: str
    reply: tuple[str, ...]
    buttons: Buttons
    handed_off: tuple[str, ...]
    review: Review
    harm_terms: tuple[HarmTerm, ...]
    romanised_harm_terms: tuple[HarmTerm, ...] = ()
    romanised_markers: frozenset[str] = frozenset()
    back_translation: BackTranslation | None = None
    path: Path | None = None


@dataclass(frozen=True)
class ReplyButton:
    key: str  # "yes" | "no"
    title: str  # in the reply's language
    english: str


@dataclass(frozen=True)
class RenderedReply:
    """Bubbles ready to send: each in the reply's language with the English underneath (English alone for `en`),
    the text direction for the channel, and the yes/no buttons (the reply asking whether to tell staff only)."""

    code: str
    direction: str
    messages: tuple[str, ...]
    buttons: tuple[ReplyButton, ...] = ()

    @property
    def text(self) -> str:
        """All bubbles as one text, for channels that send a single message."""
        return "\n\n".join(self.messages)


class LanguagePacks:
    """Every language file, checked against each other: same bubbles as English, every harm id, every language."""

    def __init__(self, packs: Mapping[str, LanguagePack]) -> None:
        missing = [code for code in SUPPORTED if code not in packs]
        if missing:
            raise LanguageDataError(f"no language file for {', '.join(missing)}; every supported language needs "
                                    f"data/safeguarding/languages/<code>.yml")
        self._packs = dict(packs)
        english = self._packs["en"]
        for pack in self._packs.values():
            for field_name in ("reply", "handed_off"):
                if len(getattr(pack, field_name)) != len(getattr(english, field_name)):
                    raise LanguageDataError(
                        f"{pack.path}: {field_name} has {len(getattr(pack, field_name))} bubbles; English has "
                        f"{len(getattr(english, field_name))} and each bubble is shown with its English underneath")
                for i, (own, source) in enumerate(zip(getattr(pack, field_name), getattr(english, field_name)), 1):
                    if _placeholders(own) != _placeholders(source):
                        raise LanguageDataError(
                            f"{pack.path}: {field_name} bubble {i} has placeholders {sorted(_placeholders(own))}; "
                            f"the English has {sorted(_placeholders(source))}")

    @classmethod
    def load(cls, directory: Path | str | None = None) -> LanguagePacks:
        """Read and check every <code>.yml in `directory` (default: `languages_dir()`)."""
        directory = Path(directory) if directory is not None else languages_dir()
        if not directory.is_dir():
            raise LanguageDataError(f"no language folder at {directory}")
        packs: dict[str, LanguagePack] = {}
        for path in sorted(directory.glob("*.yml")):
            pack = load_pack(path)
            packs[pack.code] = pack
        return cls(packs)

    def __getitem__(self, code: str) -> LanguagePack:
        if code not in self._packs:
            raise KeyError(f"no language pack {code!r}; known: {', '.join(self._packs)}")
        return self._packs[code]

    def __iter__(self) -> Iterator[LanguagePack]:
        return iter(self._packs.values())

    def __len__(self) -> int:
        return len(self._packs)

    def reply(self, code: str) -> RenderedReply:
        """The reply to a message in language `code` (`und` gets English): thanks, 999, Childline, and the offer
        to pass the message to a member of staff with its yes/no buttons."""
        pack, english = self._pack_for(code), self._packs["en"]
        buttons = tuple(ReplyButton(key, getattr(pack.buttons, key), getattr(english.buttons, key))
                        for key in ("yes", "no"))
        return RenderedReply(pack.code, pack.direction, self._bubbles(pack, "reply", {}), buttons)

    def handed_off(self, code: str, dsl: str, reference: str | None = None) -> RenderedReply:
        """The reply once the message has been passed to the DSL. `dsl` names them and their role ("Mary Oak,
        Designated Safeguarding Lead"); the bubble with `{reference}` is left out when there is no reference.
        Only for a message that was stored and sent: otherwise nothing was passed on and `reply` is the answer."""
        if not isinstance(dsl, str) or not dsl.strip():
            raise ValueError("dsl must name the Designated Safeguarding Lead (or say 'the Designated Safeguarding "
                             "Lead'), got an empty value")
        pack = self._pack_for(code)
        values = {"dsl": dsl.strip(), "reference": reference or None}
        return RenderedReply(pack.code, pack.direction, self._bubbles(pack, "handed_off", values))

    def _pack_for(self, code: str) -> LanguagePack:
        return self["en" if code == UNDETERMINED else code]

    def _bubbles(self, pack: LanguagePack, field_name: str, values: Mapping[str, str | None]) -> tuple[str, ...]:
        english = getattr(self._packs["en"], field_name)
        out = []
        for own, source in zip(getattr(pack, field_name), english):
            if any(values.get(name) is None for name in _placeholders(own)):
                continue  # the reference bubble without a reference
            own, source = own.format(**values), source.format(**values)
            out.append(own if pack.code == "en" else f"{own}\n\n{source}")
        return tuple(out)


def load_pack(path: Path) -> LanguagePack:
    """Read and check one language file; every mistake names the file and the field."""
    path = Path(path)
    code = path.stem
    if code not in SUPPORTED:
        raise LanguageDataError(f"{path}: {code!r} is not a supported language code; known: {', '.join(SUPPORTED)}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as problem:
        raise LanguageDataError(f"cannot read {path}: {problem.strerror}") from None
    except yaml.YAMLError as problem:
        raise LanguageDataError(f"{path} is not valid YAML: {problem}") from None
    if not isinstance(raw, Mapping):
        raise LanguageDataError(f"{path} must be a mapping with {', '.join(_FIELDS)}")
    missing = [name for name in _FIELDS if name not in raw or raw[name] is None]
    if code != "en" and "back_translation" not in raw:
        missing.append("back_translation")
    if missing:
        raise LanguageDataError(f"{path}: missing {', '.join(missing)}")
    name = _text(raw, "name", path)
    if name != SUPPORTED[code]:
        raise LanguageDataError(f"{path}: name is {name!r}; for {code!r} it must be {SUPPORTED[code]!r}")
    direction = _text(raw, "direction", path)
    if direction not in DIRECTIONS:
        raise LanguageDataError(f"{path}: direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    reply, buttons = _reply(raw["reply"], path)
    handed_off = _handed_off(raw["handed_off"], path)
    review = raw["review"]
    if not isinstance(review, Mapping):
        raise LanguageDataError(f"{path}: review must be a mapping with status and notes")
    status, notes = _text(review, "status", path, "review.status"), _text(review, "notes", path, "review.notes")
    back = None
    if "back_translation" in raw:
        back = _back_translation(raw["back_translation"], path, reply, handed_off)
    terms = _harm_terms(raw["harm_terms"], path, "harm_terms", code)
    romanised = _harm_terms(raw.get("romanised_harm_terms") or [], path, "romanised_harm_terms", code)
    if code != "en":
        absent = [kind for kind in HARM_KINDS if kind not in {t.id for t in terms}]
        if absent:
            raise LanguageDataError(f"{path}: harm_terms has no entry for {', '.join(absent)}")
    markers = _markers(raw.get("romanised_markers") or [], path)
    if (romanised or markers) and code not in NON_LATIN:
        raise LanguageDataError(f"{path}: romanised_harm_terms and romanised_markers are for languages written in "
                                f"another script ({', '.join(sorted(NON_LATIN))})")
    return LanguagePack(code=code, name=name, native_name=_text(raw, "native_name", path), direction=direction,
                        reply=reply, buttons=buttons, handed_off=handed_off, review=Review(status, notes),
                        harm_terms=terms, romanised_harm_terms=tuple(HarmTerm(t.id, t.patterns, True)
                                                                     for t in romanised),
                        romanised_markers=markers, back_translation=back, path=path)


def _text(raw: Mapping[str, Any], key: str, path: Path, where: str | None = None) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LanguageDataError(f"{path}: {where or key} must be a non-empty string")
    return value.strip()


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _bubble_list(value: Any, path: Path, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise LanguageDataError(f"{path}: {where} must be a non-empty list of texts")
    out = []
    for i, bubble in enumerate(value, 1):
        if not isinstance(bubble, str) or not bubble.strip():
            raise LanguageDataError(f"{path}: {where} bubble {i} must be a non-empty string")
        try:
            names = _placeholders(bubble)
        except ValueError as problem:
            raise LanguageDataError(f"{path}: {where} bubble {i}: {problem} (write a brace as {{{{ or }}}})") from None
        if names - PLACEHOLDERS:
            raise LanguageDataError(f"{path}: {where} bubble {i} has unknown placeholders "
                                    f"{sorted(names - PLACEHOLDERS)}; allowed: {{dsl}}, {{reference}}")
        if any(not n or n.isdigit() for n in names):
            raise LanguageDataError(f"{path}: {where} bubble {i} has an empty or numbered placeholder; allowed: "
                                    f"{{dsl}}, {{reference}}")
        out.append(" ".join(bubble.split()))
    return tuple(out)


_YAML_BOOLEAN_KEYS = {True: "yes", False: "no"}


def _buttons(value: Any, path: Path, where: str) -> Buttons:
    if not isinstance(value, Mapping):
        raise LanguageDataError(f"{path}: {where} must be a mapping with yes and no")
    # YAML 1.1 (PyYAML) reads an unquoted `yes:` / `no:` key as true / false.
    value = {_YAML_BOOLEAN_KEYS.get(key, key) if isinstance(key, bool) else key: label for key, label in value.items()}
    labels = [_text(value, key, path, f"{where}.{key}") for key in ("yes", "no")]
    for key, label in zip(("yes", "no"), labels):
        if _placeholders(label):
            raise LanguageDataError(f"{path}: {where}.{key} cannot have placeholders")
    return Buttons(*labels)


def _reply(section: Any, path: Path) -> tuple[tuple[str, ...], Buttons]:
    if not isinstance(section, Mapping):
        raise LanguageDataError(f"{path}: reply must be a mapping with bubbles and buttons")
    bubbles = _bubble_list(section.get("bubbles"), path, "reply.bubbles")
    if any(_placeholders(b) for b in bubbles):
        raise LanguageDataError(f"{path}: reply.bubbles cannot have placeholders: nothing has been passed on yet")
    return bubbles, _buttons(section.get("buttons"), path, "reply.buttons")


def _handed_off(section: Any, path: Path) -> tuple[str, ...]:
    if not isinstance(section, Mapping):
        raise LanguageDataError(f"{path}: handed_off must be a mapping with bubbles")
    bubbles = _bubble_list(section.get("bubbles"), path, "handed_off.bubbles")
    if not any("dsl" in _placeholders(b) for b in bubbles):
        raise LanguageDataError(f"{path}: handed_off must say who the message went to with {{dsl}}")
    return bubbles


def _back_translation(value: Any, path: Path, reply: tuple[str, ...], handed_off: tuple[str, ...]) -> BackTranslation:
    if not isinstance(value, Mapping):
        raise LanguageDataError(f"{path}: back_translation must be a mapping with reply, buttons and handed_off")
    back_reply = _bubble_list(value.get("reply"), path, "back_translation.reply")
    back_handed = _bubble_list(value.get("handed_off"), path, "back_translation.handed_off")
    for name, back, own in (("reply", back_reply, reply), ("handed_off", back_handed, handed_off)):
        if len(back) != len(own):
            raise LanguageDataError(f"{path}: back_translation.{name} has {len(back)} bubbles; {name}.bubbles has "
                                    f"{len(own)}")
    return BackTranslation(back_reply, _buttons(value.get("buttons"), path, "back_translation.buttons"), back_handed)


def _markers(value: Any, path: Path) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(w, str) and re.fullmatch(r"[a-z]+", w) for w in value):
        raise LanguageDataError(f"{path}: romanised_markers must be a list of lower-case words in English letters")
    return frozenset(value)


def _harm_terms(value: Any, path: Path, key: str, code: str) -> tuple[HarmTerm, ...]:
    if not isinstance(value, list):
        raise LanguageDataError(f"{path}: {key} must be a list of {{id, patterns}} entries")
    terms, seen = [], set()
    for i, item in enumerate(value, 1):
        if not isinstance(item, Mapping) or not item.get("id"):
            raise LanguageDataError(f"{path}: {key} entry {i} has no id")
        term_id = str(item["id"])
        where = f"{path}: {key} {term_id!r}"
        if term_id not in HARM_KINDS:
            raise LanguageDataError(f"{where}: unknown id; known: {', '.join(HARM_KINDS)}")
        if term_id in seen:
            raise LanguageDataError(f"{where}: duplicate id")
        seen.add(term_id)
        patterns = item.get("patterns")
        if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p.strip()
                                                                     for p in patterns):
            raise LanguageDataError(f"{where}: patterns must be a non-empty list of non-empty strings")
        for pattern in patterns:
            try:
                compiled = compile_pattern(pattern)
            except re.error as problem:
                raise LanguageDataError(f"{where}: pattern {pattern!r} does not compile: {problem}") from None
            if compiled.search(""):
                raise LanguageDataError(f"{where}: pattern {pattern!r} matches an empty message")
            if key == "romanised_harm_terms" and len(fold(pattern).split()) < 2:
                raise LanguageDataError(f"{where}: romanised pattern {pattern!r} must be at least two words, so "
                                        f"English text never matches it")
        terms.append(HarmTerm(term_id, tuple(patterns)))
    return tuple(terms)


# ------------------------------------------------------------------------------------------- text and matching

# Combining marks of the Brahmic scripts (vowel signs, virama) are not `\w` to Python's re, so a word boundary
# would fall inside "मारा"; these blocks count as word characters. The dandas (। ॥) are punctuation.
_BRAHMIC = "\u0900-\u0963\u0966-\u0dff"
_LEFT = rf"(?<!\w)(?<![{_BRAHMIC}])"
_RIGHT = rf"(?!\w)(?![{_BRAHMIC}])"
#: In a pattern, `{L}` is one letter of any script, vowel signs and marks included ("bij{L}*", "ਮਾਰ{L}*").
LETTER = rf"(?:\w|[{_BRAHMIC}])"

# Folding for matching: Latin accents dropped ("boję się" and "boje sie" alike), Arabic-script letter variants and
# short vowels merged (Arabic and Urdu keyboards type different code points for the same letter), nuktas and the
# Gurmukhi addak dropped (often left out on phones), joiners removed.
_LATIN_EXTRA = str.maketrans({"ł": "l", "Ł": "l", "ı": "i", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss",
                              "\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_SCRIPT_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ې": "ي", "ئ": "ي",
                              "ؤ": "و", "ة": "ه", "ۃ": "ه", "ہ": "ه", "ھ": "ه", "ۀ": "ه", "ك": "ک", "ـ": None,
                              "\u0a70": "\u0a02"})
_DROP = frozenset("\u200c\u200d\u200b\u2060\ufeff\u00ad\u093c\u09bc\u0a3c\u0abc\u0a71")
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """The matching form of `text` (and of every pattern): lower case, Latin accents dropped, Arabic-script
    variants merged, nuktas and joiners removed, whitespace collapsed."""
    return _SPACE.sub(" ", _fold_letters(text)).strip()


def _fold_letters(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_LATIN_EXTRA).lower()
    out: list[str] = []
    latin_base = False
    for char in unicodedata.normalize("NFD", text):
        if char in _DROP:
            continue
        if unicodedata.combining(char):
            if latin_base:
                continue
        else:
            latin_base = char < "\u0250"
        out.append(char)
    return _ARABIC_MARKS.sub("", unicodedata.normalize("NFC", "".join(out))).translate(_SCRIPT_FOLD)


def _fold_pattern(pattern: str) -> str:
    # The letters of a pattern are folded like the text; its escapes (`\S`, `\w`) and `{L}` are kept as written (a
    # lower-cased `\S` would mean the opposite).
    pieces = re.split(r"(\\.|\{L\})", pattern)
    return "".join(piece if piece.startswith("\\") or piece == "{L}" else _fold_letters(piece) for piece in pieces)


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A lexicon pattern as matched: folded like the text, `{L}` read as a letter of any script, and whole words
    at both ends (the script-aware boundaries are added here, so patterns do not write `\\b`)."""
    body = _fold_pattern(" ".join(pattern.split())).replace("{L}", LETTER)
    return re.compile(f"{_LEFT}(?:{body}){_RIGHT}", re.IGNORECASE)


_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0000, 0x024F, "Latn"), (0x1E00, 0x1EFF, "Latn"),
    (0x0600, 0x06FF, "Arab"), (0x0750, 0x077F, "Arab"), (0x08A0, 0x08FF, "Arab"), (0xFB50, 0xFDFF, "Arab"),
    (0xFE70, 0xFEFF, "Arab"),
    (0x0A00, 0x0A7F, "Guru"), (0x0980, 0x09FF, "Beng"), (0x0A80, 0x0AFF, "Gujr"), (0x0B80, 0x0BFF, "Taml"),
)


def script_of(char: str) -> str:
    """The ISO 15924 script of one letter, among those the screen knows (`Zzzz` for any other)."""
    point = ord(char)
    for low, high, script in _SCRIPT_RANGES:
        if low <= point <= high:
            return script
    return "Zzzz"


def letter_scripts(text: str) -> dict[str, int]:
    """How many letters of `text` are in each script."""
    counts: dict[str, int] = {}
    for char in text:
        if char.isalpha():
            script = script_of(char)
            counts[script] = counts.get(script, 0) + 1
    return counts


class LexiconMatcher:
    """Every language's harm patterns, compiled; `match` returns the ids (`pl:hit`) found in a folded text."""

    def __init__(self, packs: Iterable[LanguagePack]) -> None:
        self._entries: list[tuple[str, str, bool, str, re.Pattern[str]]] = []
        for pack in packs:
            for term in (*pack.harm_terms, *pack.romanised_harm_terms):
                joined = "|".join(f"(?:{compile_pattern(p).pattern})" for p in term.patterns)
                scripts = letter_scripts(re.sub(r"\\.|\{L\}", "", "".join(term.patterns)))
                script = max(scripts, key=scripts.__getitem__) if scripts else "Latn"
                self._entries.append((pack.code, f"{pack.code}:{term.id}", term.romanised, script,
                                      re.compile(joined, re.IGNORECASE)))

    def match(self, folded: str, *, romanised: bool | None = None,
              scripts: Iterable[str] | None = None) -> list[str]:
        """Ids of the entries that match `folded` (the output of `fold`), in file order. `romanised` limits the
        search to romanised (True) or native (False) entries; `scripts` to entries written in those scripts (an
        Arabic-script pattern cannot match a text with no Arabic letters, and skipping it keeps long messages
        fast)."""
        wanted = set(scripts) if scripts is not None else None
        return [term for _, term, is_romanised, script, pattern in self._entries
                if (romanised is None or is_romanised == romanised) and (wanted is None or script in wanted)
                and pattern.search(folded)]


# ---------------------------------------------------------------------------------------------------- detection

#: Lingua reads at most this much of a message (its cost grows with length); lexicons read all of it.
DETECT_CHARS = 600
#: A Latin-script message is another language only if lingua gives English at most this probability ...
MAX_ENGLISH_SHARE = 0.10
#: ... with at least this many words and letters once names are masked (or a letter English never uses) ...
MIN_WORDS = 2
MIN_LETTERS = 10
MIN_LETTERS_MARKED = 3
#: ... or, for a longer message, when lingua is this sure of one other language and gives English at most this ...
MIN_BEST_SURE = 0.7
MAX_ENGLISH_SHARE_SURE = 0.2
MIN_WORDS_SURE = 4
#: ... or when a Latin-script harm phrase matched and English has at most this probability.
MAX_ENGLISH_SHARE_HARM = 0.30

#: Common words no other supported Latin-script language writes the same way ("do", "a", "me", "to", "on", "he"
#: are left out: Polish, Portuguese, Spanish, French use them). A message whose words are at least
#: `MAX_ENGLISH_WORDS` of these is English whatever lingua says.
ENGLISH_ONLY_WORDS: frozenset[str] = frozenset(
    "the is are was were what wat wot how why who when where my your you u ur r and of it this that with have has "
    "does can cant can't dont don't im i'm he's she she's they we his her him them our at be been will would should "
    "not get got there their it's its was wanna gonna pls please thanks thx".split())
MAX_ENGLISH_WORDS = 0.5
#: A romanised South Asian message needs this many different everyday words of its language ...
MIN_MARKERS = 2
#: ... making up at least this share of its words.
MIN_MARKER_SHARE = 0.4
#: Which language a romanised message is given when the evidence ties: Urdu/Hindi is the most often typed.
ROMANISED_ORDER: tuple[str, ...] = ("ur", "pa", "bn", "gu", "ar", "ta")

#: Letters of the supported Latin-script languages that English words do not use (é, ï, ö, ü are left out:
#: "café", "naïve", "Pokémon", "über").
_MARKED_LETTERS = frozenset("ąćęłńśźżăâîșşțţğıėįųūčšžñ¿¡ãõçáíóúàèìòùêôåœ")
#: Names lingua would read as another language: apps and services pupils mention. School names and aliases come
#: from data/schools.yml.
APP_NAMES: frozenset[str] = frozenset({
    "chatgpt", "tiktok", "snapchat", "snap", "roblox", "fortnite", "minecraft", "instagram", "insta", "whatsapp",
    "youtube", "discord", "google", "netflix", "spotify", "xbox", "playstation", "cpoms", "myconcern", "teams",
    "chromebook", "ipad", "iphone", "facetime", "telegram", "twitch", "pinterest", "reddit", "threads", "kahoot",
    "sparx", "seneca", "quizlet", "duolingo", "gmail", "outlook", "smoothwall", "lightspeed", "senco", "ofsted",
})
_FUZZY_CUTOFF = 0.8
_FUZZY_MIN_LENGTH = 5
_WORD = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*")

_EVERYDAY_NAME_WORDS = frozenset({"school", "primary", "academy", "community", "college", "high", "junior",
                                  "infant", "infants", "church", "forest", "meadow", "kings", "king's", "park",
                                  "green", "saint", "trust"})


def school_names(path: Path | None = None) -> frozenset[str]:
    """The words of every school's name, short name and aliases in data/schools.yml (4 letters or more, leaving
    out everyday words such as "school"), lower case; none when the file is missing."""
    path = path or settings.schools_file()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        log.warning("no schools file at %s; school names are not masked before language detection", path)
        return frozenset()
    except (OSError, yaml.YAMLError) as problem:
        raise LanguageDataError(f"cannot read school names from {path}: {problem}") from None
    words: set[str] = set()
    for school in (raw.get("schools") or {}).values():
        if not isinstance(school, Mapping):
            continue
        for name in [school.get("name"), school.get("short_name"), *(school.get("aliases") or [])]:
            if isinstance(name, str):
                words.update(w for w in _WORD.findall(name.lower()) if len(w) >= 4)
    return frozenset(words - _EVERYDAY_NAME_WORDS)


class LanguageScreen:
    """Reads the language of one message at a time. Cheap to construct; the data files and the lingua detector
    load in `warm_up()` or on the first `detect()` (thread-safe)."""

    def __init__(self, directory: Path | str | None = None, names: Iterable[str] | None = None) -> None:
        """`directory` holds the language files (default `languages_dir()`); `names` are words to mask before
        detection (default: the school names in data/schools.yml); app names are always masked."""
        self.directory = Path(directory) if directory is not None else None
        self._names_given = frozenset(n.lower() for n in names) if names is not None else None
        self._packs: LanguagePacks | None = None
        self._matcher: LexiconMatcher | None = None
        self._detector: LanguageDetector | None = None
        self._names: frozenset[str] = frozenset()
        self._languages: dict[str, Any] = {}
        self._markers: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> LanguageScreen:
        """Load and check the language files, compile the lexicons, build the detector (idempotent)."""
        if self._detector is not None:
            return self
        with self._lock:
            if self._detector is None:
                packs = LanguagePacks.load(self.directory)
                matcher = LexiconMatcher(packs)
                names = self._names_given if self._names_given is not None else school_names()
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                languages = {code: Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                             for code in SUPPORTED}
                detector = (LanguageDetectorBuilder.from_languages(*languages.values())
                            .with_preloaded_language_models().build())
                self._packs, self._matcher, self._names = packs, matcher, names | APP_NAMES
                self._markers = {pack.code: pack.romanised_markers for pack in packs if pack.romanised_markers}
                self._languages = {language: code for code, language in languages.items()}
                self._detector = detector
        return self

    @property
    def packs(self) -> LanguagePacks:
        """The checked language files (loads everything on first use)."""
        return self.warm_up()._packs  # type: ignore[return-value]

    def detect(self, text: str) -> LanguageVerdict:
        """The language of `text` and the harm lexicon entries it matched (see the module docstring)."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        self.warm_up()
        assert self._matcher is not None
        folded = fold(text)
        sample = text[:DETECT_CHARS]
        counts = letter_scripts(sample)
        if not counts:
            return LanguageVerdict("en", SUPPORTED["en"], 0.0, script="Zyyy")
        script = max(counts, key=lambda s: (counts[s], s == "Latn"))
        present = set(letter_scripts(text) if len(text) > DETECT_CHARS else counts)
        if script != "Latn":
            return self._non_latin(script, sample, folded, present)
        # Harm in another script inside a mostly English message ("my dad مجھے مارتا ہے") counts: the message is
        # answered in English (the verdict's script is Latin) and handed off.
        other = present - {"Latn", "Zzzz"}
        if other:
            terms = self._matcher.match(folded, romanised=False, scripts=other)
            if terms:
                code = _code(terms[0])
                return LanguageVerdict(code, SUPPORTED[code], 1.0, tuple(terms), script=script)
        words = [w for w in _WORD.findall(sample.lower()) if not self._is_name(w)]
        values = self._confidences(" ".join(words))
        english = values.get("en", 1.0)
        best = max(values, key=values.__getitem__) if values else "en"
        romanised = self._matcher.match(folded, romanised=True)
        if romanised:
            code = self._romanised_code({_code(t) for t in romanised}, words)
            latin = self._matcher.match(folded, romanised=False, scripts={"Latn"}) \
                if english <= MAX_ENGLISH_SHARE_HARM else []
            return LanguageVerdict(code, SUPPORTED[code], round(1.0 - english, 3), tuple(romanised + latin),
                                   script=script)
        if best != "en" and self._reads_foreign(sample, words, values[best], english):
            terms = self._matcher.match(folded, scripts=present)
            # Lingua confuses close languages on short texts ("quero me matar" as Spanish): a harm phrase of
            # another language, with none of lingua's choice, says which it is.
            hit_codes = {_code(t) for t in terms}
            code = best if not hit_codes or best in hit_codes else max(hit_codes, key=lambda c: values.get(c, 0.0))
            return LanguageVerdict(code, SUPPORTED[code], round(values.get(code, 0.0), 3), tuple(terms),
                                   script=script)
        marker_code, share = self._marker_language(words)
        if marker_code is not None:
            return LanguageVerdict(marker_code, SUPPORTED[marker_code], round(share, 3), script=script)
        if english <= MAX_ENGLISH_SHARE_HARM:
            latin = self._matcher.match(folded, romanised=False, scripts={"Latn"})
            if latin:
                code = max({_code(t) for t in latin}, key=lambda c: values.get(c, 0.0))
                return LanguageVerdict(code, SUPPORTED[code], round(values.get(code, 0.0), 3), tuple(latin),
                                       script=script)
        return LanguageVerdict("en", SUPPORTED["en"], round(english, 3), script=script)

    @staticmethod
    def _reads_foreign(sample: str, words: list[str], best: float, english: float) -> bool:
        """Rules (a) and (b) of the module docstring: enough text that lingua is sure is not English, and not
        half made of words only English has ("wat is a terrerist" reads as Italian to lingua)."""
        if words and sum(w in ENGLISH_ONLY_WORDS for w in words) / len(words) >= MAX_ENGLISH_WORDS:
            return False
        letters = sum(len(w) for w in words)
        if english <= MAX_ENGLISH_SHARE and len(words) >= MIN_WORDS and letters >= MIN_LETTERS:
            return True
        if english <= MAX_ENGLISH_SHARE_SURE and best >= MIN_BEST_SURE and len(words) >= MIN_WORDS_SURE:
            return True
        return english <= MAX_ENGLISH_SHARE and letters >= MIN_LETTERS_MARKED and any(
            char in _MARKED_LETTERS for char in sample.lower())

    def _non_latin(self, script: str, sample: str, folded: str, present: set[str]) -> LanguageVerdict:
        assert self._matcher is not None
        candidates = SCRIPT_LANGUAGES.get(script, ())
        terms = tuple(self._matcher.match(folded, scripts=present))
        if not candidates:
            return LanguageVerdict(UNDETERMINED, UNDETERMINED_NAME, 1.0, terms, script=script)
        if len(candidates) == 1:
            return LanguageVerdict(candidates[0], SUPPORTED[candidates[0]], 1.0, terms, script=script)
        # Only letters of this script: English words around Urdu text would sway lingua towards neither.
        values = self._confidences("".join(c if not c.isalpha() or script_of(c) == script else " " for c in sample))
        total = sum(values.get(c, 0.0) for c in candidates)
        code = max(candidates, key=lambda c: values.get(c, 0.0))
        confidence = values.get(code, 0.0) / total if total else 1.0 / len(candidates)
        return LanguageVerdict(code, SUPPORTED[code], round(confidence, 3), terms, script=script)

    def _marker_language(self, words: list[str]) -> tuple[str | None, float]:
        """A South Asian language typed in English letters ("mera beta aaj school nahi aayega"), recognised by its
        everyday words (`romanised_markers`): at least `MIN_MARKERS` different ones making up at least
        `MIN_MARKER_SHARE` of the words. Lingua has no model for romanised text and calls it English."""
        if len(words) < MIN_MARKERS:
            return None, 0.0
        hits = {code: [w for w in words if w in markers] for code, markers in self._markers.items()}
        code = max(hits, key=lambda c: (len(set(hits[c])), len(hits[c]), -ROMANISED_ORDER.index(c)), default=None)
        if code is None:
            return None, 0.0
        share = sum(any(w in m for m in self._markers.values()) for w in words) / len(words)
        if len(set(hits[code])) < MIN_MARKERS or share < MIN_MARKER_SHARE:
            return None, 0.0
        return code, share

    def _romanised_code(self, codes: set[str], words: list[str]) -> str:
        """Of the languages whose romanised harm phrases matched, the one whose everyday words the message uses
        most (Urdu/Hindi, then Panjabi, Bengali, Gujarati on a tie)."""
        return max(codes, key=lambda c: (sum(w in self._markers.get(c, ()) for w in words),
                                         -ROMANISED_ORDER.index(c)))

    def _confidences(self, text: str) -> dict[str, float]:
        assert self._detector is not None
        if not text.strip():
            return {}
        return {self._languages[value.language]: value.value
                for value in self._detector.compute_language_confidence_values(text)}

    def _is_name(self, word: str) -> bool:
        if word in self._names:
            return True
        return len(word) >= _FUZZY_MIN_LENGTH and bool(
            difflib.get_close_matches(word, self._names, n=1, cutoff=_FUZZY_CUTOFF))


def _code(term: str) -> str:
    return term.partition(":")[0]


@lru_cache(maxsize=1)
def shared_language_screen() -> LanguageScreen:
    """One screen per process (lingua's models are shared between detectors anyway); not warmed up."""
    return LanguageScreen()
