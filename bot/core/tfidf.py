"""Tf-idf word and character n-gram features that are saved as plain arrays and JSON, never pickled, so loading a
model file cannot run code. Shared by the Rasa intent classifier (components/) and the safeguarding screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # scikit-learn is imported when a vectoriser is made: importing this module loads nothing
    from sklearn.feature_extraction.text import TfidfVectorizer

#: Words are runs of letters/digits of any length, so "u", "r" and "2" (pupils' spellings) count as words.
WORD_PATTERN = r"(?u)\b\w+\b"


def new_vectorizers(char_ngram_range: Sequence[int], word_ngram_range: Sequence[int],
                    min_df: int = 1) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    """Unfitted character (within word boundaries) and word vectorisers with sublinear tf: one definition for
    training and loading, so the two cannot drift apart."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(int(char_ngram_range[0]), int(char_ngram_range[1])),
                           sublinear_tf=True, dtype=np.float32, min_df=min_df)
    word = TfidfVectorizer(analyzer="word", token_pattern=WORD_PATTERN,
                           ngram_range=(int(word_ngram_range[0]), int(word_ngram_range[1])), sublinear_tf=True,
                           dtype=np.float32, min_df=min_df)
    return char, word


def vocabulary(vectorizer: TfidfVectorizer) -> dict[str, int]:
    """A fitted vectoriser's vocabulary as plain JSON-able values."""
    return {term: int(index) for term, index in vectorizer.vocabulary_.items()}


def restored(vectorizer: TfidfVectorizer, vocabulary_: dict[str, int], idf: np.ndarray) -> TfidfVectorizer:
    """A fitted vectoriser rebuilt from its vocabulary and idf weights, as scikit-learn would have left it."""
    vectorizer.vocabulary = vocabulary_
    vectorizer.min_df = 1  # the saved vocabulary is already the filtered one
    vectorizer.fit(["placeholder"])  # builds the fixed-vocabulary analyser; the idf is replaced next
    vectorizer.idf_ = idf
    return vectorizer
