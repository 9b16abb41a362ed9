"""The screen's figures on its own corpus by grouped cross-validation: the figure that predicts unseen messages.

Each fold's model is trained without the fold's families; its thresholds come from the out-of-fold predictions of
the *other* folds (so the figures include the error of choosing thresholds, too). The fold's messages are then
screened as the real screen would: plain, and obfuscated with the same seeded tricks `make eval` uses on the
development set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


from bot.core.embedder import Embedder
from bot.safeguarding.screen import training
from bot.safeguarding.screen.backstop import Backstop
from bot.safeguarding.screen.corpus import Example, load_corpus
from bot.safeguarding.screen.decide import decide
from bot.safeguarding.screen.model import ModelConfig
from bot.safeguarding.screen_eval import OBFUSCATION_SEED, ScreenItem, ScreenReport, obfuscate, report_for
from bot.safeguarding.types import ScreenResult


@dataclass(frozen=True)
class CorpusFigures:
    """Grouped cross-validation on the corpus, plain and obfuscated."""

    examples: int
    families: int
    folds: int
    plain: ScreenReport
    obfuscated: ScreenReport

    def lines(self) -> list[str]:
        head = (f"safeguarding screen, grouped {self.folds}-fold cross-validation on the training corpus "
                f"({self.examples} messages in {self.families} families; no family on both sides):")
        return [head, *(f"  {line}" for line in self.plain.lines() if not line.startswith("latency")),
                f"safeguarding screen, same folds, obfuscated (seed {OBFUSCATION_SEED}):",
                *(f"  {line}" for line in self.obfuscated.lines() if not line.startswith("latency"))]


def corpus_figures(embedder: Embedder, corpus_dir: str | None = None, config: ModelConfig | None = None,
                   folds: int = training.FOLDS) -> CorpusFigures:
    """Train each fold, screen its held-out families plain and obfuscated, and report both."""
    config = config or ModelConfig()
    examples = load_corpus(corpus_dir)
    texts = training.screen_texts(examples)
    dense = training.embed(texts, embedder)
    obfuscated = [_obfuscated(example, index) for index, example in enumerate(examples)]
    obfuscated_texts = training.screen_texts(obfuscated)
    obfuscated_dense = training.embed(obfuscated_texts, embedder)
    test_folds = training.grouped_folds(examples, folds)
    predictions = training.out_of_fold(examples, texts, dense, config, test_folds)
    backstop = Backstop.load()
    plain: list[ScreenResult | None] = [None] * len(examples)
    disguised: list[ScreenResult | None] = [None] * len(examples)
    for test in test_folds:
        held_out = set(int(i) for i in test)
        rest = [i for i in range(len(examples)) if i not in held_out]
        thresholds = training.choose_thresholds([examples[i] for i in rest], [predictions[i] for i in rest])
        model = training._fit(examples, texts, dense, config, rest)
        rows = [int(i) for i in test]
        for variant_texts, variant_dense, out in ((texts, dense, plain),
                                                   (obfuscated_texts, obfuscated_dense, disguised)):
            chosen = [variant_texts[i] for i in rows]
            for i, text, prediction in zip(rows, chosen, model.predict(chosen, [examples[i].role for i in rows],
                                                                       variant_dense[rows])):
                out[i] = decide(prediction, thresholds, backstop.hits(text))
    items = [_item(example, index) for index, example in enumerate(examples)]
    return CorpusFigures(len(examples), len({e.family for e in examples}), folds,
                         report_for(items, [r for r in plain if r is not None]),
                         report_for(items, [r for r in disguised if r is not None]))


def _obfuscated(example: Example, index: int) -> Example:
    from dataclasses import replace

    return replace(example, text=obfuscate(example.text, random.Random(f"{OBFUSCATION_SEED}:{index}")))


def _item(example: Example, index: int) -> ScreenItem:
    return ScreenItem(f"{example.family}#{index}", example.text, example.role, example.label, example.urgency,
                      example.category)

