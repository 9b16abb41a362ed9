"""The screen's learned model: logistic regression heads for label, urgency and category over one feature space.

Features of a (normalised) message: sublinear tf-idf of character n-grams (tolerant of typos, slang and leftover
obfuscation) and of words, the sentence embedding (what it means, whatever the words), and who wrote it (a staff
member's "a pupil told me ..." is a report about a child). Three heads share them:
  label     disclosure / concern / question / other, trained on everything;
  urgency   immediate / high / standard, trained on disclosures only;
  category  the KCSIE category, trained on everything (a question's category is its topic).
The decision thresholds are not here: they are chosen by grouped cross-validation (training.py) and stored beside
the weights. Saved as JSON plus a numpy archive, never pickled.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import sparse

from bot.core import tfidf
from bot.core.artifacts import read_model_files
from bot.core.roles import PERSON_ROLES
from bot.safeguarding.types import CATEGORIES, LABELS

#: Bump when features or the file layout change, so a saved model is rebuilt rather than misread.
MODEL_VERSION = 1
ARRAYS_FILE = "screen_model.npz"
META_FILE = "screen_model.json"
DISCLOSURE_URGENCIES: tuple[str, ...] = ("immediate", "high", "standard")


@dataclass(frozen=True)
class ModelConfig:
    """Feature and regularisation settings (chosen by grouped cross-validation; docs/benchmarks.md)."""

    char_ngrams: tuple[int, int] = (2, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    min_df: int = 2
    #: Scale of the dense sentence embedding and of the role one-hot against the unit-length tf-idf blocks.
    dense_weight: float = 0.5
    role_weight: float = 0.5
    #: Inverse regularisation strength of each head.
    c_label: float = 8.0
    c_urgency: float = 4.0
    c_category: float = 8.0
    #: Share of training examples shown without their role, so a message from someone who never said who they
    #: are (role `any`) is not out of distribution.
    role_dropout: float = 0.25

    def __post_init__(self) -> None:
        for name in ("dense_weight", "role_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)!r}")
        for name in ("c_label", "c_urgency", "c_category"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0.0 <= self.role_dropout < 1.0:
            raise ValueError(f"role_dropout must be in [0, 1), got {self.role_dropout!r}")
        for name in ("char_ngrams", "word_ngrams"):
            low, high = getattr(self, name)
            if not 1 <= low <= high:
                raise ValueError(f"{name} must be (low, high) with 1 <= low <= high, got {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ModelConfig:
        values = dict(raw)
        for name in ("char_ngrams", "word_ngrams"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


@dataclass(frozen=True)
class Prediction:
    """The three heads' probabilities for one message."""

    labels: Mapping[str, float]
    urgencies: Mapping[str, float]
    categories: Mapping[str, float]

    @property
    def hand_off(self) -> float:
        """Probability that the message should reach the DSL: disclosure or concern."""
        return self.labels.get("disclosure", 0.0) + self.labels.get("concern", 0.0)


# ------------------------------------------------------------------------------------------------ a head


@dataclass(frozen=True)
class Head:
    """One multinomial logistic regression: classes, a weight row per class and intercepts."""

    classes: tuple[str, ...]
    coef: np.ndarray = field(repr=False)
    intercept: np.ndarray = field(repr=False)

    @classmethod
    def fit(cls, features: sparse.csr_matrix, targets: Sequence[str], c: float,
            sample_weight: np.ndarray | None = None) -> Head:
        from sklearn.linear_model import LogisticRegression

        classes = sorted(set(targets))
        if len(classes) == 1:
            # Nothing to learn: the one class, always.
            return cls((classes[0],), np.zeros((1, features.shape[1]), np.float32), np.zeros(1, np.float32))
        model = LogisticRegression(C=c, max_iter=3000)
        with warnings.catch_warnings():
            # A few thousand examples can stop lbfgs a hair short of its tolerance; the fit is still good.
            warnings.simplefilter("ignore")
            model.fit(features, list(targets), sample_weight=sample_weight)
        coef, intercept = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
        if len(classes) == 2:
            # scikit-learn keeps one row for two classes (the second's score); make it a row per class.
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        return cls(tuple(str(c) for c in model.classes_), coef, intercept)

    def probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        """Softmax over the classes, a row per message (columns in `classes` order)."""
        scores = np.asarray(features @ self.coef.T + self.intercept, dtype=np.float64)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------------------------ features


class Featurizer:
    """Character and word tf-idf, the dense embedding and the role, as one sparse row per message."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.char, self.word = tfidf.new_vectorizers(config.char_ngrams, config.word_ngrams, config.min_df)
        self.dense_dim = 0

    def fit(self, texts: Sequence[str], dense: np.ndarray) -> Featurizer:
        self.char.fit(texts)
        self.word.fit(texts)
        self.dense_dim = int(dense.shape[1])
        return self

    def transform(self, texts: Sequence[str], roles: Sequence[str | None], dense: np.ndarray) -> sparse.csr_matrix:
        if dense.shape != (len(texts), self.dense_dim):
            raise ValueError(f"expected {len(texts)} embeddings of size {self.dense_dim}, got {dense.shape}")
        role_rows = np.zeros((len(texts), len(PERSON_ROLES)), dtype=np.float32)
        for row, role in enumerate(roles):
            if role in PERSON_ROLES:
                role_rows[row, PERSON_ROLES.index(role)] = self.config.role_weight
        return sparse.hstack([self.char.transform(texts), self.word.transform(texts),
                              sparse.csr_matrix(dense.astype(np.float32) * self.config.dense_weight),
                              sparse.csr_matrix(role_rows)], format="csr")


# ------------------------------------------------------------------------------------------------ the model


class ScreenModel:
    """Featurizer plus the three heads; `meta` carries what it was trained on and the chosen thresholds."""

    def __init__(self, featurizer: Featurizer, label: Head, urgency: Head, category: Head,
                 meta: Mapping[str, Any] | None = None) -> None:
        self.featurizer = featurizer
        self.label, self.urgency, self.category = label, urgency, category
        self.meta: dict[str, Any] = dict(meta or {})

    @classmethod
    def fit(cls, texts: Sequence[str], roles: Sequence[str], labels: Sequence[str], urgencies: Sequence[str],
            categories: Sequence[str], dense: np.ndarray, config: ModelConfig | None = None,
            meta: Mapping[str, Any] | None = None, with_category: bool = True) -> ScreenModel:
        """Train on normalised texts with their roles, labels and embeddings (one row each). Without
        `with_category` the category head is left out (it always says "other"): choosing thresholds does not need
        it, and it is the slowest head to fit."""
        config = config or ModelConfig()
        if not len(texts) == len(roles) == len(labels) == len(urgencies) == len(categories) == len(dense):
            raise ValueError("texts, roles, labels, urgencies, categories and embeddings differ in length")
        if len(set(labels)) < 2:
            raise ValueError("the screen needs examples of at least two labels to learn from")
        unknown = sorted(set(labels) - set(LABELS)) + sorted(set(categories) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown labels or categories in the training data: {', '.join(unknown)}")
        featurizer = Featurizer(config).fit(texts, dense)
        # Deterministic role dropout: every k-th example (by position) is seen without its role.
        step = int(round(1 / config.role_dropout)) if config.role_dropout else 0
        shown_roles = [None if step and i % step == step - 1 else r for i, r in enumerate(roles)]
        features = featurizer.transform(texts, shown_roles, dense)
        disclosed = [i for i, lab in enumerate(labels) if lab == "disclosure"]
        if not disclosed:
            raise ValueError("the screen needs disclosure examples to learn urgency from")
        return cls(featurizer,
                   Head.fit(features, labels, config.c_label),
                   Head.fit(features[disclosed], [urgencies[i] for i in disclosed], config.c_urgency),
                   Head.fit(features, categories, config.c_category) if with_category
                   else Head.fit(features[:1], ["other"], config.c_category),
                   meta)

    def predict(self, texts: Sequence[str], roles: Sequence[str | None], dense: np.ndarray) -> list[Prediction]:
        """The heads' probabilities for each normalised text."""
        if not texts:
            return []
        features = self.featurizer.transform(texts, roles, dense)
        heads = [(head.classes, head.probabilities(features)) for head in (self.label, self.urgency, self.category)]
        return [Prediction(*({name: float(p) for name, p in zip(classes, rows[i])} for classes, rows in heads))
                for i in range(len(texts))]

    # -- storage ------------------------------------------------------------------------------------------

    def save(self, directory: Path | str) -> None:
        """Write the model into `directory` (created if needed): a JSON file and a numpy archive."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "char_idf": self.featurizer.char.idf_.astype(np.float32),
            "word_idf": self.featurizer.word.idf_.astype(np.float32)}
        for name, head in self._heads().items():
            arrays[f"{name}_coef"], arrays[f"{name}_intercept"] = head.coef, head.intercept
        np.savez_compressed(folder / ARRAYS_FILE, **arrays)
        meta = {"version": MODEL_VERSION, "config": asdict(self.featurizer.config),
                "dense_dim": self.featurizer.dense_dim,
                "classes": {name: list(head.classes) for name, head in self._heads().items()},
                "char_vocabulary": tfidf.vocabulary(self.featurizer.char),
                "word_vocabulary": tfidf.vocabulary(self.featurizer.word), "meta": self.meta}
        (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path | str) -> ScreenModel:
        """Read a saved model; a missing, partial or older one is an exact error naming the folder."""
        folder = Path(directory)
        raw, arrays = read_model_files(folder, META_FILE, ARRAYS_FILE, "safeguarding screen model", ModelNotReady)
        if raw.get("version") != MODEL_VERSION:
            raise ModelNotReady(f"the safeguarding screen model in {folder} is version {raw.get('version')}, "
                                f"this code reads {MODEL_VERSION}; run `make index` to rebuild it")
        featurizer = Featurizer(ModelConfig.from_dict(raw["config"]))
        featurizer.char = tfidf.restored(featurizer.char, raw["char_vocabulary"], arrays["char_idf"])
        featurizer.word = tfidf.restored(featurizer.word, raw["word_vocabulary"], arrays["word_idf"])
        featurizer.dense_dim = int(raw["dense_dim"])
        heads = {name: Head(tuple(raw["classes"][name]), arrays[f"{name}_coef"], arrays[f"{name}_intercept"])
                 for name in ("label", "urgency", "category")}
        return cls(featurizer, heads["label"], heads["urgency"], heads["category"], raw.get("meta") or {})

    def _heads(self) -> dict[str, Head]:
        return {"label": self.label, "urgency": self.urgency, "category": self.category}


class ModelNotReady(ValueError):
    """The trained screen model is missing, unreadable or from another version of the code."""
