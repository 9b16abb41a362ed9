"""From the model's probabilities (and the backstop) to a verdict, with thresholds chosen by grouped cross-validation.

Bands on the probability that a message should reach the DSL (disclosure + concern):
  >= hand_off   handed to the DSL: a disclosure when the disclosure share is high enough, else a concern;
  >= check_in   the gentle check-in: are you safe, shall I tell someone (never a bare policy answer);
  >= signpost   answered as usual, but the turn carries the safety signposting;
  below         nothing.
A second way in, for danger now: the probability that the message is a danger-now disclosure, P(disclosure) x
P(immediate | disclosure), at or above its own bar hands it off as immediate even below the hand-off band (a pupil
sitting on a ledge may write nothing the hand-off band is sure of, while both heads lean the same way).
A backstop phrase (danger now) hands the message off as immediate whatever the bands say.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

from bot.safeguarding.screen.backstop import BackstopEntry
from bot.safeguarding.screen.model import DISCLOSURE_URGENCIES, Prediction
from bot.safeguarding.types import CATEGORIES, ScreenResult


@dataclass(frozen=True)
class Thresholds:
    """Where the bands start (see the module docstring); chosen in training.py, stored with the model."""

    hand_off: float = 0.5
    check_in: float = 0.3
    signpost: float = 0.15
    #: P(disclosure) / P(hand-off) at or above which a hand-off is a disclosure rather than a concern.
    disclosure_share: float = 0.5
    #: P(immediate) (urgency head) at or above which a disclosure is immediate.
    immediate: float = 0.5
    #: P(disclosure) x P(immediate) at or above which a message is handed off as immediate, whatever the bands
    #: say (1.0: never; models saved before this route have no such bar).
    danger: float = 1.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"threshold {name} must be between 0 and 1, got {value!r}")
        if not self.signpost <= self.check_in <= self.hand_off:
            raise ValueError(f"thresholds must satisfy signpost <= check_in <= hand_off, got {self.signpost}, "
                             f"{self.check_in}, {self.hand_off}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, float]) -> Thresholds:
        return cls(**{k: float(v) for k, v in raw.items()})


def decide(prediction: Prediction, thresholds: Thresholds,
           backstop: Sequence[BackstopEntry] = ()) -> ScreenResult:
    """The verdict for one message (or one chunk of a long one)."""
    p_hand_off = prediction.hand_off
    signals = [f"model:hand_off={p_hand_off:.2f}", *(f"backstop:{entry.id}" for entry in backstop)]
    p_danger = danger(prediction)
    danger_now = bool(backstop) or p_danger >= thresholds.danger
    if danger_now and not backstop:
        signals.append(f"model:danger={p_danger:.2f}")
    if danger_now or p_hand_off >= thresholds.hand_off:
        disclosure_share = prediction.labels.get("disclosure", 0.0) / p_hand_off if p_hand_off else 1.0
        if danger_now or disclosure_share >= thresholds.disclosure_share:
            urgency = "immediate" if danger_now else _urgency(prediction, thresholds)
            category = backstop[0].category if backstop and _top(prediction.categories) in ("other", None) \
                else _top(prediction.categories, exclude=("other",)) or "other"
            return ScreenResult("disclosure", urgency, category,  # type: ignore[arg-type]
                                round(max(p_hand_off, 0.5), 3), tuple(signals), signpost=True)
        category = _top(prediction.categories, exclude=("other",)) or "online_safety"
        return ScreenResult("concern", "standard", category, round(p_hand_off, 3), tuple(signals), signpost=True)
    label = "question" if prediction.labels.get("question", 0.0) >= prediction.labels.get("other", 0.0) else "other"
    category = _top(prediction.categories) or "other"
    check_in = p_hand_off >= thresholds.check_in
    signpost = p_hand_off >= thresholds.signpost
    if check_in:
        # If the person says "yes, tell someone", the record gets the urgency the model gives it as a disclosure.
        signals += ["band:check_in", f"if_told:{_urgency(prediction, thresholds)}"]
    elif signpost:
        signals.append("band:signpost")
    return ScreenResult(label, "none", category, round(prediction.labels.get(label, 0.0), 3),  # type: ignore[arg-type]
                        tuple(signals), check_in=check_in, signpost=signpost)


def danger(prediction: Prediction) -> float:
    """The model's probability that the message is a danger-now disclosure: P(disclosure) x P(immediate)."""
    return prediction.labels.get("disclosure", 0.0) * prediction.urgencies.get("immediate", 0.0)


def _urgency(prediction: Prediction, thresholds: Thresholds) -> str:
    """Immediate at a deliberately low bar (missing danger now costs most), else the likelier of high/standard."""
    urgencies = prediction.urgencies
    if urgencies.get("immediate", 0.0) >= thresholds.immediate:
        return "immediate"
    rest = [u for u in DISCLOSURE_URGENCIES if u != "immediate" and u in urgencies]
    return max(rest, key=lambda u: urgencies[u]) if rest else "high"


def _top(scores: Mapping[str, float], exclude: Sequence[str] = ()) -> str | None:
    """The most probable category not excluded (a disclosure is rarely 'other' if anything else is likely)."""
    ranked = sorted(((p, c) for c, p in scores.items() if c not in exclude and c in CATEGORIES), reverse=True)
    return ranked[0][1] if ranked else None
