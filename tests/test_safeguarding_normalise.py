"""Normalising messages before the safeguarding screen: each trick people use to hide a word, undone."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.safeguarding.screen.normalise import (
    fold_confusables,
    join_spelled_out,
    normalise,
    read_leetspeak,
    remove_invisible,
    squeeze_repeats,
)
from bot.safeguarding.screen_eval import obfuscate
from bot.text import lemmas


@pytest.mark.parametrize("text, expected", [
    ("ｋｉｌｌ ｍｙｓｅｌｆ", "kill myself"),          # fullwidth
    ("𝐤𝐢𝐥𝐥 𝓶𝔂𝓼𝓮𝓵𝓯", "kill myself"),                # mathematical bold / script
    ("ⓚⓘⓛⓛ", "kill"),                                  # circled letters
    ("ﬁnd", "find"),                                    # ligature
])
def test_nfkc_folds_compatibility_characters(text: str, expected: str) -> None:
    """Fullwidth, mathematical, circled letters and ligatures become plain letters."""
    assert normalise(text) == expected


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff",
                                       "\u00ad", "\ufe0f", "\U000e0101"])
def test_invisible_characters_are_removed(invisible: str) -> None:
    """Zero-width spaces and joiners, direction marks, word joiner, BOM, soft hyphen and variation selectors go."""
    assert remove_invisible(f"k{invisible}ill") == "kill"
    assert normalise(f"s{invisible}e{invisible}x") == "sex"


def test_combining_marks_are_removed_but_letters_kept() -> None:
    """Strike-through and zalgo marks disappear; accented letters keep their base letter."""
    assert normalise("k̶i̶l̶l̶") == "kill"
    assert normalise("café") == "cafe"


@pytest.mark.parametrize("text, expected", [
    ("kіll", "kill"),            # Cyrillic і
    ("роrn", "porn"),            # Cyrillic р and о
    ("ΝUDΕS", "nudes"),          # Greek capital Nu and Epsilon
    ("ʀᴀᴘᴇ", "rape"),            # small capitals
    ("🇰🇮🇱🇱", "kill"),          # regional indicator letters
])
def test_look_alike_letters_are_folded_to_latin(text: str, expected: str) -> None:
    """Cyrillic, Greek, small-capital and regional-indicator look-alikes read as Latin letters."""
    assert normalise(text) == expected


def test_curly_apostrophes_become_straight() -> None:
    """Phone keyboards type a curly apostrophe; it reads like the straight one."""
    assert fold_confusables("don’t") == "don't"


@pytest.mark.parametrize("text, expected", [
    ("k1ll", "kill"),
    ("ki11", "kill"),
    ("s3x", "sex"),
    ("r@pe", "rape"),
    ("$uicide", "suicide"),
    ("5uicide", "suicide"),
    ("h1t m3", "hit me"),
    ("n00dz", "noodz"),
    ("0n11ne", "online"),
])
def test_leetspeak_inside_words_is_read_as_letters(text: str, expected: str) -> None:
    """Digits and symbols mixed with letters read as the letters they stand for, the likeliest word winning."""
    assert read_leetspeak(text) == expected


@pytest.mark.parametrize("text", ["999", "0800 1111", "year 7", "y7", "7pm", "13yo", "ks2", "ps5", "£2", "$5",
                                  "4g", "@john", "help!"])
def test_numbers_units_and_mentions_survive_leetspeak(text: str) -> None:
    """Numbers, school shorthand, units, money, mentions and a closing "!" are not leetspeak."""
    assert read_leetspeak(text) == text


def test_chat_number_words_are_spelled_out() -> None:
    """Digits used as syllables ("2nite", "sum1") are read as the words they spell, not as leetspeak."""
    assert normalise("sum1 is meeting me 2nite b4 9") == "someone is meeting me tonight before 9"


@pytest.mark.parametrize("text, expected", [
    ("pleeeease", "please"),
    ("nooooo", "no"),
    ("bulllllying", "bullying"),
    ("killlll", "kill"),
    ("hellllp", "help"),
])
def test_stretched_letters_are_squeezed_to_a_word(text: str, expected: str) -> None:
    """Three or more of a letter squeeze to one or two, whichever spells a word."""
    assert squeeze_repeats(text) == expected


def test_repeated_digits_are_never_squeezed() -> None:
    """Phone numbers keep their repeated digits."""
    assert normalise("call 0800 1111 or 999") == "call 0800 1111 or 999"


@pytest.mark.parametrize("text, expected", [
    ("k.i.l.l", "kill"),
    ("s-e-x", "sex"),
    ("r_a_p_e", "rape"),
    ("s e x", "sex"),
    ("n u d e s", "nudes"),
])
def test_spelled_out_words_are_joined(text: str, expected: str) -> None:
    """Letters separated by dots, dashes or underscores are joined; spaced letters when they spell a word."""
    assert join_spelled_out(text) == expected


@pytest.mark.parametrize("text", ["i a m", "y r u", "e.g. a.m."])
def test_spaced_letters_that_spell_nothing_stay(text: str) -> None:
    """Single letters that do not spell a common word, and two-letter abbreviations, are left alone."""
    assert join_spelled_out(text) == text


def test_normalise_lower_cases_and_collapses_whitespace() -> None:
    """The screening form is lower-case with single spaces."""
    assert normalise("  My   DAD\tHits\nme  ") == "my dad hits me"


def test_normalise_rejects_non_text_with_an_exact_error() -> None:
    """Anything but a string is a clear error."""
    with pytest.raises(ValueError, match="^text must be a string, got NoneType$"):
        normalise(None)  # type: ignore[arg-type]


SENTENCES = [
    "my stepdad hits me when he is drunk",
    "someone is threatening to share my nudes unless i send money",
    "i want to kill myself tonight",
    "a man i met online wants to meet me after school",
    "people keep calling me names in the group chat",
    "what happens if someone sends nudes",
    "my account got hacked and they are posting from it",
]


@settings(max_examples=300, deadline=None)
@given(rng=st.randoms(use_true_random=False), sentence=st.sampled_from(SENTENCES))
def test_normalise_undoes_obfuscation_of_common_words(rng: random.Random, sentence: str) -> None:
    """Leetspeak, look-alikes, zero-width characters, case flips and stretched letters all normalise away, down to
    the lemmas the screen matches on ("meeet" may come back as "meet" rather than "met": the same lemma)."""
    assert lemmas(normalise(obfuscate(sentence, rng)), keep_stopwords=True) == lemmas(sentence, keep_stopwords=True)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_normalise_is_idempotent_and_never_raises(text: str) -> None:
    """Normalising twice changes nothing more, whatever the input."""
    once = normalise(text)
    assert normalise(once) == once
