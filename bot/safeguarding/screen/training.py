"""Training the screen: embed the corpus, cross-validate grouped by family, choose thresholds, fit, save.

Thresholds come from out-of-fold predictions under grouped cross-validation (no family on both sides), never from
the development set: the hand-off band where disclosure recall on unseen situations reaches its target, the
check-in band below it, the immediate bar where danger-now recall does, and the danger-now route's bar where the
danger-now messages it catches outweigh the needless hand-offs it makes. The same folds give the figures
`make eval` prints for the corpus (crossval.py).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from bot import settings
from bot.core import artifacts
from bot.core.embedder import Embedder
from bot.safeguarding.screen import normalise as normalising
from bot.safeguarding.screen.corpus import Example, corpus_fingerprint, default_corpus_dir, load_corpus
from bot.safeguarding.screen.decide import Thresholds, danger, decide
from bot.safeguarding.screen.model import MODEL_VERSION, ModelConfig, ModelNotReady, Prediction, ScreenModel

log = logging.getLogger(__name__)

#: Grouped folds, and the seed that makes them (and so the thresholds) the same on every machine.
FOLDS = 5
SEED = 20261205

#: What the thresholds are chosen to reach on unseen situations (out-of-fold): hand-off recall of disclosures,
#: recall of danger-now messages at the immediate bar, and recall of disclosures within the check-in band. The
#: immediate bar is set for 99% of danger-now messages because missing one costs far more than calling a serious
#: disclosure urgent: a pupil who is not in danger this minute still reads "if you are in danger right now, call
#: 999" first, and the DSL sees it flagged. On this corpus that calls about a third of the high- and
#: standard-urgency disclosures immediate (docs/benchmarks.md has the trade-off).
TARGET_DISCLOSURE_RECALL = 0.98
TARGET_IMMEDIATE_RECALL = 0.99
TARGET_CHECK_IN_RECALL = 0.99
#: Share of every hand-off message (disclosure or concern) that at least gets the safety signposting. Higher bars
#: cost too much on this corpus: at 0.999 a third of everyday questions would end with the safety numbers, and a
#: check-in at 0.995 would greet one question in eight (out-of-fold figures in docs/benchmarks.md).
TARGET_SIGNPOST_RECALL = 0.995
#: Hand-offs kept as disclosures: the share of out-of-fold disclosures that must not be labelled concern.
TARGET_DISCLOSURE_LABEL = 0.98
#: The danger-now route's bar (decide.py) is where, out of fold, danger-now messages it newly calls immediate
#: outweigh questions and chat it newly hands off, one danger-now message counting as this many needless hand-offs:
#: a DSL reads ten messages that needed nothing sooner than a child in danger this minute is missed. Lower costs
#: gave a bar that moved from fold to fold and caught few (docs/benchmarks.md has the curve).
DANGER_MISS_COST = 10.0


def recipe_fingerprint(config: ModelConfig | None = None, folds: int = FOLDS) -> str:
    """A hash of how a model is trained (features, regularisation, folds, seed, recall targets, model version): a
    model trained another way is stale, like one trained on other data."""
    recipe = {"config": asdict(config or ModelConfig()), "folds": folds, "seed": SEED, "version": MODEL_VERSION,
              "targets": [TARGET_DISCLOSURE_RECALL, TARGET_IMMEDIATE_RECALL, TARGET_CHECK_IN_RECALL,
                          TARGET_SIGNPOST_RECALL, TARGET_DISCLOSURE_LABEL, DANGER_MISS_COST]}
    return hashlib.sha256(repr(sorted(recipe.items())).encode()).hexdigest()[:16]


def model_dir(embedder_name: str) -> Path:
    """artifacts/safeguarding/screen/<embedder>: one model per embedding model, so a test's fake embedder never
    replaces the real one."""
    return artifacts.embedder_folder(settings.artifacts_dir() / "safeguarding" / "screen", embedder_name)


def screen_texts(examples: Sequence[Example]) -> list[str]:
    """The normalised text of each example: the model sees what the screen sees at run time."""
    return [normalising.normalise(example.text) for example in examples]


def embed(texts: Sequence[str], embedder: Embedder) -> np.ndarray:
    """Sentence embeddings of normalised texts, as float32 rows."""
    return np.asarray(embedder.embed(list(texts)), dtype=np.float32)


# ------------------------------------------------------------------------------------------------ folds


def grouped_folds(examples: Sequence[Example], folds: int = FOLDS, seed: int = SEED) -> list[np.ndarray]:
    """The test indices of each fold: whole families only, labels spread evenly (StratifiedGroupKFold)."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    labels = [f"{e.label}/{e.urgency}" for e in examples]
    groups = [e.family for e in examples]
    return [test for _, test in splitter.split(np.zeros(len(examples)), labels, groups)]


def out_of_fold(examples: Sequence[Example], texts: Sequence[str], dense: np.ndarray,
                config: ModelConfig, folds: Sequence[np.ndarray]) -> list[Prediction]:
    """Each example's prediction from a model that never saw its family."""
    predictions: list[Prediction | None] = [None] * len(examples)
    for test in folds:
        held_out = set(int(i) for i in test)
        train = [i for i in range(len(examples)) if i not in held_out]
        model = _fit(examples, texts, dense, config, train, with_category=False)
        for index, prediction in zip(test, model.predict([texts[i] for i in test],
                                                         [examples[i].role for i in test], dense[test])):
            predictions[int(index)] = prediction
    return [p for p in predictions if p is not None]


def _fit(examples: Sequence[Example], texts: Sequence[str], dense: np.ndarray, config: ModelConfig,
         rows: Sequence[int], meta: dict | None = None, with_category: bool = True) -> ScreenModel:
    chosen = [examples[i] for i in rows]
    return ScreenModel.fit([texts[i] for i in rows], [e.role for e in chosen], [e.label for e in chosen],
                           [e.urgency for e in chosen], [e.category for e in chosen], dense[list(rows)], config,
                           meta, with_category)


# ------------------------------------------------------------------------------------------------ thresholds


def choose_thresholds(examples: Sequence[Example], predictions: Sequence[Prediction]) -> Thresholds:
    """The bands that reach the targets on out-of-fold predictions (see the module docstring)."""
    hand_off = np.array([p.hand_off for p in predictions])
    disclosure = np.array([e.label == "disclosure" for e in examples])
    handed = np.array([e.hand_off for e in examples])
    immediate = np.array([e.urgency == "immediate" for e in examples])
    t_hand = _bar(hand_off[disclosure], TARGET_DISCLOSURE_RECALL)
    t_check = min(t_hand, _bar(hand_off[disclosure], TARGET_CHECK_IN_RECALL))
    t_sign = min(t_check, _bar(hand_off[handed], TARGET_SIGNPOST_RECALL))
    shares = np.array([p.labels.get("disclosure", 0.0) / p.hand_off if p.hand_off else 1.0 for p in predictions])
    t_share = _bar(shares[disclosure & (hand_off >= t_hand)], TARGET_DISCLOSURE_LABEL)
    p_immediate = np.array([p.urgencies.get("immediate", 0.0) for p in predictions])
    t_immediate = _bar(p_immediate[immediate], TARGET_IMMEDIATE_RECALL)
    bands = Thresholds(hand_off=t_hand, check_in=t_check, signpost=t_sign, disclosure_share=t_share,
                       immediate=t_immediate)
    # What the bands alone call immediate, and the questions and chat they leave alone, before the route is added.
    verdicts = [decide(p, bands) for p in predictions]
    called_immediate = np.array([v.urgency == "immediate" for v in verdicts])
    chat = np.array([e.label in ("question", "other") and not v.hand_off for e, v in zip(examples, verdicts)])
    t_danger = _danger_bar(np.array([danger(p) for p in predictions]), immediate & ~called_immediate, chat)
    return replace(bands, danger=t_danger)


def _danger_bar(scores: np.ndarray, missed: np.ndarray, chat: np.ndarray) -> float:
    """The bar on P(danger now) with the largest gain, out of fold: danger-now messages the bands miss that it
    catches, less the questions and chat it would newly hand off over DANGER_MISS_COST; 1.0 (never) when no bar
    gains. Only the missed messages' own scores can be best, rounded down to 3 decimals like `_bar`."""
    best, chosen = 0.0, 1.0
    for bar in sorted({float(np.floor(s * 1000) / 1000) for s in scores[missed]}):
        if bar <= 0.0:
            continue  # a bar of 0 would hand off everything
        gain = int((missed & (scores >= bar)).sum()) - int((chat & (scores >= bar)).sum()) / DANGER_MISS_COST
        if gain > best:
            best, chosen = gain, bar
    return chosen


def _bar(scores: np.ndarray, recall: float) -> float:
    """The highest threshold at which at least `recall` of these (positive) scores are at or above it, rounded
    down to 3 decimals; 0.5 when there is nothing to measure."""
    if not len(scores):
        return 0.5
    ordered = np.sort(scores)
    allowed_misses = int(np.floor((1.0 - recall) * len(ordered) + 1e-9))
    return float(np.floor(ordered[allowed_misses] * 1000) / 1000)


# ------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class TrainedScreen:
    """A trained model, the out-of-fold predictions its thresholds came from, and the examples they are for."""

    model: ScreenModel
    examples: tuple[Example, ...]
    out_of_fold: tuple[Prediction, ...]
    thresholds: Thresholds


def train(embedder: Embedder, corpus_dir: Path | str | None = None, config: ModelConfig | None = None,
          folds: int = FOLDS) -> TrainedScreen:
    """Cross-validate (grouped by family) to choose the thresholds, then fit on everything."""
    config = config or ModelConfig()
    examples = load_corpus(corpus_dir)
    texts = screen_texts(examples)
    dense = embed(texts, embedder)
    predictions = out_of_fold(examples, texts, dense, config, grouped_folds(examples, folds))
    thresholds = choose_thresholds(examples, predictions)
    meta = {"embedder": embedder.name, "corpus": corpus_fingerprint(corpus_dir),
            "recipe": recipe_fingerprint(config, folds), "examples": len(examples),
            "families": len({e.family for e in examples}), "folds": folds, "seed": SEED,
            "thresholds": asdict(thresholds)}
    model = _fit(examples, texts, dense, config, range(len(examples)), meta)
    return TrainedScreen(model, examples, tuple(predictions), thresholds)


def save_atomically(model: ScreenModel, directory: Path) -> None:
    """Write the model beside `directory` and swap it in (bot.core.artifacts.save_atomically)."""
    artifacts.save_atomically(model.save, directory)


def model_state(embedder_name: str, corpus_dir: Path | str | None = None) -> str:
    """`ready`, `missing`, `stale` (trained on other data or by older code) for this embedder's model, or
    `no corpus` when the data folder has no training corpus to build one from."""
    if not any(Path(corpus_dir or default_corpus_dir()).glob("*.yml")):
        return "no corpus"
    meta_path = model_dir(embedder_name) / "screen_model.json"
    if not meta_path.is_file():
        return "missing"
    try:
        model = ScreenModel.load(model_dir(embedder_name))
    except ModelNotReady:
        return "stale"
    fresh = (model.meta.get("embedder") == embedder_name
             and model.meta.get("corpus") == corpus_fingerprint(corpus_dir or default_corpus_dir())
             and model.meta.get("recipe") == recipe_fingerprint())
    return "ready" if fresh else "stale"


def build(embedder: Embedder, force: bool = False) -> str:
    """Train and save this embedder's model unless it is ready: `built`, `up to date`, or `no corpus`."""
    state = model_state(embedder.name)
    if state == "no corpus" or (state == "ready" and not force):
        return "up to date" if state == "ready" else state
    trained = train(embedder)
    save_atomically(trained.model, model_dir(embedder.name))
    return "built"


__all__ = ["FOLDS", "MODEL_VERSION", "SEED", "TrainedScreen", "build", "choose_thresholds", "embed",
           "grouped_folds", "model_dir", "model_state", "out_of_fold", "save_atomically", "screen_texts", "train"]
