"""The backstop: a handful of high-precision phrases that mean danger now (data/safeguarding/backstop.yml).

The learned model decides label, urgency and category; the backstop only guarantees that a message with one of
these phrases is handed off as immediate whatever the model says. It never lowers anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from bot import settings
from bot.core.yamlfile import read_yaml
from bot.safeguarding.types import CATEGORIES

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def default_backstop_file() -> Path:
    """data/safeguarding/backstop.yml (under POLICYBOT_DATA_DIR when that is set)."""
    return settings.data_dir() / "safeguarding" / "backstop.yml"


@dataclass(frozen=True)
class BackstopEntry:
    """One danger-now phrase: all of `required` match and none of `excluded`."""

    id: str
    category: str
    required: tuple[re.Pattern[str], ...]
    excluded: tuple[re.Pattern[str], ...] = ()

    def fires(self, normal: str) -> bool:
        return (all(p.search(normal) for p in self.required)
                and not any(p.search(normal) for p in self.excluded))


@dataclass(frozen=True)
class Backstop:
    """The parsed backstop file."""

    entries: tuple[BackstopEntry, ...]

    @classmethod
    def load(cls, path: Path | str | None = None) -> Backstop:
        """Read and compile the file; every mistake names the file and entry."""
        path = Path(path) if path else default_backstop_file()
        raw = read_yaml(path, "backstop file")
        if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list):
            raise ValueError(f"{path}: expected a mapping with a list `entries`")
        definitions = {str(k): str(v) for k, v in (raw.get("definitions") or {}).items()}
        entries, seen = [], set()
        for number, item in enumerate(raw["entries"], 1):
            if not isinstance(item, dict) or not item.get("id"):
                raise ValueError(f"{path}: entry {number} has no id")
            where = f"{path}: entry {item['id']!r}"
            if item["id"] in seen:
                raise ValueError(f"{where}: duplicate id")
            seen.add(item["id"])
            category = str(item.get("category", ""))
            if category not in CATEGORIES:
                raise ValueError(f"{where}: unknown category {category!r}; known: {', '.join(CATEGORIES)}")
            required = _patterns(item.get("all"), definitions, where, "all")
            if not required:
                raise ValueError(f"{where}: `all` must list at least one pattern")
            excluded = _patterns(item.get("none"), definitions, where, "none")
            entries.append(BackstopEntry(str(item["id"]), category, required, excluded))
        return cls(tuple(entries))

    def hits(self, normal: str) -> tuple[BackstopEntry, ...]:
        """The entries that fire on a normalised message."""
        return tuple(entry for entry in self.entries if entry.fires(normal))


def _patterns(raw: Any, definitions: Mapping[str, str], where: str, key: str) -> tuple[re.Pattern[str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise ValueError(f"{where}: `{key}` must be a list of patterns")
    compiled = []
    for pattern in raw:
        def expand(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in definitions:
                raise ValueError(f"{where}: unknown definition {{{name}}}; known: {', '.join(definitions)}")
            return definitions[name]

        try:
            compiled.append(re.compile(_PLACEHOLDER.sub(expand, pattern)))
        except re.error as problem:
            raise ValueError(f"{where}: pattern in `{key}` is not a valid regular expression ({problem})") from None
    return tuple(compiled)
