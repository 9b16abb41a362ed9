"""Induction roles: the five canonical roles, their labels and groups, and everyday words mapped onto them."""

from __future__ import annotations

import re

#: The roles an induction plan is written for, in the order the role question offers them.
ROLES: tuple[str, ...] = ("teacher", "support_staff", "volunteer", "governor", "contractor")

ROLE_LABELS: dict[str, str] = {
    "teacher": "Teacher",
    "support_staff": "Teaching assistant or support staff",
    "volunteer": "Volunteer",
    "governor": "Governor",
    "contractor": "Contractor or visitor",
}

#: Names a step's `roles:` list may use for several roles at once.
ROLE_GROUPS: dict[str, tuple[str, ...]] = {
    "staff": ("teacher", "support_staff"),
    "everyone": ROLES,
}

# Everyday words for each role. A phrase matches as whole words, with an optional plural "s".
_ALIASES: dict[str, tuple[str, ...]] = {
    "teacher": (
        "teacher", "supply teacher", "supply", "agency teacher", "cover teacher", "class teacher",
        "trainee teacher", "student teacher", "teaching staff", "nqt", "ect", "early career teacher", "pgce",
        "head teacher", "headteacher", "deputy head", "assistant head", "head of year", "head of department",
        "head of faculty", "head of house", "subject leader", "senco", "sendco", "principal", "vice principal",
        "assistant principal", "form tutor", "tutor", "lecturer",
    ),
    "support_staff": (
        "ta", "teaching assistant", "hlta", "higher level teaching assistant", "lsa", "learning support assistant",
        "learning support", "sen assistant", "send assistant", "support staff", "support worker",
        "cover supervisor", "nursery nurse", "early years practitioner", "early years educator", "admin",
        "administrator", "administration", "office", "office manager", "receptionist", "business manager",
        "bursar", "finance officer", "data manager", "exams officer", "it technician", "ict technician",
        "technician", "network manager", "it support", "it manager", "site manager", "caretaker",
        "premises manager", "cleaner", "lunchtime supervisor", "midday supervisor", "midday meals supervisor",
        "mdsa", "dinner lady", "lunchtime assistant", "cook", "kitchen", "catering", "librarian", "pastoral",
        "family liaison officer", "flo", "learning mentor", "behaviour mentor", "mentor", "attendance officer",
        "apprentice",
    ),
    "volunteer": (
        "volunteer", "volunteering", "parent helper", "parent volunteer", "helper", "reading volunteer",
        "work experience", "work experience student",
    ),
    "governor": (
        "governor", "trustee", "chair of governors", "vice chair of governors", "parent governor",
        "staff governor", "co opted governor", "foundation governor", "local governor", "governing body",
        "member of the governing body",
    ),
    "contractor": (
        "contractor", "visitor", "visiting", "supplier", "builder", "plumber", "electrician", "engineer",
        "tradesperson", "workman", "external", "consultant", "coach", "sports coach", "visiting speaker",
        "speaker", "peripatetic", "photographer", "inspector", "maintenance", "it contractor", "external it",
        "external it technician", "external it support",
    ),
}

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (role, re.compile(rf"(?<![a-z0-9]){re.escape(phrase)}(?:s|es)?(?![a-z0-9])"))
    for role, phrases in _ALIASES.items() for phrase in phrases
)


def _plain(text: str) -> str:
    """Lower case, apostrophes dropped, any other punctuation (hyphens, underscores) read as a space."""
    text = text.lower().replace("’", "").replace("'", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def parse_role(text: str | None) -> str | None:
    """The canonical role that free words name ('a new TA' -> 'support_staff'), or None when they name none
    or several ('teacher and governor'), so the caller asks with buttons instead of guessing."""
    if not isinstance(text, str) or not text.strip():
        return None
    plain = _plain(text)
    spans = [(m.start(), m.end(), role) for role, pattern in _PATTERNS for m in pattern.finditer(plain)]
    # A phrase inside a longer one ('teacher' in 'supply teacher', 'it technician' in 'external it technician')
    # is part of it, not a second role.
    kept = [s for s in spans if not any(o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0])
                                        for o in spans)]
    roles = {role for _, _, role in kept}
    return roles.pop() if len(roles) == 1 else None


def role_label(role: str) -> str:
    """'Teaching assistant or support staff' for 'support_staff'; unknown roles raise the usual exact error."""
    check_role(role)
    return ROLE_LABELS[role]


def check_role(role: object) -> str:
    """`role` itself if it is a canonical role, else a ValueError naming the known ones."""
    if role not in ROLES:
        raise ValueError(f"unknown induction role {role!r}; known: {', '.join(ROLES)}")
    return str(role)
