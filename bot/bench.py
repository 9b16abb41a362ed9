"""`policybot bench`: retrieval quality and speed, measured in one run.

(a) Quality on the dev questions for BM25 alone, dense alone and the fused default, each end to end through
    PolicyAssistant (with abstention) and as plain top-3 retrieval; plus two naive baselines that index one
    passage per non-empty policy line (no heading paths, no table rewriting).
(b) Warm per-question latency of `Retriever.retrieve` and `PolicyAssistant.answer` (fused pipeline).
(c) Index build time for all schools from scratch (into a temporary folder; artifacts/ is not touched).
(d) A synthetic scale test: N schools' worth of passages (real vectors plus small noise), searched per school.

One embedder instance is shared by everything, so the model loads once. Quality runs remember each question's
vector (the same vector every time); the latency runs embed every question afresh.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TextIO

import numpy as np

from bot import settings
from bot.qa.answer import Citation, PolicyAssistant
from bot.core.embedder import Embedder, TokenVectors, default_embedder, embed_tokens
from bot.evaluation import EvalItem, EvalReport, citation_hits, evaluate, load_items, span_found
from bot.qa.index import DenseIndex, IndexStore, LexicalIndex
from bot.qa.retrieval import RetrievalSettings, Retriever, query_tokens
from bot.schools import SchoolDirectory
from bot.text import lemmas

SEED = 20261123
LATENCY_REPEATS = 3
SCALE_QUERIES = 2000
SCALE_NOISE = 0.01  # per-dimension sd of the noise added to a real unit vector (cosine to the original ~0.98)
LEXICAL_BUILD_BUDGET_S = 60.0  # above this (projected), lexical indexes are built for a sample of schools

PIPELINES: tuple[tuple[str, RetrievalSettings], ...] = (
    ("BM25 alone", RetrievalSettings(mode="lexical")),
    ("dense alone", RetrievalSettings(mode="dense")),
    ("fused (default)", RetrievalSettings()),
)


class _RememberingEmbedder:
    """The shared embedder, remembering single-text (query) vectors so quality runs embed each question once."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed(texts)
        if texts[0] not in self._memo:
            self._memo[texts[0]] = self.inner.embed(texts)[0]
        return self._memo[texts[0]][None, :]

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenVectors] | None]:
        return embed_tokens(self.inner, texts)


@dataclass
class _Quality:
    name: str
    report: EvalReport  # end to end, with abstention
    retrieval_at_1: float  # top-3 retrieval alone, no abstention, answerable questions
    retrieval_at_3: float


@dataclass
class _Latency:
    name: str
    p50: float
    p95: float
    n: int


def _percentiles(ms: Sequence[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.asarray(ms, dtype=np.float64), [50, 95])
    return float(p50), float(p95)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def _load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _top_k_hits(item: EvalItem, texts: Sequence[str], scores: np.ndarray, k: int = 3) -> list[bool]:
    order = np.argsort(-scores, kind="stable")[:k]
    return [any(span_found(span, texts[i]) for span in item.evidence) for i in order]


def _at(flags: list[list[bool]]) -> tuple[float, float]:
    n = max(len(flags), 1)
    return sum(bool(f and f[0]) for f in flags) / n, sum(any(f) for f in flags) / n


# ------------------------------------------------------------------------------------------------ (a) quality


def _quality(items: list[EvalItem], directory: SchoolDirectory, store: IndexStore,
             embedder: Embedder) -> list[_Quality]:
    answerable = [i for i in items if i.answerable]
    results = []
    for name, cfg in PIPELINES:
        retriever = Retriever(directory, store, embedder, cfg, auto_build=False)
        assistant = PolicyAssistant(retriever)
        report = evaluate(items, lambda item: assistant.answer(item.school, item.question, item.role))
        flags = [citation_hits(item, [Citation.from_hit(h) for h in
                                      retriever.retrieve(item.school, item.question, item.role, k=3)])
                 for item in answerable]
        results.append(_Quality(name, report, *_at(flags)))
    return results


def _naive_baselines(items: list[EvalItem], directory: SchoolDirectory,
                     embedder: Embedder) -> tuple[int, dict[str, tuple[float, float]]]:
    """One passage per non-empty policy line; BM25 over plain lemmas and MiniLM cosine; top 3, no abstention."""
    answerable = [i for i in items if i.answerable]
    lines: dict[str, list[str]] = {}
    for profile in directory:
        text = profile.policy_path.read_text(encoding="utf-8")
        lines[profile.slug] = [line.strip() for line in text.split("\n") if line.strip()]
    lexical = {slug: LexicalIndex([lemmas(line) for line in texts]) for slug, texts in lines.items()}
    vectors = {slug: embedder.embed(texts) for slug, texts in lines.items()}
    bm25_flags, dense_flags = [], []
    for item in answerable:
        texts = lines[item.school]
        bm25_flags.append(_top_k_hits(item, texts, lexical[item.school].scores(lemmas(item.question))))
        query = embedder.embed([item.question])[0]
        dense_flags.append(_top_k_hits(item, texts, vectors[item.school] @ query))
    return (sum(len(t) for t in lines.values()),
            {"BM25 over lemmas": _at(bm25_flags), "dense MiniLM cosine": _at(dense_flags)})


# ------------------------------------------------------------------------------------------------ (b) latency


def _latency(items: list[EvalItem], directory: SchoolDirectory, store: IndexStore,
             embedder: Embedder) -> list[_Latency]:
    """Both calls timed question by question, interleaved, so background load affects them alike."""
    retriever = Retriever(directory, store, embedder, RetrievalSettings(), auto_build=False)
    assistant = PolicyAssistant(retriever)
    for item in items:  # warm-up: loads every school's index and every lazy piece of the pipeline
        assistant.answer(item.school, item.question, item.role)
    retrieve_ms, answer_ms = [], []
    for _ in range(LATENCY_REPEATS):
        for item in items:
            start = time.perf_counter()
            retriever.retrieve(item.school, item.question, item.role)
            middle = time.perf_counter()
            assistant.answer(item.school, item.question, item.role)
            end = time.perf_counter()
            retrieve_ms.append((middle - start) * 1000)
            answer_ms.append((end - middle) * 1000)
    return [_Latency("Retriever.retrieve (fused, k=5)", *_percentiles(retrieve_ms), len(retrieve_ms)),
            _Latency("PolicyAssistant.answer", *_percentiles(answer_ms), len(answer_ms))]


# ------------------------------------------------------------------------------------------------ (d) scale


@dataclass
class _Scale:
    schools: int
    passages: int
    dim: int
    dense_mb: float
    lexical_mb: float
    dense_build_s: float
    lexical_schools: int
    lexical_build_s: float
    lexical_projected_s: float
    queries: int
    p50: float
    p95: float
    dense_p50: float
    lexical_p50: float


def _lexical_mb_per_school(sources: list[tuple[np.ndarray, list[list[str]]]], sample: int = 20) -> float:
    """Python and numpy memory held by one LexicalIndex, averaged over `sample` builds (tracemalloc).

    Process RSS is no use here: earlier phases free hundreds of MB that later allocations reuse.
    """
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [LexicalIndex(sources[s % len(sources)][1]) for s in range(sample)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del kept
    return held / sample / 2**20


def _scale(n_schools: int, items: list[EvalItem], directory: SchoolDirectory, store: IndexStore,
           embedder: Embedder) -> _Scale:
    import faiss

    rng = np.random.default_rng(SEED)
    sources = []
    for profile in directory:
        index = store.load(profile, embedder)
        flat = faiss.read_index(str(store.root / profile.slug / "dense.faiss"))
        vectors = flat.reconstruct_n(0, flat.ntotal)
        sources.append((vectors, [lemmas(p.search_text()) for p in index.passages]))
    dim = sources[0][0].shape[1]

    start = time.perf_counter()
    dense: list[DenseIndex] = []
    passages = 0
    for s in range(n_schools):
        vectors = sources[s % len(sources)][0]
        noisy = vectors + rng.normal(0.0, SCALE_NOISE, vectors.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        dense.append(DenseIndex(noisy))
        passages += len(noisy)
    dense_build_s = time.perf_counter() - start

    # Lexical indexes: all schools if the projected time fits the budget, else a sample (said in the report).
    lexical: list[LexicalIndex] = []
    start = time.perf_counter()
    probe = min(n_schools, 50)
    for s in range(probe):
        lexical.append(LexicalIndex(sources[s % len(sources)][1]))
    per_school = (time.perf_counter() - start) / max(probe, 1)
    projected = per_school * n_schools
    target = n_schools if projected <= LEXICAL_BUILD_BUDGET_S else max(probe, int(LEXICAL_BUILD_BUDGET_S / per_school))
    for s in range(probe, target):
        lexical.append(LexicalIndex(sources[s % len(sources)][1]))
    lexical_build_s = time.perf_counter() - start
    lexical_mb = _lexical_mb_per_school(sources) * n_schools

    questions = [(embedder.embed([item.question])[0], *query_tokens(item.question)) for item in items]
    expansion_weight = RetrievalSettings().expansion_weight
    total_ms, dense_ms, lexical_ms = [], [], []
    warm = 100
    for q in range(warm + SCALE_QUERIES):
        school = int(rng.integers(n_schools))
        vector, base, extra = questions[int(rng.integers(len(questions)))]
        lex_index = lexical[school] if school < len(lexical) else lexical[school % len(lexical)]
        t0 = time.perf_counter()
        d = dense[school].scores(vector)
        t1 = time.perf_counter()
        lex = lex_index.scores(base)
        if extra:
            lex = lex + expansion_weight * lex_index.scores(extra)
        t2 = time.perf_counter()
        fused = d + lex / (float(lex.max()) or 1.0)
        np.argsort(-fused, kind="stable")[:5]
        t3 = time.perf_counter()
        if q >= warm:
            total_ms.append((t3 - t0) * 1000)
            dense_ms.append((t1 - t0) * 1000)
            lexical_ms.append((t2 - t1) * 1000)
    p50, p95 = _percentiles(total_ms)
    return _Scale(n_schools, passages, dim, passages * dim * 4 / 2**20, lexical_mb, dense_build_s,
                  len(lexical), lexical_build_s, projected, len(total_ms), p50, p95,
                  _percentiles(dense_ms)[0], _percentiles(lexical_ms)[0])


# ------------------------------------------------------------------------------------------------ report


def run_benchmarks(out: TextIO, scale_schools: int = 1000, questions: str | None = None) -> int:
    began = time.perf_counter()
    path = Path(questions) if questions else settings.default_eval_questions()
    if not path.exists():
        out.write(f"policybot bench: question file not found: {path} (pass --questions FILE)\n")
        return 2
    if scale_schools < 1:
        raise ValueError("--scale-schools must be at least 1")
    items = load_items(path)
    answerable = sum(i.answerable for i in items)
    directory = SchoolDirectory.load()
    load_before = _load()

    def say(line: str = "") -> None:
        out.write(line + "\n")
        out.flush()

    def step(text: str) -> None:
        say(f"... {text} ({time.perf_counter() - began:.0f} s)")

    embedder = default_embedder()
    start = time.perf_counter()
    embedder.embed(["warm up"])
    model_s = time.perf_counter() - start
    try:
        import torch

        threads = str(torch.get_num_threads())
    except ImportError:
        threads = "n/a"

    with tempfile.TemporaryDirectory(prefix="policybot-bench-") as tmp:
        step("(c) building all indexes from scratch")
        store = IndexStore(Path(tmp) / "index")
        start = time.perf_counter()
        built = store.build_all(list(directory), embedder, force=True, progress=False)
        build_s = time.perf_counter() - start
        real_passages = sum(len(store.load(profile, embedder).passages) for profile in directory)

        step("(a) quality: BM25, dense, fused")
        remembering = _RememberingEmbedder(embedder)
        quality = _quality(items, directory, store, remembering)
        step("(a) naive line baselines")
        naive_lines, naive = _naive_baselines(items, directory, remembering)
        step("(b) latency")
        latency = _latency(items, directory, store, embedder)
        step(f"(d) scale test, {scale_schools} schools")
        scale = _scale(scale_schools, items, directory, store, remembering)
    total_s = time.perf_counter() - began

    say()
    say("policybot bench")
    say(f"  questions      {path} ({len(items)}, {answerable} answerable)")
    say(f"  machine        {os.cpu_count()} CPUs, Python {platform.python_version()}, torch threads {threads}; "
        f"load average {load_before} at start, {_load()} at end")
    say(f"  model          {embedder.name} (load + first embedding {model_s:.1f} s)")
    say()
    say("(a) quality, end to end through PolicyAssistant (abstention on)")
    say(f"  {'pipeline':18} {'ev@1':>6} {'ev@3':>6} {'abstain acc':>12} {'wrong school':>13}"
        f"   {'retrieval-only ev@1':>19} {'ev@3':>6}")
    for q in quality:
        r = q.report
        say(f"  {q.name:18} {r.evidence_at_1:6.3f} {r.evidence_at_3:6.3f} {r.abstention_accuracy:12.3f} "
            f"{r.wrong_school_citations:13d}   {q.retrieval_at_1:19.3f} {q.retrieval_at_3:6.3f}")
    bm25, dense, fused = quality
    say("  (retrieval-only: top-3 retrieve() on the answerable questions, no abstention)")
    say("  ratios                 ev@1    ev@3   retrieval-only ev@1   ev@3")
    for other in (bm25, dense):
        say(f"  fused / {other.name:13} "
            f"{_ratio(fused.report.evidence_at_1, other.report.evidence_at_1):>6} "
            f"{_ratio(fused.report.evidence_at_3, other.report.evidence_at_3):>7} "
            f"{_ratio(fused.retrieval_at_1, other.retrieval_at_1):>21} "
            f"{_ratio(fused.retrieval_at_3, other.retrieval_at_3):>6}")
    if bm25.report.evidence_at_1 == 0 and bm25.report.answerable:
        say("  note: BM25 alone gives its hits no cosine score, so PolicyAssistant's abstention rule "
            "(best cosine >= threshold) abstains on every question; compare BM25 on the retrieval-only columns.")
    say(f"  naive baselines: one passage per non-empty policy line ({naive_lines} lines; no headings, "
        f"no table rewriting), top 3, no abstention")
    for name, (at1, at3) in naive.items():
        say(f"  {'line ' + name:27} ev@1 {at1:.3f}   ev@3 {at3:.3f}")
    say()
    say(f"(b) warm latency, fused pipeline, {len(items)} questions x {LATENCY_REPEATS} "
        f"(after a warm-up pass; includes embedding the question)")
    for lat in latency:
        say(f"  {lat.name:33} p50 {lat.p50:7.1f} ms   p95 {lat.p95:7.1f} ms   (n={lat.n})")
    say()
    say(f"(c) index build from scratch, {len(built)} schools, {real_passages} passages "
        f"(model already loaded): {build_s:.1f} s")
    say()
    s = scale
    say(f"(d) scale: {s.schools} synthetic schools (real passage vectors + N(0, {SCALE_NOISE}) noise, re-normalised)")
    say(f"  passages        {s.passages:,} ({s.dim}-dim float32)")
    say(f"  memory          ~{s.dense_mb + s.lexical_mb:.0f} MB: dense {s.dense_mb:.0f} MB (passages x dim x 4 B, "
        f"flat index) + BM25 ~{s.lexical_mb:.0f} MB ({s.schools} x the tracemalloc size of one lexical index)")
    say(f"  build           dense {s.dense_build_s:.1f} s; lexical {s.lexical_build_s:.1f} s "
        f"for {s.lexical_schools} schools")
    if s.lexical_schools < s.schools:
        say(f"  NOTE            lexical indexes built for a sample of {s.lexical_schools} schools only (all "
            f"{s.schools} projected {s.lexical_projected_s:.0f} s); queries on the others use a sampled "
            f"school's lexical index of the same shape")
    say(f"  per-school search ({s.queries} queries, random school, dev question vector + lemmas; "
        f"dense + BM25 + fuse + top 5; embedding excluded)")
    say(f"                  p50 {s.p50:.2f} ms   p95 {s.p95:.2f} ms   (p50 dense {s.dense_p50:.2f} ms, "
        f"BM25 {s.lexical_p50:.2f} ms)")
    say()
    say(f"total bench time {total_s:.0f} s")
    say()
    say("markdown:")
    say()
    say("| pipeline | evidence@1 | evidence@3 | abstention acc. | wrong-school | retrieval-only ev@1 | ev@3 |")
    say("|---|---:|---:|---:|---:|---:|---:|")
    for q in quality:
        r = q.report
        say(f"| {q.name} | {r.evidence_at_1:.3f} | {r.evidence_at_3:.3f} | {r.abstention_accuracy:.3f} | "
            f"{r.wrong_school_citations} | {q.retrieval_at_1:.3f} | {q.retrieval_at_3:.3f} |")
    for name, (at1, at3) in naive.items():
        say(f"| naive lines, {name} | – | – | – | – | {at1:.3f} | {at3:.3f} |")
    say()
    say("| ratio | evidence@1 | evidence@3 | retrieval-only ev@1 | retrieval-only ev@3 |")
    say("|---|---:|---:|---:|---:|")
    for other in (bm25, dense):
        say(f"| fused / {other.name} | {_ratio(fused.report.evidence_at_1, other.report.evidence_at_1)} | "
            f"{_ratio(fused.report.evidence_at_3, other.report.evidence_at_3)} | "
            f"{_ratio(fused.retrieval_at_1, other.retrieval_at_1)} | "
            f"{_ratio(fused.retrieval_at_3, other.retrieval_at_3)} |")
    say()
    say("| measurement | p50 | p95 | n |")
    say("|---|---:|---:|---:|")
    for lat in latency:
        say(f"| {lat.name} | {lat.p50:.1f} ms | {lat.p95:.1f} ms | {lat.n} |")
    say(f"| per-school search, {s.schools} schools / {s.passages:,} passages | {s.p50:.2f} ms | {s.p95:.2f} ms "
        f"| {s.queries} |")
    say()
    say("| build / scale | value |")
    say("|---|---|")
    say(f"| index build, {len(built)} schools from scratch ({real_passages} passages, model loaded) | {build_s:.1f} s |")
    say(f"| model load + first embedding | {model_s:.1f} s |")
    say(f"| scale test passages | {s.passages:,} in {s.schools} schools |")
    say(f"| scale test memory | ~{s.dense_mb + s.lexical_mb:.0f} MB (dense {s.dense_mb:.0f} MB + BM25 "
        f"~{s.lexical_mb:.0f} MB) |")
    say(f"| scale test build | dense {s.dense_build_s:.1f} s; BM25 {s.lexical_build_s:.1f} s for "
        f"{s.lexical_schools} schools |")
    return 0
