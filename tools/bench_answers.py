"""`make bench`, the answer core side by side: for each embedder asked for, in one run and on the same folds,

- the learned answer core: grouped cross-validation by policy section on the project's tuning questions (the
  figure that predicts unseen questions), per kind, and the development set (a model fitted on every tuning
  question; dev chooses nothing);
- the previous rule core (best cosine + unseen words, thresholds once tuned on dev) on both;
- naive baselines on the tuning questions: BM25 alone, dense alone and the fused retriever, top 3, no abstention;
- warm `PolicyAssistant.answer` latency of the learned core (dev questions, after a warm-up pass).

Indexes are built into a temporary folder per embedder; artifacts/ is not touched. Ids and figures only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TextIO

import numpy as np

from bot import settings
from bot.bench import PIPELINES
from bot.core.embedder import Embedder, SentenceTransformerEmbedder, default_embedder
from bot.evaluation import EvalItem, citation_hits, evaluate, load_items
from bot.qa import training, tuning
from bot.qa.answer import Answer, Citation, PolicyAssistant
from bot.qa.index import IndexStore
from bot.qa.retrieval import Retriever
from bot.schools import SchoolDirectory

LATENCY_REPEATS = 3


@dataclass(frozen=True)
class Figures:
    evidence_at_1: float
    evidence_at_3: float
    abstention_accuracy: float
    unanswerable_abstained: float


def figures_of(items: Sequence[EvalItem], answer: Callable[[EvalItem], Answer]) -> Figures:
    """The dev scorer's figures, plus the share of unanswerable questions abstained on (the held-out table's
    "abstention")."""
    results: dict[str, Answer] = {}

    def remembered(item: EvalItem) -> Answer:
        results[item.id] = answer(item)
        return results[item.id]

    report = evaluate(items, remembered)
    unanswerable = [i for i in items if not i.answerable]
    abstained = sum(results[i.id].abstained for i in unanswerable) / max(len(unanswerable), 1)
    return Figures(report.evidence_at_1, report.evidence_at_3, report.abstention_accuracy, abstained)


def retrieval_only(items: Sequence[EvalItem], retriever: Retriever) -> tuple[float, float]:
    """Top-3 retrieval on the answerable items, no abstention: (evidence@1, evidence@3)."""
    flags = [citation_hits(item, [Citation.from_hit(h) for h in
                                  retriever.retrieve(item.school, item.question, item.role, k=3)])
             for item in items if item.answerable]
    n = max(len(flags), 1)
    return sum(bool(f and f[0]) for f in flags) / n, sum(any(f) for f in flags) / n


def latency_ms(assistant: PolicyAssistant, items: Sequence[EvalItem]) -> tuple[float, float]:
    for item in items:  # warm-up: every school's index and every lazy piece
        assistant.answer(item.school, item.question, item.role)
    times = []
    for _ in range(LATENCY_REPEATS):
        for item in items:
            start = time.perf_counter()
            assistant.answer(item.school, item.question, item.role)
            times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def bench_embedder(embedder: Embedder, dev: Sequence[EvalItem], out: TextIO) -> None:
    def say(line: str = "") -> None:
        out.write(line + "\n")
        out.flush()

    began = time.perf_counter()
    directory = SchoolDirectory.load()
    questions = [q for q in tuning.load_questions() if q.school in directory.slugs]
    corpus = questions  # a TuningQuestion is an EvalItem
    with tempfile.TemporaryDirectory(prefix="policybot-bench-answers-") as tmp:
        store = IndexStore(Path(tmp) / "index")
        store.build_all(list(directory), embedder, force=True, progress=False)
        retriever = Retriever(directory, store, embedder, auto_build=False)
        trained = training.fitted(*training.prepared(questions, retriever))
        crossval = trained.crossval
        learned = PolicyAssistant(retriever, model=trained.model)
        rule = PolicyAssistant(retriever)
        dev_learned = figures_of(dev, lambda i: learned.answer(i.school, i.question, i.role))
        dev_rule = figures_of(dev, lambda i: rule.answer(i.school, i.question, i.role))
        corpus_rule = figures_of(corpus, lambda i: rule.answer(i.school, i.question, i.role))
        baselines = {name: retrieval_only(corpus, Retriever(directory, store, embedder, config, auto_build=False))
                     for name, config in PIPELINES}
        p50, p95 = latency_ms(learned, dev)
    cv = crossval.figures()
    say(f"embedder {embedder.name} ({time.perf_counter() - began:.0f} s)")
    say(f"  tuning corpus {len(questions)} questions ({sum(q.answerable for q in questions)} answerable), "
        f"grouped {training.FOLDS}-fold by school and section; dev {len(dev)} questions "
        f"({sum(i.answerable for i in dev)} answerable)")
    say()
    say("| core | set | evidence@1 | evidence@3 | abstention acc. | unanswerable abstained |")
    say("|---|---|---:|---:|---:|---:|")
    say(f"| learned (threshold {crossval.threshold:.2f}) | tuning, grouped CV | {cv['evidence_at_1']:.3f} | "
        f"{cv['evidence_at_3']:.3f} | {cv['abstention_accuracy']:.3f} | {cv['unanswerable_abstained']:.3f} |")
    say(f"| learned | dev | {dev_learned.evidence_at_1:.3f} | {dev_learned.evidence_at_3:.3f} | "
        f"{dev_learned.abstention_accuracy:.3f} | {dev_learned.unanswerable_abstained:.3f} |")
    say(f"| previous rule core | tuning (never tuned on it) | {corpus_rule.evidence_at_1:.3f} | "
        f"{corpus_rule.evidence_at_3:.3f} | {corpus_rule.abstention_accuracy:.3f} | "
        f"{corpus_rule.unanswerable_abstained:.3f} |")
    say(f"| previous rule core | dev (its thresholds were tuned on it) | {dev_rule.evidence_at_1:.3f} | "
        f"{dev_rule.evidence_at_3:.3f} | {dev_rule.abstention_accuracy:.3f} | {dev_rule.unanswerable_abstained:.3f} |")
    for name, (at1, at3) in baselines.items():
        say(f"| retrieval only, {name}, top 3 | tuning | {at1:.3f} | {at3:.3f} | – | – |")
    say()
    say(f"learned core, grouped CV: ended right {cv['ended_right']:.3f} (answered with the evidence first, or "
        f"abstained where the policy is silent); reranker alone at 1 {cv['rerank_at_1']:.3f}; answerable "
        f"answered {cv['answerable_answered']:.3f}")
    say("per kind (evidence@1, or abstention for the unanswerable kinds): "
        + ", ".join(f"{kind} {share:.2f}" for kind, share in crossval.by_kind().items()))
    say("per question set (ended right): "
        + ", ".join(f"{source} {share:.2f}" for source, share in crossval.by_source().items()))
    say(f"warm PolicyAssistant.answer, learned core, {len(dev)} dev questions x {LATENCY_REPEATS}: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (target p95 <= 30 ms)")
    say()


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_answers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedders", nargs="*", default=[],
                        help="embedding models to compare (local folders or names installed as packages); "
                             "default: the configured one")
    parser.add_argument("--questions", default=str(settings.default_eval_questions()),
                        help="the development questions (JSONL)")
    args = parser.parse_args(argv)
    path = Path(args.questions)
    if not path.is_file():
        out.write(f"bench answers: question file not found: {path} (pass --questions FILE)\n")
        return 2
    dev = load_items(path)
    out.write("the answer core, side by side (python -m tools.bench_answers)\n\n")
    for name in args.embedders or [None]:
        bench_embedder(default_embedder() if name is None else SentenceTransformerEmbedder(name), dev, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
