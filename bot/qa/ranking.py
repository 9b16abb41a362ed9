"""The reranker: gradient-boosted trees trained to rank each question's candidates (LightGBM's LambdaRank).

A linear model over the candidates' features (the conditional logit this replaced) learns one weight per feature
for every question alike. Trees can learn where a feature matters (a heading that names the topic may count for more
in a broad question, "tell me about data security", than in a pointed one). Trained on the order within each
question (LambdaRank, the top ranks weighted most); on the grouped folds the rest of the answer model is chosen by:
first-ranked right 0.827 -> 0.842, and evidence@1 0.767 -> 0.780 with the same share of unanswerable questions
abstained (docs/benchmarks.md, 2026-12-08). A pointwise boosted model was worse than the linear one (2026-12-06).

A question's scores go through a softmax over its candidates, so the answer head reads how far the first candidate
stands out from the rest, which a LambdaRank score alone does not say (it is only meaningful within a question).
Saved as LightGBM's own text format inside the answer model's numpy archive, never pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

#: The trees' settings: fixed seed and one thread, so `make index` builds the same model on every machine. Chosen
#: on the grouped folds from a handful of sizes (200-600 trees, 7-31 leaves): all within 0.005 of each other.
PARAMS: dict[str, Any] = {
    "objective": "lambdarank", "n_estimators": 300, "learning_rate": 0.05, "num_leaves": 15,
    "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 1.0,
    "lambdarank_truncation_level": 5, "random_state": 0, "n_jobs": 1, "deterministic": True,
    "force_row_wise": True, "verbose": -1}


@dataclass(frozen=True)
class TreeRanker:
    """LambdaRank trees over candidate rows of `width` features; `text` is the model in LightGBM's text format."""

    text: str = field(repr=False)
    width: int = field(init=False)
    _booster: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        import lightgbm

        try:
            booster = lightgbm.Booster(model_str=self.text)
        except lightgbm.basic.LightGBMError as bad:
            raise ValueError(f"the ranking trees are not a LightGBM model: {bad}") from None
        object.__setattr__(self, "width", int(booster.num_feature()))
        object.__setattr__(self, "_booster", booster)

    @classmethod
    def fit(cls, questions: Sequence[tuple[np.ndarray, np.ndarray]]) -> TreeRanker:
        """Trees that rank each question's relevant candidates (the boolean array) above the rest; questions with
        no relevant candidate teach nothing about order and are left out."""
        import lightgbm

        chosen = [(x, y) for x, y in questions if len(y) and y.any()]
        if not chosen:
            raise ValueError("a reranker needs questions whose evidence is among their candidates to learn from")
        widths = {x.shape[1] for x, _ in chosen}
        if len(widths) != 1:
            raise ValueError(f"every candidate row must have the same features, got widths {sorted(widths)}")
        model = lightgbm.LGBMRanker(**PARAMS)
        model.fit(np.vstack([x for x, _ in chosen]), np.concatenate([y.astype(int) for _, y in chosen]),
                  group=[len(y) for _, y in chosen])
        return cls(model.booster_.model_to_string())

    def scores(self, features: np.ndarray) -> np.ndarray:
        """The trees' raw score of each candidate row (only their order within a question means anything)."""
        if not len(features):
            return np.zeros(0)
        if features.shape[1] != self.width:
            raise ValueError(f"the reranker reads {self.width} features per candidate, got {features.shape[1]}")
        # One thread: a question has a dozen rows (about 0.1 ms). LightGBM's predict takes its own lock, so the
        # action server's threads can share one model.
        return np.asarray(self._booster.predict(np.asarray(features, dtype=np.float64), num_threads=1),
                          dtype=np.float64)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """One question's candidates: a softmax over their scores (sums to 1)."""
        s = self.scores(features)
        if not len(s):
            return s
        e = np.exp(s - s.max())
        return e / e.sum()

    def to_array(self) -> np.ndarray:
        """The model text as bytes, for a numpy archive."""
        return np.frombuffer(self.text.encode("utf-8"), dtype=np.uint8)

    @classmethod
    def from_array(cls, array: np.ndarray) -> TreeRanker:
        return cls(bytes(np.asarray(array, dtype=np.uint8)).decode("utf-8"))


__all__ = ["PARAMS", "TreeRanker"]
