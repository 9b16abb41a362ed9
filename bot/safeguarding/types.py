"""The vocabulary shared by the screen, the hand-off reply and the concern store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

Label = Literal["disclosure", "concern", "question", "other"]
Urgency = Literal["immediate", "high", "standard", "none"]

LABELS: tuple[str, ...] = ("disclosure", "concern", "question", "other")

#: How soon the DSL must act: `immediate` is danger now (999 first), `high` ongoing abuse, grooming, sextortion,
#: `standard` everything else handed off. A `concern` (a less acute worry: a hacked account, a leaked password,
#: something unpleasant seen on a screen) has urgency `standard`, as in the evaluation files; questions and
#: everything else have `none` and are never handed off.
URGENCIES: tuple[str, ...] = ("immediate", "high", "standard", "none")

#: What the message is about, so the reply can signpost the right service and the DSL can triage.
CATEGORIES: tuple[str, ...] = (
    "self_harm",        # suicidal thoughts, self-harm
    "online_sexual",    # nudes shared or asked for, sextortion, sexual messages or contact online
    "grooming",         # an adult (or much older person) building a secret relationship, online or off
    "sexual_abuse",     # sexual abuse or assault in person
    "physical_abuse",   # being hit, hurt, injured by someone
    "emotional_abuse",  # threats, humiliation, control of the child
    "domestic_abuse",   # abuse between adults at home that the child lives with (a child victim in its own right)
    "neglect",          # not fed, left alone, no care
    "exploitation",     # criminal or sexual exploitation, county lines, being made to carry things
    "honour_based_abuse",  # FGM, forced marriage, so-called honour-based abuse (FGM: teachers must tell police)
    "bullying",         # bullying and cyberbullying, harassment, exclusion
    "radicalisation",   # extremist contact or material, being drawn into extremism
    "staff_conduct",    # an adult working with children behaving inappropriately towards pupils
    "danger",           # weapons, threats to hurt someone, a specific risk to a child now
    "online_safety",    # accounts, passwords, devices, content: the less acute online worries
    "other",
)

#: Topics where a question's answer also gently offers someone to talk to (all but the everyday online ones).
SENSITIVE_CATEGORIES: frozenset[str] = frozenset(CATEGORIES) - {"online_safety", "other"}

#: Categories where CEOP (the National Crime Agency's online child protection service) must be signposted.
CEOP_CATEGORIES: frozenset[str] = frozenset({"online_sexual", "grooming"})


@dataclass(frozen=True)
class ScreenResult:
    """What the safeguarding screen decided about one message.

    `signals` names the model bands and backstop phrases that fired (never the message text), so it is safe to
    log. `check_in` marks the middle band (some risk, not confident): the person is asked gently whether they are
    safe and whether to tell someone, instead of getting a policy answer. `signpost` marks any risk signal at all:
    that turn must not end without the safety signposting. `language` is the message's language (ISO 639-1).
    """

    label: Label
    urgency: Urgency
    category: str
    confidence: float
    signals: tuple[str, ...] = ()
    check_in: bool = False
    signpost: bool = False
    language: str = "en"

    @property
    def route_urgency(self) -> str:
        """The urgency the Rasa pipeline routes on: immediate / high / standard for disclosures, `concern` for
        concerns, `none` otherwise."""
        return "concern" if self.label == "concern" else self.urgency

    @property
    def hand_off(self) -> bool:
        """True when the message goes to the DSL: a disclosure or a concern."""
        return self.label in ("disclosure", "concern")

    def to_dict(self) -> dict[str, object]:
        """The verdict as plain JSON-able values (what the Rasa side carries in the parse data)."""
        return {"label": self.label, "urgency": self.urgency, "category": self.category,
                "confidence": self.confidence, "signals": list(self.signals), "check_in": self.check_in,
                "signpost": self.signpost, "language": self.language}

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> ScreenResult:
        """The verdict from `to_dict`'s form; unknown labels, urgencies or categories are exact errors."""
        signals = raw.get("signals") or ()
        return cls(str(raw.get("label")), str(raw.get("urgency")), str(raw.get("category")),  # type: ignore[arg-type]
                   float(raw.get("confidence") or 0.0),  # type: ignore[arg-type]
                   tuple(str(s) for s in signals) if isinstance(signals, (list, tuple)) else (),
                   bool(raw.get("check_in")), bool(raw.get("signpost")), str(raw.get("language") or "en"))

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown label {self.label!r}; known: {', '.join(LABELS)}")
        if self.urgency not in URGENCIES:
            raise ValueError(f"unknown urgency {self.urgency!r}; known: {', '.join(URGENCIES)}")
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}; known: {', '.join(CATEGORIES)}")


#: The verdict when the screen itself failed: nothing is known, so the person still gets the safety numbers (and an
#: over-long message is let through rather than refused).
SCREEN_FAILED = ScreenResult("other", "none", "other", 0.0, ("screen_failed",), signpost=True)
