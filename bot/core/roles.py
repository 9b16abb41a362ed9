"""The one role vocabulary: who is asking, as passages are tagged, the screen reads and channels pass it.

Everyday words ("student", "TA", "carer") map onto five roles, plus `any` when the role is not known. Induction
has its own, finer job roles (bot/induction/roles.py: teacher, support staff, ...), which are all `staff` here.
"""

from __future__ import annotations

#: The roles passages are tagged with (bot/qa/ingest.py) and answers are given for.
PERSON_ROLES: tuple[str, ...] = ("pupil", "staff", "parent", "governor", "visitor")
#: The person roles plus `any`, the role of someone who has not said.
ROLES: tuple[str, ...] = (*PERSON_ROLES, "any")
#: Adults: what they write about "a pupil" or "a child" is about a child they know of, not themselves.
ADULT_ROLES: frozenset[str] = frozenset({"staff", "parent", "governor", "visitor"})

ROLE_ALIASES: dict[str, str] = {
    "pupil": "pupil", "student": "pupil", "child": "pupil", "learner": "pupil",
    "staff": "staff", "teacher": "staff", "ta": "staff", "teaching_assistant": "staff", "support_staff": "staff",
    "teaching assistant": "staff", "volunteer": "staff", "trust_staff": "staff",
    "parent": "parent", "carer": "parent", "guardian": "parent",
    "governor": "governor",
    "visitor": "visitor", "contractor": "visitor", "guest": "visitor",
    "any": "any", "": "any",
}


def canonical_role(role: str | None) -> str:
    """Map a role word ('student', 'TA', 'carer') to one of ROLES; None or '' is `any`; anything else is an exact
    error naming the known roles."""
    if role is not None and not isinstance(role, str):
        raise ValueError(f"role must be text, one of {', '.join(ROLES)}; got {role!r}")
    key = (role or "any").strip().lower()
    if key not in ROLE_ALIASES:
        raise ValueError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
    return ROLE_ALIASES[key]


def known_role(role: object) -> str | None:
    """The canonical role for a value a channel or client passed, or None when it is not a role word (metadata
    from outside is never an error: it is ignored)."""
    if not isinstance(role, str):
        return None
    try:
        return canonical_role(role)
    except ValueError:
        return None
