"""The NumPy BERT encoder gives sentence-transformers' vectors for the packaged MiniLM without torch, and the
servers' imports stay free of torch and TensorFlow where they do not need them (issue 15's memory target)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import settings
from bot.core.bert_numpy import NumpyBertEncoder
from bot.core.embedder import SentenceTransformerEmbedder, resolve_model_path

pytestmark = pytest.mark.real_model

TEXTS = [
    "Can I use my phone in lessons?",
    "hi",
    "",
    "wat if sum1 sends me nudes?? 😬",
    "Ünïcödé, naïve café — “quotes” and tabs\tand\nnewlines",
    # Longer than the model's 256-token limit: both sides must truncate it the same way.
    "The Designated Safeguarding Lead keeps records of every concern raised by staff. " * 40,
]


@pytest.fixture(scope="module")
def packaged() -> Path:
    return Path(resolve_model_path(settings.DEFAULT_EMBEDDING_MODEL))


def test_numpy_vectors_match_sentence_transformers(packaged: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same texts, same model: the two backends agree to float32 rounding, one at a time and batched."""
    ours = NumpyBertEncoder(packaged)
    monkeypatch.setenv("POLICYBOT_EMBEDDING_BACKEND", "sentence-transformers")
    reference = SentenceTransformerEmbedder(str(packaged))
    expected = reference.embed(TEXTS)
    assert reference.backend == "sentence-transformers"
    batched = ours.encode(TEXTS, batch_size=4)
    single = np.stack([ours.encode([text])[0] for text in TEXTS])
    assert batched.shape == (len(TEXTS), 384) and batched.dtype == np.float32
    assert np.abs(batched - expected).max() < 1e-5
    assert np.abs(single - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_the_default_embedder_runs_the_packaged_model_in_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """`auto` (the default) picks NumPy for MiniLM; the model is uncased, so case does not change the vector."""
    monkeypatch.delenv("POLICYBOT_EMBEDDING_BACKEND", raising=False)
    embedder = SentenceTransformerEmbedder(settings.DEFAULT_EMBEDDING_MODEL)
    assert embedder.backend == "unloaded"
    vectors = embedder.embed(["Who is the DSL?", "who is the dsl?"])
    assert embedder.backend == "numpy"
    assert np.allclose(vectors[0], vectors[1])


def test_an_unknown_backend_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_EMBEDDING_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="POLICYBOT_EMBEDDING_BACKEND must be one of auto, sentence-transformers"):
        settings.embedding_backend()


def test_a_model_with_cls_pooling_is_left_to_sentence_transformers(packaged: Path, tmp_path: Path) -> None:
    """Only BERT + mean pooling + normalise runs in NumPy; anything else says why it cannot."""
    folder = tmp_path / "cls-model"
    shutil.copytree(packaged, folder)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 384, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert NumpyBertEncoder.supports(packaged)
    assert not NumpyBertEncoder.supports(folder)
    with pytest.raises(ValueError, match="cannot be run without sentence-transformers: pooling is not mean pooling"):
        NumpyBertEncoder(folder)
    with pytest.raises(ValueError, match="missing modules.json, config.json, model.safetensors"):
        NumpyBertEncoder(tmp_path)


def test_the_action_server_answers_without_torch_or_tensorflow() -> None:
    """Building the policy answerer, lemmatising with spaCy and embedding a question import neither framework
    (spaCy's thinc would import both if let: 600 MB of the action server's memory)."""
    script = (
        "import sys\n"
        "from actions import services\n"
        "from bot.text import lemmas, sentence_spans\n"
        "assert lemmas('Pupils were running') and sentence_spans('One. Two.')\n"
        "answer = services.assistant().answer('kingsmeadow', 'can I use my phone in lessons?', 'pupil')\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'sentence_transformers', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=settings.PROJECT_ROOT, capture_output=True, text=True,
                          timeout=240, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(settings.PROJECT_ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_numpy_word_pieces_match_sentence_transformers(packaged: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The word pieces and their vectors (the answer model's word-by-word match) agree between the backends, and
    the sentence vectors from the same pass are `embed`'s."""
    monkeypatch.setenv("POLICYBOT_EMBEDDING_BACKEND", "sentence-transformers")
    reference = SentenceTransformerEmbedder(str(packaged))
    expected_vectors, expected = reference.embed_tokens(TEXTS)
    monkeypatch.setenv("POLICYBOT_EMBEDDING_BACKEND", "auto")
    ours = SentenceTransformerEmbedder(str(packaged))
    vectors, tokens = ours.embed_tokens(TEXTS)
    assert ours.backend == "numpy"
    assert np.abs(vectors - expected_vectors).max() < 1e-5
    assert np.abs(vectors - ours.embed(TEXTS)).max() < 1e-5
    for mine, theirs in zip(tokens, expected):
        assert mine.pieces == theirs.pieces
        assert mine.vectors.shape == theirs.vectors.shape
        if len(mine.pieces):
            assert np.abs(mine.vectors - theirs.vectors).max() < 1e-4
    assert tokens[0].pieces == ("can", "i", "use", "my", "phone", "in", "lessons")
    assert tokens[2].pieces == ()  # the empty text: [CLS] and [SEP] only, neither kept
