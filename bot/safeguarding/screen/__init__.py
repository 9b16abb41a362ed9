"""The safeguarding screen run on every message: a disclosure or concern for the DSL, a question, or other chat;
how urgent; which KCSIE category; and whether the person should be checked in with or signposted.

  normalise.py  undo obfuscation (look-alikes from Unicode's confusables, leetspeak, invisibles, stretching)
  corpus.py     the training corpus: families of wordings (data/safeguarding/training/)
  model.py      logistic-regression heads over character/word n-grams, the sentence embedding and the role
  training.py   grouped cross-validation by family, thresholds from it, the saved model
  decide.py     probabilities + backstop -> verdict (hand-off / check-in / signpost bands)
  backstop.py   a few high-precision danger-now phrases (data/safeguarding/backstop.yml)
  crossval.py   the corpus figures `make eval` prints

The verdict depends on the message and the writer's role only: never on the Rasa intent, which must not be able
to talk a disclosure down into a question. A message in another language is checked by bot.safeguarding.language.

Construction is cheap; the model, backstop and embedder load in `warm_up()` or on the first `screen()`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.core.roles import canonical_role
from bot.core.embedder import Embedder
from bot.safeguarding.screen import normalise as normalising
from bot.safeguarding.screen.backstop import Backstop
from bot.safeguarding.screen.decide import Thresholds, decide
from bot.safeguarding.screen.model import ModelNotReady, ScreenModel
from bot.safeguarding.types import ScreenResult

log = logging.getLogger(__name__)

#: Messages longer than this are screened in pieces of about PIECE_CHARS: the model learned from messages of up to
#: about 80 words, and one sentence of harm inside a page of filler must not be diluted away. The whole message
#: (up to WHOLE_CHARS) is screened too, for harm told across several sentences.
WHOLE_CHARS = 600
PIECE_CHARS = 300
#: A sentence shorter than this is screened together with the next one ("ok. so. my dad hits me").
SHORT_SENTENCE_CHARS = 40
#: At most this many pieces (about 14k characters); a longer message is screened as its first and last pieces, so
#: the cost stays bounded and a disclosure at the very end is still seen.
MAX_CHUNKS = 48
#: Verdicts remembered per process, keyed by a hash of (text, role), so the channel guard and the NLU component
#: screening the same message in one Rasa process cost one screen.
CACHE_SIZE = 256

#: A phrase (up to about twenty words: a pasted sentence) repeated three or more times back to back.
_REPEATED_PHRASE = re.compile(r"\b(\w[\w' ]{0,160}?\w)(?:\W+\1\b){2,}")

_LABEL_RANK = {"other": 0, "question": 1, "concern": 2, "disclosure": 3}
_URGENCY_RANK = {"none": 0, "standard": 1, "high": 2, "immediate": 3}


class LanguageChecks(Protocol):
    """What the screen needs of bot.safeguarding.language (a stub in tests)."""

    def warm_up(self) -> Any: ...

    def detect(self, text: str) -> Any: ...


class SafeguardingScreen:
    """Screens one message at a time; cheap to construct, loads everything on warm-up."""

    def __init__(self, embedder: Embedder | None = None, model_dir: Path | str | None = None,
                 backstop_path: Path | str | None = None, languages: LanguageChecks | None | bool = True) -> None:
        self._embedder = embedder
        self._model_dir = Path(model_dir) if model_dir else None
        self._backstop_path = backstop_path
        self._languages_wanted = languages
        self._languages: LanguageChecks | None = None
        self._model: ScreenModel | None = None
        self._thresholds: Thresholds | None = None
        self._backstop: Backstop | None = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, ScreenResult] = OrderedDict()

    @property
    def embedder(self) -> Embedder:
        """The embedder given, else the configured default (POLICYBOT_EMBEDDING_MODEL), created on first use."""
        if self._embedder is None:
            from bot.core.embedder import shared_embedder

            self._embedder = shared_embedder()
        return self._embedder

    def warm_up(self) -> SafeguardingScreen:
        """Load the model (training it first if this embedder has none), the backstop, the word frequencies and
        the language detector (idempotent)."""
        if self._model is not None:
            return self
        with self._lock:
            if self._model is None:
                normalising.warm_up()
                backstop = Backstop.load(self._backstop_path)
                model = self._load_model()
                self._thresholds = Thresholds.from_dict(model.meta["thresholds"])
                self._languages = self._language_checks()
                self.embedder.embed(["warm up"])
                self._backstop = backstop
                self._model = model
        return self

    @property
    def model(self) -> ScreenModel:
        return self.warm_up()._model  # type: ignore[return-value]

    @property
    def thresholds(self) -> Thresholds:
        return self.warm_up()._thresholds  # type: ignore[return-value]

    def screen(self, text: str, role: str | None = None) -> ScreenResult:
        """Screen one message; `role` (pupil, staff, parent, ... or an everyday word for one) is optional."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        role = canonical_role(role)
        key = hashlib.sha256(f"{role}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._screen(text, role)
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    def _screen(self, text: str, role: str) -> ScreenResult:
        self.warm_up()
        assert self._model is not None and self._thresholds is not None and self._backstop is not None
        normal = normalising.normalise(text)
        if not any(c.isalpha() for c in normal):
            return ScreenResult("other", "none", "other", 1.0, ("no_words",))
        chunks = _chunks(normal)
        vectors = np.asarray(self.embedder.embed(chunks), dtype=np.float32)
        predictions = self._model.predict(chunks, [role] * len(chunks), vectors)
        results = [decide(p, self._thresholds, self._backstop.hits(chunk)) for p, chunk in zip(predictions, chunks)]
        english = max(results, key=_severity)
        language = self._languages.detect(text) if self._languages is not None else None
        if language is None or language.is_english:
            return english
        # Another language: its own harm words decide, unless the English model hands it off (a page of filler the
        # detector reads as Somali, English words of harm in a mostly Polish message).
        other = _other_language(language)
        if english.hand_off and _severity(english) > _severity(other):
            return replace(english, language=language.code, signals=(*other.signals, *english.signals))
        return other

    def _load_model(self) -> ScreenModel:
        from bot.safeguarding.screen import training

        directory = self._model_dir or training.model_dir(self.embedder.name)
        try:
            model = ScreenModel.load(directory)
            if model.meta.get("embedder") == self.embedder.name:
                return model
            reason = "was trained with another embedding model"
        except ModelNotReady as problem:
            reason = str(problem)
        if self._model_dir is not None:
            raise ModelNotReady(f"cannot use the screen model in {directory}: {reason}")
        # A screen that cannot screen is the worst outcome: train now (about a minute with the real model).
        log.warning("safeguarding screen model not ready (%s); training it now", reason)
        trained = training.train(self.embedder)
        training.save_atomically(trained.model, directory)
        return trained.model

    def _language_checks(self) -> LanguageChecks | None:
        wanted = self._languages_wanted
        if wanted is False or wanted is None:
            return None
        if wanted is True:
            from bot.safeguarding.language import shared_language_screen

            wanted = shared_language_screen()
        wanted.warm_up()
        return wanted


def _other_language(language: Any) -> ScreenResult:
    """A message in another language: handed to the DSL when it carries harm words in that language -- as a
    concern with its language noted, or as an immediate disclosure when the words mean danger now (a weapon, a
    threat to kill, afraid to go home), so 999 comes first -- else `other`; either way the reply gives the
    signposting and the offer of a member of staff, in that language."""
    signals = (f"language:{language.code}", f"script:{language.script}",
               *(f"harm_term:{term}" for term in language.harm_terms))
    if language.has_harm and language.urgency == "immediate":
        return ScreenResult("disclosure", "immediate", language.category, 1.0, signals, signpost=True,
                            language=language.code)
    if language.has_harm:
        return ScreenResult("concern", "standard", language.category, 1.0, signals, signpost=True,
                            language=language.code)
    return ScreenResult("other", "none", "other", 1.0, signals, signpost=True, language=language.code)


def _severity(result: ScreenResult) -> tuple[int, int, bool, bool]:
    return _LABEL_RANK[result.label], _URGENCY_RANK[result.urgency], result.check_in, result.signpost


def _chunks(normal: str) -> list[str]:
    """What to screen of a normalised message: the message itself if short; else its first WHOLE_CHARS and its
    sentences one by one (very short ones joined to the next; one longer than PIECE_CHARS in overlapping windows
    of words), each piece once."""
    if len(normal) <= WHOLE_CHARS:  # the common case skips the repeat search below (a millisecond per message)
        return [normal]
    # A pasted page repeats itself: a phrase said over and over is read once, before the message is cut up (a
    # model never saw "tell me about phones" forty times in a row, nor a window cut from the middle of that).
    normal = _REPEATED_PHRASE.sub(r"\1", normal)
    if len(normal) <= WHOLE_CHARS:
        return [normal]
    pieces: list[str] = []
    current = ""
    for sentence in re.split(r"(?<=[.?!\n])\s+", normal):
        if len(sentence) > PIECE_CHARS:
            pieces.extend([current] if current else [])
            current = ""
            pieces.extend(_windows(sentence.split()))
            continue
        current = f"{current} {sentence}" if current else sentence
        if len(current) >= SHORT_SENTENCE_CHARS:
            pieces.append(current)
            current = ""
    pieces.extend([current] if current else [])
    # Each distinct piece is screened once, in order.
    pieces = list(dict.fromkeys(pieces))
    if len(pieces) > MAX_CHUNKS:
        half = MAX_CHUNKS // 2
        pieces = pieces[:half] + pieces[-half:]
    return [normal[:WHOLE_CHARS], *pieces]


def _windows(words: list[str]) -> list[str]:
    """Overlapping windows of about PIECE_CHARS over a run of words with no sentence end (half a window apart)."""
    windows, start = [], 0
    while start < len(words):
        end, length = start, 0
        while end < len(words) and length + len(words[end]) + 1 <= PIECE_CHARS:
            length += len(words[end]) + 1
            end += 1
        end = max(end, start + 1)
        windows.append(" ".join(words[start:end]))
        if end >= len(words):
            break
        start = max(start + 1, (start + end) // 2)
    return windows


@lru_cache(maxsize=1)
def default_screen() -> SafeguardingScreen:
    """The process-wide screen with the configured embedder (POLICYBOT_EMBEDDING_MODEL); built on first use."""
    return SafeguardingScreen()


__all__ = ["MAX_CHUNKS", "PIECE_CHARS", "WHOLE_CHARS", "SafeguardingScreen", "ScreenResult", "default_screen"]
