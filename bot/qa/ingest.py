"""Policy ingestion: turn a school's policy text into passages that keep their meaning.

Each passage carries its heading path and character offsets into the source file, so every citation points at
real text. Bullets are kept whole, HTML is stripped, and tab-separated tables become readable statements that
keep row and column meaning ("Students/pupils — use of mobile phones in lessons: allowed with staff permission").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from bot.text import clean, iter_lines, sentence_spans

#: Bump when passage boundaries or texts change, so saved indexes are rebuilt.
INGEST_VERSION = 6


# Words that say who a heading or sentence is about. Checked on heading paths and sentence openings.
_AUDIENCE_WORDS: dict[str, tuple[str, ...]] = {
    "pupil": ("pupil", "student", "children and young people", "learner", "child's", "young person"),
    "staff": ("staff", "teacher", "teaching assistant", "tas", "employee", "adults", "volunteer", "headteacher",
              "head teacher", "designated safeguarding lead", "dsl", "network manager", "technician",
              "educational technologist", "co-ordinator", "coordinator", "leadership team"),
    "parent": ("parent", "carer", "families", "family"),
    "governor": ("governor", "governing body", "fgb"),
    "visitor": ("visitor", "community user", "external group", "contractor", "guest"),
}

_BULLET = re.compile(r"^(\s*)(?:[-•*▪●◦]|\(?[a-z]\)|\(?[ivx]+\)|\d+\))\s+")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(.+)$")
_BOLD_NUMBER = re.compile(r"^\*\*(\d{1,2}(?:\.\d{1,2})+)\*\*\s*")
_MARKS = {"✓", "✔", "☑", "x", "X", "✗", "✘", "?", "Y", "y"}
_LEAD_IN_VERBS = re.compile(
    r"\b(is|are|will|should|must|shall|can|may|ensure|ensuring|include|including|that|our school|we|this)\b", re.I
)
_INLINE_BULLET = re.compile(r"\s+•\s+")
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")


@dataclass(frozen=True)
class PolicyPassage:
    """A quotable piece of one school's policy, with where it came from."""

    school: str
    section: tuple[str, ...]
    text: str
    start: int
    end: int
    kind: str = "paragraph"  # paragraph | bullet | table_row
    audience: frozenset[str] = field(default_factory=frozenset)
    context: str = ""  # lead-in line or table caption: searched, not quoted

    @property
    def id(self) -> str:
        digest = hashlib.sha1(f"{self.school}|{self.start}|{self.end}|{self.text}".encode()).hexdigest()[:10]
        return f"{self.school}:{self.start}-{self.end}:{digest}"

    @property
    def section_label(self) -> str:
        return " > ".join(self.section) if self.section else "introduction"

    def embedding_text(self) -> str:
        """What the dense index sees: the passage itself; a table row also gets its heading, as its row alone
        ('unauthorised downloading of files: refer to class teacher') does not say it is about sanctions."""
        if self.kind == "table_row" and self.section:
            return f"{self.section[-1]}: {self.text}"
        return self.text

    def search_text(self) -> str:
        """What the indexes see: heading path and lead-in give a bare bullet its meaning."""
        parts = [*self.section, self.context, self.text]
        return ". ".join(p for p in parts if p)

    def to_dict(self) -> dict:
        return {
            "school": self.school, "section": list(self.section), "text": self.text, "start": self.start,
            "end": self.end, "kind": self.kind, "audience": sorted(self.audience), "context": self.context,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> "PolicyPassage":
        return cls(
            school=raw["school"], section=tuple(raw["section"]), text=raw["text"], start=raw["start"],
            end=raw["end"], kind=raw.get("kind", "paragraph"), audience=frozenset(raw.get("audience", ())),
            context=raw.get("context", ""),
        )


def audience_of(text: str) -> frozenset[str]:
    """Roles a heading or sentence opening names."""
    lowered = f" {text.lower()} "
    return frozenset(
        role for role, cues in _AUDIENCE_WORDS.items()
        if any(re.search(rf"(?<![a-z]){re.escape(cue)}", lowered) for cue in cues)
    )


def _strip_emphasis(text: str) -> str:
    return text.replace("**", "").replace("__", "").strip()


def _title(text: str) -> str:
    return _strip_emphasis(text).rstrip(" :-–.").strip()


@dataclass
class _Heading:
    level: int
    title: str


def _heading(line: str, numbered_depth: int) -> _Heading | None:
    """Recognise a section heading (`## 4. Communications`, `4.2 Pupils' use of phones`, a bare title line)."""
    text = clean(line)
    if not text or "\t" in line:
        return None
    md = _MD_HEADING.match(text)
    if md:
        title = _strip_emphasis(md[2])
        numbered = _NUMBERED.match(title)
        if numbered:
            return _Heading(numbered[1].count(".") + 1, _title(title))
        return _Heading(numbered_depth + 1, _title(title))
    if text.startswith("**") and _BOLD_NUMBER.match(text):
        return None  # "**2.1** The school believes..." is a numbered paragraph, not a heading
    numbered = _NUMBERED.match(text)
    if numbered:
        title = numbered[2]
        top = int(numbered[1].split(".")[0])
        if (top <= 30 and len(title) <= 100 and len(title.split()) <= 12 and title[:1].isupper()
                and not re.search(r"[.,;!?]$", title) and not re.search(r":\s+[a-z]", title)):
            return _Heading(numbered[1].count(".") + 1, _title(text))
        return None
    if _BULLET.match(line) or len(text) > 80 or len(text.split()) > 10:
        return None
    if not text[:1].isupper() or re.search(r"[.,;!?]$", text) or re.search(r":\s+\S", text):
        return None
    if text.endswith(":") and (_LEAD_IN_VERBS.search(text) or re.search(r"\b(of|to|by|on|for|with|as)\s*:$", text)):
        return None  # "School staff should ensure that:" introduces a list; it is not a heading
    if "www." in text or "http" in text or "@" in text:
        return None
    return _Heading(numbered_depth + 1, _title(text))


# ---------------------------------------------------------------------------------------------- tables


def _cells(line: str) -> list[str]:
    return [clean(c).replace("**", "") for c in line.split("\t")]


def _is_mark(cell: str) -> bool:
    return cell.strip() in _MARKS


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _group_name(text: str) -> str:
    """'Students / Pupils' -> 'Students/pupils': a compact, sentence-case column group name."""
    text = re.sub(r"\s*/\s*", "/", text.strip().rstrip(":"))
    return text[:1].upper() + text[1:].lower() if text.isupper() or "/" in text else text


def _table_statements(rows: list[tuple[int, int, str]], school: str, section: tuple[str, ...],
                      caption: str, header: list[str] | None = None) -> list[PolicyPassage]:
    """Rewrite one tab-separated table (list of (start, end, raw line)) as readable passages.

    `header` is the column row of a table that a blank line interrupted, so its later rows keep their meaning.
    """
    grid = [(_start, _end, _cells(raw)) for _start, _end, raw in rows]
    mark_rows = [i for i, (_, _, cells) in enumerate(grid) if any(_is_mark(c) for c in cells[1:])]
    if mark_rows:
        return _matrix_statements(grid, mark_rows[0], school, section, caption)
    if header is not None and len(header) == len(grid[0][2]):
        return _header_statements([(0, 0, header)] + grid, school, section, caption)
    if _looks_like_header(grid[0][2]) and len(grid) > 1:
        return _header_statements(grid, school, section, caption)
    return _key_value_statements(grid, school, section, caption)


def _looks_like_header(cells: list[str]) -> bool:
    """Three or more short column names ('Nature of Incident', 'School Response', ...), none a 'key:'."""
    filled = [c for c in cells if c]
    return len(filled) >= 3 and all(len(c) <= 40 and not c.endswith(":") for c in filled)


def _key_value_statements(grid, school, section, caption) -> list[PolicyPassage]:
    """Rows like 'Issue date<TAB>March 2021' or 'Date of next review:<TAB>2019<TAB>Written by:<TAB>Brian Thomas'."""
    passages = []
    for start, end, cells in grid:
        filled = [c for c in cells if c]
        if len(filled) < 2:
            continue
        pairs = []
        for key, value in zip(filled[0::2], filled[1::2] + [""] * (len(filled) % 2)):
            joiner = " " if re.search(r"[:?]$", key) else ": "
            pairs.append(f"{key}{joiner}{value}".strip())
        text = " ".join(pairs)
        passages.append(PolicyPassage(school, section, text, start, end, "table_row",
                                      audience_of(" ".join(section[-1:])), caption))
    return passages


def _header_statements(grid, school, section, caption) -> list[PolicyPassage]:
    """A table whose first row names its columns: each row becomes 'Column: cell. Column: cell.'"""
    header = grid[0][2]
    passages = []
    for start, end, cells in grid[1:]:
        if not any(cells):
            continue
        parts = []
        for j, cell in enumerate(cells):
            if not cell:
                continue
            name = header[j] if j < len(header) and header[j] else ""
            parts.append(f"{name}: {cell}" if name else cell)
        if parts:
            text = " ".join(p if re.search(r"[.!?]$", p) else p + "." for p in parts)
            passages.append(PolicyPassage(school, section, text, start, end, "table_row",
                                          audience_of(cells[0]) | audience_of(" ".join(section[-1:])), caption))
    return passages


def _matrix_statements(grid, first_data: int, school, section, caption) -> list[PolicyPassage]:
    """A tick-matrix (✓ / ?) with one or two header rows: one statement per row and column group."""
    headers = [cells for _, _, cells in grid[:first_data]]
    width = max(len(cells) for _, _, cells in grid)
    sub = (headers[-1] if headers else []) + [""] * width
    groups = (headers[-2] if len(headers) >= 2 else []) + [""] * width
    data = grid[first_data:]
    # Label columns hold text in data rows; everything after them holds marks.
    label_cols = 0
    while label_cols < width and any(
        label_cols < len(c) and c[label_cols] and not _is_mark(c[label_cols]) for _, _, c in data
    ):
        label_cols += 1
    label_cols = max(label_cols, 1)
    group_of: list[str] = []
    current = ""
    for j in range(width):
        if j >= label_cols and groups[j]:
            current = groups[j]
        group_of.append(current if j >= label_cols else "")
    category = ""
    passages: list[PolicyPassage] = []
    for start, end, cells in data:
        cells = cells + [""] * (width - len(cells))
        labels = cells[:label_cols]
        merged = label_cols > 1 and bool(labels[0]) and not any(labels[1:])
        if merged:
            # A merged label cell spanning the label columns came out as one cell: realign the marks.
            cells = labels[:1] + [""] * (label_cols - 1) + cells[1:]
            cells = cells[:width] + [""] * (width - len(cells))
            label = labels[0]
        elif label_cols > 1:
            if labels[0]:
                category = labels[0]
            label = " ".join(x for x in labels[1:] if x)
        else:
            label = labels[0]
        if not label:
            continue
        full_label = f"{category} {label}" if label_cols > 1 and category and not merged else label
        by_group: dict[str, list[str]] = {}
        for j in range(label_cols, width):
            mark = cells[j].strip()
            if not mark:
                continue
            name = _lower_first(sub[j] or groups[j] or f"column {j + 1}")
            if mark == "?":
                name += " (possible)"
            elif not _is_mark(mark):
                name += f" ({mark})"
            by_group.setdefault(group_of[j], []).append(name)
        if not by_group:
            by_group[""] = ["no entry"]
        for group, names in by_group.items():
            lead = f"{_group_name(group)} — " if group else ""
            text = f"{lead}{_lower_first(full_label).rstrip(':')}: {'; '.join(names)}"
            audience = audience_of(group) if group else audience_of(" ".join(section))
            passages.append(PolicyPassage(school, section, text, start, end, "table_row", audience, caption))
    return passages


# ---------------------------------------------------------------------------------------------- prose

_MAX_WORDS = 90  # longer paragraphs are split at sentence boundaries into passages of about this size


def _split_long(school: str, section: tuple[str, ...], raw: str, start: int, kind: str,
                audience: frozenset[str], context: str) -> list[PolicyPassage]:
    text = clean(raw)
    if len(text.split()) <= _MAX_WORDS:
        return [PolicyPassage(school, section, text, start, start + len(raw.rstrip()), kind, audience, context)]
    windows: list[tuple[int, int]] = []
    for s, e in sentence_spans(raw):
        if windows and len(raw[windows[-1][0]:e].split()) <= _MAX_WORDS * 0.7:
            windows[-1] = (windows[-1][0], e)
        else:
            windows.append((s, e))
    return [
        PolicyPassage(school, section, clean(raw[s:e]), start + s, start + e, kind, audience, context)
        for s, e in windows if clean(raw[s:e])
    ]


@dataclass
class _Block:
    start: int
    raw: str
    kind: str
    indent: int = 0
    context: str = ""
    number: str = ""
    absorbs_children: bool = False  # an open list item ("Surveys of") whose sub-items complete it


def ingest(school: str, source: str) -> list[PolicyPassage]:
    """Passages of one policy text, in document order, each with heading path and source offsets."""
    passages: list[PolicyPassage] = []
    stack: list[_Heading] = []
    block: _Block | None = None
    table: list[tuple[int, int, str]] = []
    lead_in = ""
    last_text_line_open = False  # previous non-blank line did not end a sentence
    last_header: list[str] | None = None  # column names of the table just closed, if only blank lines follow
    just_headed = False  # the previous non-blank line was a heading
    paragraph_number = ""  # "4.1" from a "**4.1** ..." paragraph, kept for the unnumbered paragraphs after it

    def section() -> tuple[str, ...]:
        return tuple(h.title for h in stack if h.title)

    def numbered_depth() -> int:
        return max((h.level for h in stack if re.match(r"^\d", h.title)), default=0)

    def flush_block() -> None:
        nonlocal block
        if block is None:
            return
        sec = section() + ((block.number,) if block.number else ())
        raw = block.raw
        offset = block.start
        head_audience = audience_of(" ".join(section()[-1:])) or audience_of(block.context)
        audience = head_audience or audience_of(" ".join(clean(raw).split()[:4]))
        if clean(raw):
            passages.extend(_split_long(school, sec, raw, offset, block.kind, audience, block.context))
        block = None

    def flush_table() -> None:
        nonlocal table, last_header
        if table:
            first = _cells(table[0][2])
            carried = last_header if last_header and len(last_header) == len(first) else None
            passages.extend(_table_statements(table, school, section(), lead_in, carried))
            last_header = carried or (first if _looks_like_header(first) else None)
        table = []

    for offset, line in iter_lines(source):
        stripped = line.strip()
        if not stripped:
            flush_block()
            flush_table()
            last_text_line_open = False
            continue
        if "\t" in line:
            flush_block()
            table.append((offset, offset + len(line), line))
            just_headed = False
            continue
        flush_table()
        last_header = None
        bullet = _BULLET.match(line)
        if block is not None and not bullet and last_text_line_open and not _MD_HEADING.match(stripped):
            block.raw += "\n" + line
            last_text_line_open = not _SENTENCE_END.search(clean(line))
            continue
        heading = None if bullet else _heading(line, numbered_depth())
        if heading:
            flush_block()
            if (just_headed and stack and stack[-1].level == heading.level
                    and not re.match(r"^\d", heading.title) and not re.match(r"^\d", stack[-1].title)):
                heading.level += 1  # "## Students / Pupils" then "## Actions / Sanctions": the second refines the first
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            stack.append(heading)
            lead_in = ""
            paragraph_number = ""
            last_text_line_open = False
            just_headed = True
            continue
        just_headed = False
        if bullet:
            indent = len(bullet[1])
            body_start = offset + bullet.end()
            body = line[bullet.end():]
            parent_open = block is not None and block.kind == "bullet" and (block.absorbs_children or re.search(
                r"(:|\bof|\bto|\band|\bor)\s*$", clean(block.raw)))
            if block is not None and block.kind == "bullet" and indent > block.indent and parent_open:
                block.absorbs_children = True
                block.raw += "\n" + line  # sub-items of "Surveys/questionnaires of" belong to their parent
            else:
                # A deeper item under a complete one is its own passage, read in the light of its parent.
                nested = block is not None and block.kind == "bullet" and indent > block.indent
                context = clean(block.raw) if nested else lead_in
                flush_block()
                block = _Block(body_start, body, "bullet", indent, context)
            last_text_line_open = not _SENTENCE_END.search(clean(line))
            continue
        # A plain paragraph line.
        flush_block()
        text = clean(line)
        bold = _BOLD_NUMBER.match(text)
        if bold:
            paragraph_number = bold[1]
        number = paragraph_number
        if _INLINE_BULLET.search(line):
            # "... colleagues • To ensure that ..." holds several list items on one line: split them.
            pieces = _INLINE_BULLET.split(line)
            cursor = offset
            for piece in pieces:
                at = source.index(piece, cursor)
                body = piece.lstrip("•- ")
                passages.extend(_split_long(school, section(), body, at + len(piece) - len(body), "bullet",
                                            audience_of(" ".join(section()[-1:])), lead_in))
                cursor = at + len(piece)
            last_text_line_open = False
            continue
        # Keep trailing spaces: `raw` must stay an exact slice of the source for the offsets to hold.
        block = _Block(offset + (len(line) - len(line.lstrip())), line.lstrip(), "paragraph", number=number)
        lead_in = text if text.endswith(":") else ""
        last_text_line_open = not _SENTENCE_END.search(text)
    flush_block()
    flush_table()
    return group_lists([p for p in passages if p.text])


#: Bullets of one list are quoted together (with their lead-in line) up to about this many words: a list item
#: rarely makes sense alone, and the list is what people are asking about ("what is the password policy?").
GROUP_WORDS = 160


def group_lists(passages: list[PolicyPassage], max_words: int = GROUP_WORDS) -> list[PolicyPassage]:
    """Merge each lead-in paragraph ("...responsible for ensuring:") with the bullets under it, in chunks."""
    out: list[PolicyPassage] = []
    group: list[PolicyPassage] = []

    def words_in(items: list[PolicyPassage]) -> int:
        return sum(len(p.text.split()) for p in items)

    def close() -> None:
        if not group:
            return
        if len(group) == 1:
            out.append(group[0])
        else:
            first = group[0]
            lead = first.text if first.kind == "paragraph" else ""
            items = group[1:] if lead else group
            text = "\n".join([lead] * bool(lead) + [p.text if p.kind == "paragraph" else f"- {p.text}" for p in items])
            out.append(PolicyPassage(first.school, first.section, text, first.start, group[-1].end, "list",
                                     frozenset().union(*(p.audience for p in group)), first.context))
        group.clear()

    for passage in passages:
        joins = bool(group) and passage.kind == "bullet" and passage.section == group[-1].section and (
            passage.context == group[-1].context or (group[-1].kind == "paragraph" and passage.context == group[-1].text)
            or (group[0].kind == "paragraph" and passage.context == group[0].text))
        # "There are three main areas of risk;" followed by short numbered points (2.1.1, 2.1.2...) reads as one.
        joins = joins or (bool(group) and group[0].kind == "paragraph" and bool(re.search(r"[:;]$", group[0].text))
                          and passage.kind == "paragraph" and len(passage.text.split()) <= 30
                          and passage.section[:1] == group[0].section[:1] and all(p.kind == "paragraph" for p in group))
        if joins and words_in(group) + len(passage.text.split()) <= max_words:
            group.append(passage)
            continue
        close()
        if passage.kind == "table_row":
            out.append(passage)
        else:
            group.append(passage)
            if passage.kind == "paragraph" and not re.search(r"[:;]$", passage.text):
                close()
    close()
    return out

