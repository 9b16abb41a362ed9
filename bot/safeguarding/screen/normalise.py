"""Undo the tricks people use (on purpose or not) to get words past a filter, so the safeguarding screen sees
"kill" in "k1ll", "ｋｉｌｌ", "kіll" (Cyrillic і), "k\u200bill", "K.I.L.L" and "killlll".

Nothing here is heavy at import. Choosing between readings ("k1ll" -> "kill", not "klll") uses English word
frequencies from spacy-lookups-data, loaded on first need (or by `warm_up()`).
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

#: Invisible characters that are not Unicode format (Cf) or combining (Mn) characters, removed explicitly.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u2800")

#: Unicode scripts whose letters are folded only inside mostly-Latin text: a message really written in Cyrillic or
#: Greek keeps its letters (the language check reads the raw text anyway; this keeps the screen's input sane).
_LATIN_SHARE_TO_FOLD = 0.5
_NAMED_LATIN = re.compile(r"^(?:LATIN (?:SMALL|CAPITAL) LETTER (?:SMALL CAPITAL |DOTLESS )?|LATIN LETTER SMALL CAPITAL |"
                          r"MODIFIER LETTER (?:SMALL |CAPITAL )?|REGIONAL INDICATOR SYMBOL LETTER )([A-Z])$")


@lru_cache(maxsize=1)
def _confusable_table() -> dict[int, str]:
    """Look-alikes NFKC leaves alone, mapped to the ASCII letter or digit they imitate, from Unicode data rather
    than a hand-written list: the confusables (Unicode TR39, as packaged by confusable-homoglyphs: Cyrillic "а",
    Greek "Ν", Cherokee "Ꭺ" ...) and every character whose Unicode name says it is a Latin letter in another form
    (small capitals "ᴀ", modifier letters, regional indicators "🇰", which spell words in flag emoji). Curly quotes
    become straight ones, so "don’t" reads like "don't"."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[int, str] = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = [h["c"] for h in homoglyphs
                   if len(h["c"]) == 1 and h["c"].isascii() and (h["c"].isalnum() or h["c"] in "'\"")]
        if targets:
            # Cyrillic "І" looks like both "I" and "l": keep the letter's case ("І" -> "I", "і" -> "i"), and a
            # letter before a digit.
            table[ord(char)] = min(targets, key=lambda t: (t.isupper() != char.isupper(), not t.isalpha(),
                                                           targets.index(t)))
    for code, target in list(table.items()):
        char = chr(code)
        # Unicode's skeletons map some capitals to a lower-case letter (Cyrillic "І" -> "l"); when the small form of
        # the capital maps to a letter ("і" -> "i"), that letter's capital is the reading ("І" -> "I").
        lower = table.get(ord(char.lower())) if char.lower() != char else None
        if char.isupper() and target.islower() and lower and lower.isalpha():
            table[code] = lower.upper()
    for code in range(0x80, 0x1FAFF):
        if code in table:
            continue
        named = _NAMED_LATIN.match(unicodedata.name(chr(code), ""))
        if named:
            table[code] = named.group(1).lower()
    table.update({ord("\u2019"): "'", ord("\u2018"): "'", ord("\u02bc"): "'", ord("\u201c"): '"',
                  ord("\u201d"): '"'})
    return table


#: Chat spellings that use digits as syllables; leetspeak reading would get them wrong ("2nite" is "tonight").
CHAT_NUMBER_WORDS: dict[str, str] = {
    "2nite": "tonight", "2night": "tonight", "2nyt": "tonight", "2day": "today", "2moro": "tomorrow",
    "2morrow": "tomorrow", "2mrw": "tomorrow", "2mro": "tomorrow", "b4": "before", "l8r": "later", "l8": "late",
    "gr8": "great", "m8": "mate", "m8s": "mates", "h8": "hate", "h8s": "hates", "w8": "wait", "4eva": "forever",
    "4ever": "forever", "sum1": "someone", "some1": "someone", "no1": "no one", "any1": "anyone", "ne1": "anyone",
    "every1": "everyone", "evry1": "everyone", "4get": "forget",
}

#: What each leetspeak character can stand for, most likely reading first.
_LEET: dict[str, tuple[str, ...]] = {
    "0": ("o",), "1": ("i", "l"), "3": ("e",), "4": ("a",), "5": ("s",), "7": ("t",), "@": ("a",), "$": ("s",),
    "!": ("i",), "|": ("l", "i"),
}
_LEET_CHARS = frozenset(_LEET)
# A run of letters, digits and leet symbols: the unit leetspeak is read in.
_WORDISH = re.compile(r"[a-z0-9@$!|]+")
# Numbers with a unit or school shorthand ("7pm", "13yo", "y7", "ks2", "ps5") are kept unless the leet reading is
# a common word.
_PROTECTED = re.compile(
    r"^(?:\d+(?:st|nd|rd|th|am|pm|yo|yr|yrs|y|k|m|g|gb|mb|p|s|x|ish|min|mins|hr|hrs|h|ft|cm|kg|km|mph|ml)"
    r"|(?:y|yr|year|ks|ps|mp|rm|room|ch|no|v|b|c|g|x|iphone|ipad|win)\d+[a-z]?)$"
)
_MAX_READINGS = 64
#: Log-probability above which a reading counts as a real, reasonably common English word.
_COMMON = -13.5
_KNOWN = -18.0

# Three or more of the same letter ("pleeeease", "nooooo"); digits are never squeezed ("0800 1111").
_REPEATS = re.compile(r"([a-z])\1{2,}")
# Letters separated by dots, dashes, underscores or stars: "k.i.l.l", "s-e-x", "r_a_p_e".
_DOTTED = re.compile(r"(?<![a-z0-9])[a-z](?:[.\-_*·•][a-z]){2,}(?![a-z0-9])")
_DOT_SEPARATORS = re.compile(r"[.\-_*·•]")
# Letters separated by single spaces: "s e x"; joined only when that spells a common word.
_SPACED = re.compile(r"(?<![a-z0-9])[a-z](?: [a-z]){2,}(?![a-z0-9])")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The screening form of `text`: Unicode-folded, invisibles dropped, look-alikes and leetspeak read as
    letters, stretched letters squeezed, spaced-out words joined, lower-cased, whitespace collapsed."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    # Look-alikes are folded before lower-casing (Greek capital eta looks like H, its lower case like n) and again
    # after (an unmapped capital can lower-case to a mapped letter); invisibles go after lower-casing, which can
    # itself produce combining marks ("İ" -> "i" + dot).
    text = fold_confusables(unicodedata.normalize("NFKC", text)).lower()
    text = fold_confusables(remove_invisible(unicodedata.normalize("NFKC", text)))
    text = join_spelled_out(text)
    text = read_leetspeak(text)
    text = squeeze_repeats(text)
    return _SPACE.sub(" ", text).strip()


def remove_invisible(text: str) -> str:
    """Drop zero-width and other format characters, soft hyphens, variation selectors and combining marks
    (zalgo, strike-through), keeping the base letters: "k\u200bill" -> "kill", "café" -> "cafe"."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = [c for c in decomposed
            if unicodedata.category(c) not in ("Cf", "Mn", "Me") and c not in _INVISIBLE_EXTRA]
    return unicodedata.normalize("NFC", "".join(kept))


def fold_confusables(text: str) -> str:
    """Map look-alike letters (Cyrillic, Greek, small capitals, regional indicators ...) to the Latin letters they
    imitate, and curly quotes to straight ones, when at least half the text's letters are Latin already (someone
    hiding a word in English text); a message written in another script is left as it is."""
    table = _confusable_table()
    letters = [c for c in text if c.isalpha() or ord(c) in table]
    if not letters:
        return text
    latin = sum(1 for c in letters if "a" <= c.lower() <= "z")
    folded = text.translate(table)
    if latin / len(letters) >= _LATIN_SHARE_TO_FOLD:
        return folded
    # Mostly non-Latin: fold only if that makes it mostly Latin (a whole word typed in look-alikes, "ѕех").
    letters_after = [c for c in folded if c.isalpha()]
    latin_after = sum(1 for c in letters_after if "a" <= c.lower() <= "z")
    return folded if letters_after and latin_after / len(letters_after) >= 0.9 else text


def join_spelled_out(text: str) -> str:
    """Join words spelled out letter by letter: "k.i.l.l" always, "s e x" only when it spells a common word."""
    text = _DOTTED.sub(lambda m: _DOT_SEPARATORS.sub("", m.group(0)), text)

    def spaced(match: re.Match[str]) -> str:
        joined = match.group(0).replace(" ", "")
        return joined if common_word(joined) else match.group(0)

    return _SPACED.sub(spaced, text)


def read_leetspeak(text: str) -> str:
    """Read digits and symbols as letters inside words that mix them with letters ("k1ll", "s3x", "r@pe",
    "$uicide"); numbers ("999", "0800 1111", "Year 7") and units ("7pm", "13yo") are left alone."""
    return _WORDISH.sub(lambda m: _read_word(m.group(0)), text)


def _read_word(word: str) -> str:
    if word in CHAT_NUMBER_WORDS:
        return CHAT_NUMBER_WORDS[word]
    if not any("a" <= c <= "z" for c in word) or not any(c in _LEET_CHARS for c in word):
        return word
    # A leading "@" is a mention ("@john") unless "a" + the rest is a common word ("@nd"); a trailing "!" or "|"
    # is punctuation, not a letter.
    mention = word.startswith("@")
    core = word[1:] if mention else word
    stripped = core.rstrip("!|")
    trail = core[len(stripped):]
    if not any("a" <= c <= "z" for c in stripped):
        return word
    # Each reading is judged after squeezing stretched letters, so "pooo1" can be read as "poll".
    readings = [_squeeze_word(reading) for reading in _readings(stripped)]
    best = max(readings, key=word_logprob)
    if word_logprob(best) < _KNOWN:
        best = readings[0]
    if mention:
        return ("a" + best if common_word("a" + best) else "@" + best) + trail
    if _PROTECTED.match(stripped) and not common_word(best):
        return word
    return best + trail


def _readings(word: str) -> list[str]:
    options = [_LEET.get(c, (c,)) for c in word]
    count = 1
    for choice in options:
        count *= len(choice)
    if count > _MAX_READINGS:
        return ["".join(choice[0] for choice in options)]
    return ["".join(parts) for parts in itertools.product(*options)]


def squeeze_repeats(text: str) -> str:
    """Squeeze runs of three or more of a letter to the spelling that is a word ("pleeeease" -> "please",
    "bulllllying" -> "bullying"), to one letter when neither is; digits are never squeezed."""
    return re.sub(r"[a-z]+", lambda m: _squeeze_word(m.group(0)), text)


def _squeeze_word(word: str) -> str:
    runs = list(_REPEATS.finditer(word))
    if not runs:
        return word
    if len(runs) > 4:
        return _REPEATS.sub(r"\1", word)
    candidates = [word] if common_word(word) else []
    pieces: list[list[str]] = []
    last = 0
    for run in runs:
        pieces.append([word[last:run.start()]])
        pieces.append([run.group(1), run.group(1) * 2])
        last = run.end()
    pieces.append([word[last:]])
    candidates.extend("".join(parts) for parts in itertools.product(*pieces))
    best = max(candidates, key=word_logprob)
    return best if word_logprob(best) >= _KNOWN else _REPEATS.sub(r"\1", word)


def word_logprob(word: str) -> float:
    """Log-probability of `word` in English text (spacy-lookups-data), very low for unknown words."""
    return _word_logprobs().get(word, -30.0)


def common_word(word: str) -> bool:
    """Whether `word` (lower case) is a real, reasonably common English word, not a misspelling."""
    return word_logprob(word) >= _COMMON


@lru_cache(maxsize=1)
def _word_logprobs() -> dict[str, float]:
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raw = json.load(handle)
    # Letters-only words of some frequency: the readings we choose between are all lower-case letters.
    return {w: p for w, p in raw.items() if p >= _KNOWN and w.isascii() and w.isalpha() and w.islower()}


def warm_up() -> None:
    """Load the word frequencies and the look-alike table now rather than on the first obfuscated message."""
    _word_logprobs()
    _confusable_table()
