"""Word-by-word matching of a question against a passage: the word pieces kept in the index and the features the
answer model reads from them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.core.embedder import FakeEmbedder, TokenVectors
from bot.qa.answerability import CANDIDATE_FEATURES, WORD_FEATURES, CandidateFeaturizer, word_matches
from bot.qa.index import IndexStore, SentenceIndex, passage_sentences
from bot.qa.ingest import ingest
from bot.qa.retrieval import Retriever
from bot.schools import SchoolDirectory

AT = {name: i for i, name in enumerate(WORD_FEATURES)}


def _tokens(embedder: FakeEmbedder, text: str) -> TokenVectors:
    return embedder.embed_tokens([text])[1][0]


def _sentences(embedder: FakeEmbedder, *texts: str) -> list[np.ndarray]:
    return [t.vectors for t in embedder.embed_tokens(list(texts))[1]]


def test_a_passage_holding_the_questions_words_matches_better_than_one_without() -> None:
    embedder = FakeEmbedder()
    question = _tokens(embedder, "how long are phones kept in the office")
    # "long" is rare in this policy (no rule says how long), so it weighs more than the words every passage uses.
    idf = {"phone": 2.0, "keep": 2.0, "office": 2.0, "long": 3.0}
    holding, without = word_matches(question, [
        _sentences(embedder, "Phones are kept in the school office all day.", "Lost property goes to reception."),
        _sentences(embedder, "Passwords are changed every term.", "Lost property goes to reception.")], idf, 3.0)
    assert holding[AT["words_weighted"]] > without[AT["words_weighted"]]
    assert holding[AT["words_sentence"]] > without[AT["words_sentence"]]
    assert holding[AT["words_near"]] > without[AT["words_near"]]
    # "how long" is asked and nothing in the passage says it: the least-met rarer piece shows the gap.
    assert holding[AT["words_least"]] < 0.5


def test_no_word_pieces_means_every_word_feature_is_zero() -> None:
    embedder = FakeEmbedder()
    question = _tokens(embedder, "can i bring my phone")
    phones = _sentences(embedder, "Phones are kept in the office.")
    assert not word_matches(None, [phones], {}, 1.0).any()
    empty = TokenVectors((), np.zeros((0, 256), np.float32))
    assert not word_matches(empty, [phones], {}, 1.0).any()
    # A passage with no word pieces gets zeros; the others are scored as if it were not there.
    rows = word_matches(question, [[], phones, [np.zeros((0, 256), np.float32)]], {}, 1.0)
    assert rows.shape == (3, len(WORD_FEATURES))
    assert not rows[0].any() and not rows[2].any()
    assert np.allclose(rows[1], word_matches(question, [phones], {}, 1.0)[0])


def test_the_index_keeps_each_sentences_word_pieces_and_loads_them_back(schools: SchoolDirectory,
                                                                         tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    profile = schools.get("alder")
    passages = ingest(profile.slug, profile.policy_path.read_text(encoding="utf-8"))
    built = SentenceIndex.build(passages, embedder)
    assert built.token_vectors is not None and built.token_vectors.dtype == np.float16
    built.save(tmp_path / "sentences.npz")
    loaded = SentenceIndex.load(tmp_path / "sentences.npz")
    number = int(built.owner[0])
    pieces = loaded.passage_pieces(number)
    vectors = loaded.token_matrices([number])[0]
    assert len(pieces) == len(vectors) == int((built.owner == number).sum())
    assert len(pieces[0]) == len(vectors[0]) and vectors[0].dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[0], axis=1), 1.0, atol=1e-2)
    assert list(pieces[0]) == list(embedder.embed_tokens([passage_sentences(passages[number])[0]])[1][0].pieces)
    # An embedder without word pieces gives an index without them, read as "no word features".
    plain = SentenceIndex(built.vectors, built.owner)
    plain.save(tmp_path / "plain.npz")
    assert SentenceIndex.load(tmp_path / "plain.npz").passage_pieces(number) == []
    assert SentenceIndex.load(tmp_path / "plain.npz").token_matrices([number]) == [[]]


def test_candidates_carry_the_word_features(retriever: Retriever) -> None:
    candidates = CandidateFeaturizer(retriever).candidates("alder", "must pupils hand in their phones?", "pupil")
    weighted = candidates.features[:, CANDIDATE_FEATURES.index("words_weighted")]
    gap = candidates.features[:, CANDIDATE_FEATURES.index("words_weighted_gap")]
    assert weighted.max() > 0
    assert np.isclose(gap.max(), 0.0) and (gap <= 1e-9).all()
    best = candidates.hits[int(np.argmax(weighted))]
    assert "phone" in best.text.lower()


def test_an_index_built_before_word_pieces_is_stale(schools: SchoolDirectory, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    embedder = FakeEmbedder()
    store.build(schools.get("alder"), embedder)
    manifest = tmp_path / "index" / "alder" / "manifest.json"
    saved = json.loads(manifest.read_text())
    saved["index_version"] = 2
    manifest.write_text(json.dumps(saved))
    assert store.status(schools.get("alder"), embedder) == "stale: index_version changed"
