"""The vocabulary shared by the screen, the hand-off reply and the concern store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    "emotional_abuse",  # threats, control, domestic abuse at home
    "neglect",          # not fed, left alone, no care
    "exploitation",     # criminal or sexual exploitation, county lines, being made to carry things
    "bullying",         # bullying and cyberbullying, harassment, exclusion
    "radicalisation",   # extremist contact or material, being drawn into extremism
    "staff_conduct",    # an adult working with children behaving inappropriately towards pupils
    "danger",           # weapons, threats to hurt someone, a specific risk to a child now
    "online_safety",    # accounts, passwords, devices, content: the less acute online worries
    "other",
)

#: Categories where CEOP (the National Crime Agency's online child protection service) must be signposted.
CEOP_CATEGORIES: frozenset[str] = frozenset({"online_sexual", "grooming"})


@dataclass(frozen=True)
class ScreenResult:
    """What the safeguarding screen decided about one message.

    `signals` names the rules and exemplar groups that fired (never the message text), so it is safe to log.
    """

    label: Label
    urgency: Urgency
    category: str
    confidence: float
    signals: tuple[str, ...] = ()

    @property
    def route_urgency(self) -> str:
        """The urgency the Rasa pipeline routes on: immediate / high / standard for disclosures, `concern` for
        concerns, `none` otherwise."""
        return "concern" if self.label == "concern" else self.urgency

    @property
    def hand_off(self) -> bool:
        """True when the message goes to the DSL: a disclosure or a concern."""
        return self.label in ("disclosure", "concern")

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown label {self.label!r}; known: {', '.join(LABELS)}")
        if self.urgency not in URGENCIES:
            raise ValueError(f"unknown urgency {self.urgency!r}; known: {', '.join(URGENCIES)}")
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}; known: {', '.join(CATEGORIES)}")
