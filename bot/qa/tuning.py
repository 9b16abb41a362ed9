"""Question sets: the development file's format (EvalItem), and the answer core's tuning questions
(data/eval/tuning/*.jsonl), that format plus `section`.

Written school by school from the policies alone; the answer model is trained and cross-validated on them, and the
safeguarding screen learns from them what everyday policy questions look like (each one labelled by the screen
corpus's rubric in data/safeguarding/training/policy_questions.jsonl). Light on imports: both sides read it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from bot import settings


@dataclass(frozen=True)
class EvalItem:
    """One question in the development file's format: who asks what at which school, and the verbatim evidence
    (none when the policy does not answer)."""

    id: str
    school: str
    role: str
    question: str
    answerable: bool
    evidence: tuple[str, ...]
    kind: str = ""


def load_items(path: Path) -> list[EvalItem]:
    """The questions of one JSONL file in the development format (`answerable` defaults to true)."""
    items = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                items.append(EvalItem(raw["id"], raw["school"], raw.get("role") or "any", raw["question"],
                                      bool(raw.get("answerable", True)), tuple(raw.get("evidence") or ()),
                                      raw.get("kind", "")))
            except (ValueError, KeyError) as problem:
                raise ValueError(f"{path}:{number}: not a valid question line ({problem})") from None
    return items


@dataclass(frozen=True)
class TuningQuestion(EvalItem):
    """A tuning question: a development-format question plus the policy section it is about."""

    section: str = "none"
    #: Set when one question is asked at several schools (the cross-school set): its copies stay together.
    family: str = ""
    #: The question set it came from: its file's name without the school ("topic" for topic-ouston.jsonl; "first"
    #: for ouston.jsonl), so figures can be read per set, e.g. the broad topic-level questions apart.
    source: str = ""

    @property
    def group(self) -> str:
        """The cross-validation group: the question's family when it has one (one wording asked at every school
        must not be on both sides), else the school's section (questions about one section stay together)."""
        return f"family|{self.family}" if self.family else f"{self.school}|{self.section or 'none'}"


def default_corpus_dir() -> Path:
    return settings.data_dir() / "eval" / "tuning"


def load_questions(directory: Path | str | None = None) -> list[TuningQuestion]:
    """Every question of every *.jsonl file in the folder; a bad line is an exact error naming file and line."""
    folder = Path(directory or default_corpus_dir())
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise ValueError(f"no tuning questions (*.jsonl) in {folder}")
    questions: list[TuningQuestion] = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                evidence = tuple(raw.get("evidence") or ())
                question = TuningQuestion(str(raw["id"]), str(raw["school"]), str(raw.get("role") or "any"),
                                          str(raw["question"]), bool(raw["answerable"]), evidence,
                                          str(raw.get("kind", "")), str(raw.get("section") or "none"),
                                          str(raw.get("family") or ""), _source(path.stem, str(raw["school"])))
            except (ValueError, KeyError, TypeError) as problem:
                raise ValueError(f"{path}:{number}: not a valid tuning question ({problem})") from None
            if question.answerable != bool(evidence):
                raise ValueError(f"{path}:{number}: an answerable question needs evidence spans, and an "
                                 f"unanswerable one none")
            questions.append(question)
    return questions


def _source(stem: str, school: str) -> str:
    """The question set of a file named `<set>-<school>` ("first" for a file named after the school alone)."""
    return "first" if stem == school else stem.removesuffix(f"-{school}")


def corpus_fingerprint(directory: Path | str | None = None) -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(directory or default_corpus_dir()).glob("*.jsonl")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


__all__ = ["EvalItem", "TuningQuestion", "corpus_fingerprint", "default_corpus_dir", "load_items", "load_questions"]
