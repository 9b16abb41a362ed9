"""The screen's training corpus (data/safeguarding/training/*.yml): families of messages, one situation each.

A family's wordings share one label, urgency and category; the family id is the group for cross-validation, so no
situation is ever on both sides of a fold. The format is in data/safeguarding/training/README.md.

The answer core's tuning questions join them: everyday policy questions in the voices of pupils, parents and staff
are what the screen meets most in use, and without them "is my son allowed his phone at school?" read as a
disclosure. `policy_questions.jsonl` labels each one by the same rubric (most are plain questions; a few tell of
a specific child and are disclosures or concerns); their group is the school's policy section.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from bot import settings
from bot.core.roles import PERSON_ROLES
from bot.core.yamlfile import read_yaml
from bot.qa import tuning
from bot.safeguarding.types import CATEGORIES, LABELS, URGENCIES

#: Labels for the answer core's tuning questions, one JSON line per question id, in the corpus folder.
POLICY_QUESTIONS_FILE = "policy_questions.jsonl"
#: What a family may hold: fewer wordings than this is not a family, more would weigh one situation too much.
MIN_WORDINGS, MAX_WORDINGS = 5, 12


def default_corpus_dir() -> Path:
    """data/safeguarding/training (under POLICYBOT_DATA_DIR when that is set)."""
    return settings.data_dir() / "safeguarding" / "training"


@dataclass(frozen=True)
class Example:
    """One wording: its text, who wrote it, its labels and the family (situation) it belongs to."""

    text: str
    role: str
    label: str
    urgency: str
    category: str
    family: str

    @property
    def hand_off(self) -> bool:
        """True for a disclosure or a concern: it should reach the DSL."""
        return self.label in ("disclosure", "concern")


def expected_urgencies(label: str) -> tuple[str, ...]:
    """The urgencies a label can have: a disclosure is immediate/high/standard, a concern standard, else none."""
    return {"disclosure": ("immediate", "high", "standard"), "concern": ("standard",)}.get(label, ("none",))


def load_corpus(directory: Path | str | None = None,
                tuning_dir: Path | str | None = None) -> tuple[Example, ...]:
    """Every example in every *.yml file of the corpus folder, checked (a mistake names the file and family), then
    the labelled tuning questions when the folder has POLICY_QUESTIONS_FILE."""
    folder = Path(directory) if directory else default_corpus_dir()
    files = sorted(folder.glob("*.yml"))
    if not files:
        raise ValueError(f"{folder}: no training files (*.yml)")
    examples: list[Example] = []
    seen: dict[str, Path] = {}
    for path in files:
        for family in _families(path):
            family_id = family["id"]
            if family_id in seen:
                raise ValueError(f"{path}: family {family_id!r} is also in {seen[family_id].name}")
            seen[family_id] = path
            examples.extend(_examples(path, family))
    if (folder / POLICY_QUESTIONS_FILE).exists():
        examples.extend(policy_questions(folder / POLICY_QUESTIONS_FILE, tuning_dir))
    return tuple(examples)


def policy_questions(labels_path: Path, tuning_dir: Path | str | None = None) -> list[Example]:
    """The tuning questions as screen examples, with the labels `labels_path` gives them: every question labelled
    exactly once (a new tuning question must be labelled before the screen trains)."""
    questions = {q.id: q for q in tuning.load_questions(tuning_dir)}
    labelled: dict[str, Example] = {}
    for number, line in enumerate(labels_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{labels_path}:{number}"
        try:
            raw = json.loads(line)
            key, label, urgency, category = (str(raw[k]) for k in ("id", "label", "urgency", "category"))
        except (ValueError, KeyError, TypeError) as problem:
            raise ValueError(f"{where}: expected {{\"id\", \"label\", \"urgency\", \"category\"}} ({problem})") from None
        if key not in questions:
            raise ValueError(f"{where}: {key!r} is not a tuning question")
        if key in labelled:
            raise ValueError(f"{where}: {key!r} is labelled twice")
        _check_labels(where, label, urgency, category)
        question = questions[key]
        labelled[key] = Example(question.question, question.role, label, urgency, category, f"pq:{question.group}")
    missing = [key for key in questions if key not in labelled]
    if missing:
        raise ValueError(f"{labels_path}: {len(missing)} tuning question(s) have no label, first {missing[0]!r}")
    return [labelled[key] for key in questions]


def corpus_fingerprint(directory: Path | str | None = None, tuning_dir: Path | str | None = None) -> str:
    """A hash of the corpus files' names and contents (and the tuning questions when they are part of it): a model
    trained on other data is stale."""
    folder = Path(directory) if directory else default_corpus_dir()
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.yml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    if (folder / POLICY_QUESTIONS_FILE).exists():
        digest.update((folder / POLICY_QUESTIONS_FILE).read_bytes())
        digest.update(tuning.corpus_fingerprint(tuning_dir).encode())
    return digest.hexdigest()[:16]


def families_of(examples: Iterable[Example]) -> list[str]:
    """The family of each example, in order (the groups for grouped cross-validation)."""
    return [example.family for example in examples]


def _families(path: Path) -> Sequence[dict[str, Any]]:
    raw = read_yaml(path, "training file")
    if not isinstance(raw, dict) or not isinstance(raw.get("families"), list) or not raw["families"]:
        raise ValueError(f"{path}: expected a mapping with a non-empty list `families`")
    families = raw["families"]
    for number, family in enumerate(families, 1):
        if not isinstance(family, dict) or not isinstance(family.get("id"), str) or not family["id"].strip():
            raise ValueError(f"{path}: family {number} has no id")
    return families


def _check_labels(where: str, label: str, urgency: str, category: str) -> None:
    if label not in LABELS:
        raise ValueError(f"{where}: unknown label {label!r}; known: {', '.join(LABELS)}")
    if urgency not in URGENCIES:
        raise ValueError(f"{where}: unknown urgency {urgency!r}; known: {', '.join(URGENCIES)}")
    if urgency not in expected_urgencies(label):
        raise ValueError(f"{where}: a {label} has urgency {' or '.join(expected_urgencies(label))}, not {urgency!r}")
    if category not in CATEGORIES:
        raise ValueError(f"{where}: unknown category {category!r}; known: {', '.join(CATEGORIES)}")


def _examples(path: Path, family: dict[str, Any]) -> list[Example]:
    where = f"{path}: family {family['id']!r}"
    label, urgency, category = (str(family.get(key, "")) for key in ("label", "urgency", "category"))
    _check_labels(where, label, urgency, category)
    messages = family.get("messages")
    if not isinstance(messages, list) or not MIN_WORDINGS <= len(messages) <= MAX_WORDINGS:
        raise ValueError(f"{where}: needs {MIN_WORDINGS} to {MAX_WORDINGS} messages, "
                         f"has {len(messages) if isinstance(messages, list) else 0}")
    examples = []
    for number, message in enumerate(messages, 1):
        if (not isinstance(message, list) or len(message) != 2 or message[0] not in PERSON_ROLES
                or not isinstance(message[1], str) or not message[1].strip()):
            raise ValueError(f"{where}: message {number} must be [role, text] with role one of "
                             f"{', '.join(PERSON_ROLES)} and some text")
        examples.append(Example(message[1].strip(), message[0], label, urgency, category, family["id"]))
    return examples
