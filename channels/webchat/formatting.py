"""The assistant's plain-text replies as the widget shows them: one bubble of markdown per message, with the
citation line ("— School, Policy, section (date)") as a compact quote under the answer.

rasa-webchat renders markdown, where a single newline is only a space: an answer, its citation and a review note
would run together. Everything but the line structure is escaped, so a quoted policy sentence shows exactly as the
policy words it (a '*' or a leading '1.' stays a character, never formatting).
"""

from __future__ import annotations

import re

#: ASCII punctuation that markdown may treat as formatting (CommonMark lets any of it be backslash-escaped).
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")
_ORDERED_LIST_START = re.compile(r"^(\d+)([.)])")
CITATION_MARK = "— "
LIST_MARK = "- "


def escape_markdown(text: str) -> str:
    """`text` as markdown that renders as exactly `text`, on one line."""
    escaped = _ORDERED_LIST_START.sub(r"\1\\\2", _SPECIAL.sub(r"\\\1", text))
    return "\\" + escaped if escaped[:1] in ("-", "=") else escaped


def widget_markdown(text: str) -> str:
    """Each line its own paragraph, '— ' citation lines as a '>' quote (shown small), '- ' lines as a list."""
    blocks: list[tuple[str, str]] = []
    for line in (raw.strip() for raw in text.strip().splitlines()):
        if not line:
            continue
        if line.startswith(CITATION_MARK):
            blocks.append(("quote", "> " + escape_markdown(line)))
        elif line.startswith(LIST_MARK):
            blocks.append(("item", LIST_MARK + escape_markdown(line[len(LIST_MARK):].strip())))
        else:
            blocks.append(("paragraph", escape_markdown(line)))
    markdown, previous = "", None
    for kind, block in blocks:
        if markdown:
            markdown += "\n" if kind == previous == "item" else "\n\n"
        markdown += block
        previous = kind
    return markdown
