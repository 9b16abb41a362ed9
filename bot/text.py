"""Shared text handling: a blank spaCy English pipeline (sentencizer + lookup lemmas, no downloaded model),
clean-up of HTML left in policy texts, and the lemma tokens the lexical index uses."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Iterator

_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_CONTRACTIONS = {
    "who's": "who is", "what's": "what is", "whats": "what is", "it's": "it is", "can't": "cannot",
    "don't": "do not", "dont": "do not", "i'm": "i am", "im": "i am", "isn't": "is not", "won't": "will not",
    "shouldn't": "should not", "shouldnt": "should not", "i've": "i have", "you're": "you are",
    "wat": "what", "u": "you", "ur": "your", "pls": "please", "r": "are",
}


def clean(raw: str) -> str:
    """Strip HTML tags and entities (`<i>`, `&amp;`) and collapse whitespace; keeps markdown emphasis."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", raw))).strip()


def collapse(text: str) -> str:
    """Whitespace collapsed and lower-cased: the form evidence spans are compared in."""
    return _SPACE.sub(" ", text).strip().lower()


#: Frameworks spaCy's ML layer (thinc.compat) imports at start-up if they are installed, though a blank pipeline
#: with a sentencizer and a lookup lemmatizer never uses them: in the action server that import alone was
#: TensorFlow's 400 MB and torch's 200 MB of resident memory (Rasa installs both).
_FRAMEWORKS_SPACY_NEVER_USES = ("tensorflow", "torch")


def _import_spacy():
    """spaCy, imported with the frameworks above hidden from thinc if they are not loaded yet. A None entry in
    sys.modules makes `import tensorflow` raise ImportError, which thinc takes as "not installed"; the entries are
    removed afterwards, so a later import of torch (sentence-transformers) or TensorFlow (Rasa) works as usual."""
    import sys

    hidden = [name for name in _FRAMEWORKS_SPACY_NEVER_USES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import spacy
    finally:
        for name in hidden:
            if sys.modules.get(name, "") is None:
                del sys.modules[name]
    return spacy


@lru_cache(maxsize=1)
def nlp():
    """The blank English pipeline, built on first use (never at import: the action server imports us)."""
    spacy = _import_spacy()

    pipeline = spacy.blank("en")
    pipeline.add_pipe("sentencizer")
    pipeline.add_pipe("lemmatizer", config={"mode": "lookup"})
    pipeline.initialize()
    return pipeline


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text` (offsets into `text` itself)."""
    doc = nlp().make_doc(text)
    doc = nlp().get_pipe("sentencizer")(doc)
    return [(s.start_char, s.end_char) for s in doc.sents if s.text.strip()]


def normalise_query(text: str) -> str:
    """Lower-case, expand chat contractions and common misspellings so lemmas line up with policy prose."""
    words = re.findall(r"[\w'’]+|[^\w\s]", text.lower().replace("’", "'"))
    return " ".join(_CONTRACTIONS.get(w, w) for w in words)


# Function words and words that appear in every policy (so carry no signal between passages).
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves ok okay also may might must shall get got
    wat whats thing stuff really like let know want need please tell anything something someone""".split()
)


@lru_cache(maxsize=50_000)
def _lemma(word: str) -> str:
    lookups = nlp().get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
    return lookups.get(word, word)


def lemmas(text: str, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased lookup lemmas of the words in `text`, stopwords dropped unless asked for."""
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        word = word.split("'")[0]
        if not word or (not keep_stopwords and word in STOPWORDS):
            continue
        out.append(_lemma(word))
    return out


def words(text: str) -> list[str]:
    """Plain lower-case alphanumeric words, used for span-overlap checks in evaluation."""
    return re.findall(r"[a-z0-9]+", text.lower())


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset, line without its newline) for every line of `text`."""
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1
