"""Per-school indexes: FAISS over passage embeddings plus BM25 over lemmas, saved with a manifest.

One folder per school under artifacts/index/<slug>/ holds passages.jsonl, dense.faiss, sentences.npz (each
sentence's embedding and passage, and its word pieces' vectors, for the answer model's sentence- and
word-level match) and manifest.json.
The manifest records the embedding model, the policy file hash and the ingestion version, so `build-index`
rebuilds only what changed and a stale index is never used silently.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from bot import settings
from bot.core.embedder import Embedder, embed_tokens
from bot.qa.ingest import INGEST_VERSION, PolicyPassage, ingest
from bot.schools import SchoolProfile
from bot.text import lemmas, sentence_spans

#: Bump when what an index folder holds changes, so older folders are rebuilt rather than misread.
INDEX_VERSION = 3
#: Shorter pieces ("See below.") match everything a little and say nothing.
MIN_SENTENCE_WORDS = 3


class IndexNotReady(ValueError):
    """An index is missing or stale; the message says which school and why."""


class DenseIndex:
    """Exact inner-product search (IndexFlatIP); right for a few thousand passages per school."""

    def __init__(self, vectors: np.ndarray) -> None:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.dim = vectors.shape[1]
        # Vectors are unit length (see Embedder), so inner product here is cosine similarity.
        self._index = faiss.IndexFlatIP(self.dim)
        if len(vectors):
            self._index.add(vectors)

    def __len__(self) -> int:
        return self._index.ntotal

    def scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every passage, in passage order."""
        n = len(self)
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        sims, ids = self._index.search(np.asarray(query_vector, dtype=np.float32).reshape(1, -1), n)
        out = np.empty(n, dtype=np.float32)
        out[ids[0]] = sims[0]
        return out

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> "DenseIndex":
        import faiss

        self = cls.__new__(cls)
        self._index = faiss.read_index(str(path))
        self.dim = self._index.d
        return self


class LexicalIndex:
    """BM25 (bm25s) over lookup lemmas of each passage's heading path, lead-in and text."""

    def __init__(self, token_lists: Sequence[Sequence[str]]) -> None:
        import bm25s

        self._bm25 = bm25s.BM25()
        self.vocabulary = frozenset(t for tokens in token_lists for t in tokens)
        self._size = len(token_lists)
        # bm25s rejects an empty document; a placeholder token keeps passage order intact.
        self._bm25.index([list(t) or ["_empty_"] for t in token_lists], show_progress=False)

    @classmethod
    def from_passages(cls, passages: Sequence[PolicyPassage]) -> "LexicalIndex":
        return cls([lemmas(p.search_text()) for p in passages])

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        known = [t for t in query_tokens if t in self.vocabulary]
        if not known or self._size == 0:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)


def passage_sentences(passage: PolicyPassage) -> list[str]:
    """The sentences of a passage's quoted text (each list item on its own), of at least MIN_SENTENCE_WORDS words."""
    out: list[str] = []
    for line in passage.text.split("\n"):
        line = line.strip().removeprefix("- ").strip()
        for start, end in sentence_spans(line) if line else ():
            if len(line[start:end].split()) >= MIN_SENTENCE_WORDS:
                out.append(line[start:end])
    return out


@dataclass(frozen=True)
class SentenceIndex:
    """Unit embeddings of every passage's sentences and the passage each belongs to: a long passage's one
    answering sentence is diluted in the passage's embedding, not in its own. With them, when the embedder gives
    them, each sentence's word pieces and their vectors (float16: about 20 MB for five schools), so the answer model
    can match a question against a passage word by word."""

    vectors: np.ndarray
    owner: np.ndarray
    #: All sentences' word-piece vectors end to end; sentence s has rows token_starts[s]:token_starts[s + 1].
    token_vectors: np.ndarray | None = None
    token_pieces: np.ndarray | None = None
    token_starts: np.ndarray | None = None

    @classmethod
    def build(cls, passages: Sequence[PolicyPassage], embedder: Embedder) -> "SentenceIndex":
        texts: list[str] = []
        owner: list[int] = []
        for number, passage in enumerate(passages):
            for sentence in passage_sentences(passage):
                texts.append(sentence)
                owner.append(number)
        parts = [embed_tokens(embedder, texts[i:i + 64]) for i in range(0, len(texts), 64)]
        vectors = (np.vstack([v for v, _ in parts]) if parts else np.zeros((0, 1), dtype=np.float32))
        index = cls(np.asarray(vectors, dtype=np.float32), np.asarray(owner, dtype=np.int32))
        if not parts or any(t is None for _, t in parts):
            return index
        tokens = [t for _, batch in parts for t in batch or ()]
        starts = np.cumsum([0, *(len(t.pieces) for t in tokens)]).astype(np.int32)
        return cls(index.vectors, index.owner, np.vstack([t.vectors for t in tokens]).astype(np.float16),
                   np.array([p for t in tokens for p in t.pieces], dtype=str), starts)

    def best_per_passage(self, query_vector: np.ndarray, passages: int) -> np.ndarray:
        """For each passage, the cosine of its best-matching sentence (its own score when it has none: -1)."""
        best = np.full(passages, -1.0, dtype=np.float32)
        if len(self.owner):
            np.maximum.at(best, self.owner, self.vectors @ np.asarray(query_vector, dtype=np.float32))
        return best

    def passage_pieces(self, number: int) -> list[np.ndarray]:
        """The word pieces of each sentence of passage `number` (their vectors: `token_matrices`); empty without
        word-piece vectors."""
        if self.token_starts is None or self.token_pieces is None:
            return []
        first, last = np.searchsorted(self.owner, [number, number + 1])
        return [self.token_pieces[self.token_starts[s]:self.token_starts[s + 1]] for s in range(int(first), int(last))]

    def token_matrices(self, numbers: Sequence[int]) -> list[list[np.ndarray]]:
        """For each passage in `numbers`, its sentences' word-piece vectors (float32, converted in one go)."""
        if self.token_vectors is None or self.token_starts is None:
            return [[] for _ in numbers]
        bounds = [np.searchsorted(self.owner, [n, n + 1]) for n in numbers]
        rows = [np.arange(self.token_starts[first], self.token_starts[last]) for first, last in bounds]
        gathered = self.token_vectors[np.concatenate(rows) if rows else np.zeros(0, int)].astype(np.float32)
        out, at = [], 0
        for first, last in bounds:
            sentences = []
            for s in range(int(first), int(last)):
                size = int(self.token_starts[s + 1] - self.token_starts[s])
                sentences.append(gathered[at:at + size])
                at += size
            out.append(sentences)
        return out

    def save(self, path: Path) -> None:
        if self.token_vectors is None:
            np.savez(path, vectors=self.vectors, owner=self.owner)
        else:
            np.savez(path, vectors=self.vectors, owner=self.owner, token_vectors=self.token_vectors,
                     token_pieces=self.token_pieces, token_starts=self.token_starts)

    @classmethod
    def load(cls, path: Path) -> "SentenceIndex":
        with np.load(path, allow_pickle=False) as stored:
            if "token_vectors" not in stored:
                return cls(stored["vectors"], stored["owner"])
            return cls(stored["vectors"], stored["owner"], stored["token_vectors"], stored["token_pieces"],
                       stored["token_starts"])


@dataclass
class SchoolIndex:
    """Everything retrieval needs for one school."""

    school: str
    passages: list[PolicyPassage]
    dense: DenseIndex
    lexical: LexicalIndex
    manifest: dict
    sentences: SentenceIndex | None = None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class IndexStore:
    """Builds, saves, checks and loads per-school indexes under one folder."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or settings.index_dir()

    def _dir(self, slug: str) -> Path:
        return self.root / slug

    def expected_manifest(self, profile: SchoolProfile, embedder: Embedder) -> dict:
        path = profile.policy_path
        if not path.exists():
            raise IndexNotReady(f"policy file for school '{profile.slug}' not found: {path}")
        return {"school": profile.slug, "model": embedder.name, "ingest_version": INGEST_VERSION,
                "index_version": INDEX_VERSION,
                "policy_file": profile.policy_file, "policy_sha256": file_sha256(path)}

    def status(self, profile: SchoolProfile, embedder: Embedder) -> str:
        """'ok', 'missing', 'stale: <reason>' or 'unusable: <reason>' for one school's saved index."""
        if not profile.policy_path.exists():
            return f"unusable: policy file {profile.policy_path} is missing"
        manifest_path = self._dir(profile.slug) / "manifest.json"
        if not manifest_path.exists():
            return "missing"
        saved = json.loads(manifest_path.read_text())
        expected = self.expected_manifest(profile, embedder)
        changed = [key for key, value in expected.items() if saved.get(key) != value]
        return f"stale: {', '.join(changed)} changed" if changed else "ok"

    def build(self, profile: SchoolProfile, embedder: Embedder, on_batch: Callable[[int], None] | None = None,
              passages: list[PolicyPassage] | None = None) -> SchoolIndex:
        """Ingest (unless `passages` are given), embed and save one school's index, replacing any old one."""
        if passages is None:
            passages = ingest(profile.slug, profile.policy_path.read_text(encoding="utf-8"))
        texts = [p.embedding_text() for p in passages]
        vectors_parts = []
        for start in range(0, len(texts), 64):
            vectors_parts.append(embedder.embed(texts[start:start + 64]))
            if on_batch:
                on_batch(len(texts[start:start + 64]))
        vectors = np.vstack(vectors_parts) if vectors_parts else np.zeros((0, 1), dtype=np.float32)
        dense = DenseIndex(vectors)
        lexical = LexicalIndex.from_passages(passages)
        sentences = SentenceIndex.build(passages, embedder)
        manifest = {**self.expected_manifest(profile, embedder), "passages": len(passages),
                    "dim": int(vectors.shape[1]), "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        tmp = self._dir(profile.slug).with_name(f".{profile.slug}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with (tmp / "passages.jsonl").open("w", encoding="utf-8") as out:
            for passage in passages:
                out.write(json.dumps(passage.to_dict(), ensure_ascii=False) + "\n")
        dense.save(tmp / "dense.faiss")
        sentences.save(tmp / "sentences.npz")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        final = self._dir(profile.slug)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        return SchoolIndex(profile.slug, passages, dense, lexical, manifest, sentences)

    def load(self, profile: SchoolProfile, embedder: Embedder) -> SchoolIndex:
        """Load a saved index; raises IndexNotReady naming the school if it is missing or stale."""
        state = self.status(profile, embedder)
        if state != "ok":
            raise IndexNotReady(f"index for school '{profile.slug}' is {state}; run `policybot build-index`")
        folder = self._dir(profile.slug)
        with (folder / "passages.jsonl").open(encoding="utf-8") as lines:
            passages = [PolicyPassage.from_dict(json.loads(line)) for line in lines]
        dense = DenseIndex.load(folder / "dense.faiss")
        manifest = json.loads((folder / "manifest.json").read_text())
        return SchoolIndex(profile.slug, passages, dense, LexicalIndex.from_passages(passages), manifest,
                           SentenceIndex.load(folder / "sentences.npz"))

    def build_all(self, profiles: Iterable[SchoolProfile], embedder: Embedder, force: bool = False,
                  progress: bool = True) -> list[tuple[str, str]]:
        """Rebuild the schools whose index is missing or stale (all with force); returns (slug, outcome)."""
        profiles = list(profiles)
        todo = [p for p in profiles if force or self.status(p, embedder) != "ok"]
        results = [(p.slug, "up to date") for p in profiles if p not in todo]
        if not todo:
            return results
        # Ingest first so the progress bar knows the total; build() then reuses these passages.
        ingested = {p.slug: ingest(p.slug, p.policy_path.read_text(encoding="utf-8")) for p in todo}
        from tqdm import tqdm

        with tqdm(total=sum(map(len, ingested.values())), desc="embedding passages", unit="passage",
                  disable=not progress) as bar:
            for profile in todo:
                bar.set_postfix_str(profile.slug)
                index = self.build(profile, embedder, on_batch=bar.update, passages=ingested[profile.slug])
                results.append((profile.slug, f"built ({len(index.passages)} passages)"))
        self._write_summary(profiles, embedder)
        return sorted(results)

    def _write_summary(self, profiles: Iterable[SchoolProfile], embedder: Embedder) -> None:
        summary = {p.slug: self.status(p, embedder) for p in profiles}
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "manifest.json").write_text(json.dumps({"model": embedder.name, "schools": summary}, indent=2))
