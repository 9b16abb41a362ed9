"""End to end with the packaged all-MiniLM-L6-v2 model and the real school policies (slower, still offline)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from bot.qa.answer import Answer, PolicyAssistant
from bot.core.embedder import SentenceTransformerEmbedder
from bot.qa.index import IndexStore
from bot.qa.retrieval import Retriever
from bot.schools import SchoolDirectory

pytestmark = pytest.mark.real_model

SCHOOLS = ("ken-stimpson", "ouston", "rolvenden")
PHONE_QUESTION = "can I use my phone in lessons?"


@dataclass(frozen=True)
class RealSetup:
    """The loaded model and answers to the phone question, asked once per school as a pupil."""

    embedder: SentenceTransformerEmbedder
    answers: dict[str, Answer]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealSetup]:
    """Load the model once, build three real schools' indexes in a temp folder, and ask the phone question."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("POLICYBOT_DATA_DIR", "POLICYBOT_ARTIFACTS_DIR", "POLICYBOT_EMBEDDING_MODEL"):
            env.delenv(name, raising=False)
        embedder = SentenceTransformerEmbedder()
        directory = SchoolDirectory.load()
        store = IndexStore(tmp_path_factory.mktemp("real-index"))
        for slug in SCHOOLS:
            store.build(directory.get(slug), embedder)
        assistant = PolicyAssistant(Retriever(directory, store, embedder, auto_build=False))
        answers = {slug: assistant.answer(slug, PHONE_QUESTION, "pupil") for slug in SCHOOLS}
        yield RealSetup(embedder, answers)


def test_embedder_returns_unit_vectors_of_dimension_384(real: RealSetup) -> None:
    """The packaged model embeds each text as a float32 unit vector of length 384."""
    vectors = real.embedder.embed(["Can I use my phone in lessons?", "Who is the designated safeguarding lead?"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_ken_stimpson_answers_a_pupils_phone_question_from_its_matrix(real: RealSetup) -> None:
    """Ken Stimpson's answer cites the pupils' row of its phones matrix first."""
    answer = real.answers["ken-stimpson"]
    assert not answer.abstained
    first = answer.citations[0].text
    assert "use of mobile phones in lessons" in first
    assert "allowed with staff permission" in first


@pytest.mark.parametrize("slug", ["ouston", "rolvenden"])
def test_other_schools_answer_the_phone_question_from_their_own_policy(real: RealSetup, slug: str) -> None:
    """Ouston and Rolvenden answer rather than abstain, citing only their own policy."""
    answer = real.answers[slug]
    assert not answer.abstained
    assert answer.citations
    assert {c.school for c in answer.citations} == {slug}


def test_each_school_answers_the_same_question_with_different_text(real: RealSetup) -> None:
    """The three schools' first citations differ: each answer comes from that school's own policy."""
    firsts = [real.answers[slug].citations[0].text for slug in SCHOOLS if real.answers[slug].citations]
    assert len(firsts) == 3
    assert len(set(firsts)) == 3


def test_one_message_is_run_through_the_model_once_whoever_asks(real: RealSetup) -> None:
    """The Rasa server's featurizer embeds the message and the screen its lower-cased normal form: the uncased
    model gives both the same vector, so the second comes from the cache (a batch never does)."""
    embedder = real.embedder
    before = embedder.encoded
    first = embedder.embed(["Is my Son allowed his Phone on the school trip? (cache check 31)"])
    second = embedder.embed(["is my son allowed his phone on the school trip? (cache check 31)"])
    assert embedder.encoded == before + 1
    assert np.array_equal(first, second) and first.dtype == np.float32 and first.flags.writeable
    first[0, 0] = 99.0  # the caller's copy: the cached vector is unchanged
    assert embedder.embed(["is my son allowed his phone on the school trip? (cache check 31)"])[0, 0] != 99.0
    batch = [f"question {n} (cache check 31)" for n in range(5)]
    embedder.embed(batch)
    embedder.embed(batch)
    assert embedder.encoded == before + 11
