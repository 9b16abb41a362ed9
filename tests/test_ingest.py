"""Ingestion: headings, bullets, lists, HTML clean-up, offsets and table rewriting, on tiny literal texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.qa.ingest import PolicyPassage, ingest
from bot.settings import PROJECT_ROOT
from bot.text import clean, words
from conftest import ALDER_POLICY, BIRCH_POLICY

REAL_POLICIES = sorted((PROJECT_ROOT / "data" / "policies").glob("*.txt"))

TICK_MATRIX = (
    "Communication Technologies\tStaff & other adults\t\t\t\tStudents / Pupils\t\t\t\n"
    "\tAllowed\tAllowed at certain times\tAllowed for selected staff\tNot allowed\tAllowed\tAllowed at certain times"
    "\tAllowed with staff permission\tNot allowed\n"
    "Use of mobile phones in lessons\t\t✓\t✓\t?\t\t\t✓\t\n"
)
TICK_ROW = "Use of mobile phones in lessons\t\t✓\t✓\t?\t\t\t✓\t"

INCIDENT_TABLE = (
    "Nature of Incident\tSchool Response\tFollow-up and Monitoring\n"
    "Pupil accesses inappropriate material knowingly\tDSL and Network Manager informed\t"
    "Devices removed until an access strategy is agreed\n"
    "\n"
    "Pupil uses technology to bully or belittle others\tDSL informed and parents contacted\t"
    "Review with the Pastoral Team\n"
    "Illegal material accessed knowingly\tFollow the protocol including police involvement\t"
    "See protocol on flow chart\n"
)


def texts(passages: list[PolicyPassage]) -> list[str]:
    """The passage texts, in order."""
    return [p.text for p in passages]


def test_markdown_and_numbered_headings_become_the_section_path() -> None:
    """'## 4. Communications' then '4.2 Pupils' use of phones' nest as the passage's section path."""
    source = "## 4. Communications\n\n4.2 Pupils' use of phones\n\nPupils must hand in phones at the start of the day.\n"
    [passage] = ingest("s", source)
    assert passage.section == ("4. Communications", "4.2 Pupils' use of phones")
    assert passage.section_label == "4. Communications > 4.2 Pupils' use of phones"
    assert passage.text == "Pupils must hand in phones at the start of the day."
    assert passage.kind == "paragraph"
    assert passage.audience == frozenset({"pupil"})
    assert source[passage.start:passage.end] == passage.text


def test_a_later_top_level_heading_closes_the_previous_subsection() -> None:
    """'## 5. Passwords' after '4.2 ...' replaces the whole path, not just the last part."""
    source = "## 4. Communications\n\n4.2 Phones\n\nPhones stay in bags.\n\n## 5. Passwords\n\nKeep passwords private.\n"
    passages = ingest("s", source)
    assert [(p.section, p.text) for p in passages] == [
        (("4. Communications", "4.2 Phones"), "Phones stay in bags."),
        (("5. Passwords",), "Keep passwords private."),
    ]


def test_text_before_any_heading_is_labelled_introduction() -> None:
    """A passage with no heading above it has an empty section path, labelled 'introduction'."""
    [passage] = ingest("s", "This policy applies to everyone in the school community.\n")
    assert passage.section == ()
    assert passage.section_label == "introduction"


def test_bare_title_line_is_a_heading() -> None:
    """A short title line like 'Pupils:' heads the section (colon dropped) instead of becoming a passage."""
    source = "Pupils:\n\nPupils must not bring phones.\n"
    [passage] = ingest("s", source)
    assert passage.section == ("Pupils",)
    assert passage.text == "Pupils must not bring phones."
    assert (passage.start, passage.end) == (9, 38)


def test_lead_in_line_is_not_a_heading_and_is_grouped_with_its_list() -> None:
    """'School staff should ensure that:' introduces a list: one 'list' passage, no heading."""
    source = "School staff should ensure that:\n\n- phones are locked away\n- cameras are not used\n"
    [passage] = ingest("s", source)
    assert passage.section == ()
    assert passage.kind == "list"
    assert passage.text == "School staff should ensure that:\n- phones are locked away\n- cameras are not used"
    assert (passage.start, passage.end) == (0, len(source) - 1)
    assert passage.audience == frozenset({"staff"})


def test_bullet_continued_on_the_next_line_is_kept_whole() -> None:
    """A bullet wrapped onto an indented second line stays one item, its text joined by a space."""
    source = (
        "Rules\n\nStaff must:\n- lock their laptops when they leave the room\n"
        "  unattended for any length of time\n- report lost devices\n"
    )
    [passage] = ingest("s", source)
    assert passage.section == ("Rules",)
    assert passage.kind == "list"
    assert passage.text == (
        "Staff must:\n- lock their laptops when they leave the room unattended for any length of time\n"
        "- report lost devices"
    )
    assert source[passage.start:passage.end] == (
        "Staff must:\n- lock their laptops when they leave the room\n  unattended for any length of time\n"
        "- report lost devices"
    )


def test_bullets_without_lead_in_are_grouped_and_keep_their_markers() -> None:
    """Consecutive bullets under a heading become one list whose items start with '- '."""
    passages = ingest("birch", BIRCH_POLICY)
    lists = [p for p in passages if p.kind == "list"]
    assert texts(lists) == [
        "- Students must not contact staff on social media sites\n"
        "- Staff must not accept friend requests from students or from their parents"
    ]
    assert lists[0].section == ("Social Media",)
    assert lists[0].audience == frozenset({"pupil", "staff"})


def test_html_tags_and_entities_are_stripped_but_offsets_point_at_the_raw_text() -> None:
    """`<i>Governing Body</i>` and `&amp;` are cleaned from the text; the offsets span the raw line."""
    source = "The <i>Governing Body</i> approves the policy &amp; reviews it yearly.\n"
    [passage] = ingest("s", source)
    assert passage.text == "The Governing Body approves the policy & reviews it yearly."
    assert source[passage.start:passage.end] == source.rstrip("\n")
    assert clean(source[passage.start:passage.end]) == passage.text
    assert passage.audience == frozenset({"governor"})


@pytest.mark.parametrize(
    "source",
    [
        ALDER_POLICY,
        BIRCH_POLICY,
        "Rules\n\nStaff must:\n- lock laptops when they leave the room\n  unattended\n- report lost devices\n",
        "  Indented paragraphs keep their offsets.\n\n<b>Bold</b> &amp; <i>italic</i> text is cleaned.\n",
    ],
    ids=["alder", "birch", "continued-bullet", "indent-and-html"],
)
def test_passage_offsets_lie_within_the_source_and_prose_slices_hold_the_passage_words(source: str) -> None:
    """Every [start, end) is inside the source; for prose the cleaned slice has exactly the passage's words."""
    passages = ingest("s", source)
    assert passages
    for passage in passages:
        assert 0 <= passage.start < passage.end <= len(source)
        if passage.kind != "table_row":
            assert words(clean(source[passage.start:passage.end])) == words(passage.text)


def test_long_paragraph_is_split_at_sentence_boundaries_with_exact_offsets() -> None:
    """A paragraph far past the passage size becomes several passages, each its own source slice, in order."""
    sentences = [f"Rule number {i} says that pupils must log off every computer after use." for i in range(40)]
    source = " ".join(sentences) + "\n"
    passages = ingest("s", source)
    assert len(passages) > 1
    for passage in passages:
        assert clean(source[passage.start:passage.end]) == passage.text
        assert passage.text.startswith("Rule number ") and passage.text.endswith("after use.")
    assert " ".join(texts(passages)) == " ".join(sentences)
    assert [p.start for p in passages] == sorted(p.start for p in passages)


def test_paragraph_end_offset_counts_trailing_spaces_of_its_first_line() -> None:
    """A two-line paragraph whose first line ends in spaces still ends at the end of its last word."""
    source = ("Staff must keep their phones locked away in the staff room during  \n"
              "lessons and at break times.\n")
    [passage] = ingest("s", source)
    assert passage.text == "Staff must keep their phones locked away in the staff room during lessons and at break times."
    assert source[passage.start:passage.end] == source.rstrip("\n")


# ---------------------------------------------------------------------------------------------- tables


def test_tick_matrix_row_becomes_one_statement_per_column_group() -> None:
    """The ✓/? matrix row reads as 'Group — row label: ticked columns', tagged with the group's audience."""
    [staff, pupils] = ingest("s", TICK_MATRIX)
    assert pupils.text == "Students/pupils — use of mobile phones in lessons: allowed with staff permission"
    assert pupils.audience == frozenset({"pupil"})
    assert pupils.kind == "table_row"
    assert staff.text.startswith("Staff & other adults — use of mobile phones in lessons: ")
    assert "allowed at certain times" in staff.text
    assert "allowed for selected staff" in staff.text
    assert "allowed with staff permission" not in staff.text
    assert staff.audience == frozenset({"staff"})
    for passage in (staff, pupils):
        assert TICK_MATRIX[passage.start:passage.end] == TICK_ROW


def test_tick_matrix_question_mark_is_marked_as_possible() -> None:
    """A '?' cell is rendered as '<column> (possible)', not as a plain tick."""
    [staff, _] = ingest("s", TICK_MATRIX)
    assert staff.text.endswith("not allowed (possible)")


def test_header_table_rows_name_their_columns_even_after_a_blank_line() -> None:
    """Each row of a Wyre-Forest-style table says 'Column: cell.'; rows after a blank line keep the names."""
    passages = ingest("s", INCIDENT_TABLE)
    assert texts(passages) == [
        "Nature of Incident: Pupil accesses inappropriate material knowingly. "
        "School Response: DSL and Network Manager informed. "
        "Follow-up and Monitoring: Devices removed until an access strategy is agreed.",
        "Nature of Incident: Pupil uses technology to bully or belittle others. "
        "School Response: DSL informed and parents contacted. "
        "Follow-up and Monitoring: Review with the Pastoral Team.",
        "Nature of Incident: Illegal material accessed knowingly. "
        "School Response: Follow the protocol including police involvement. "
        "Follow-up and Monitoring: See protocol on flow chart.",
    ]
    assert {p.kind for p in passages} == {"table_row"}
    assert [INCIDENT_TABLE[p.start:p.end].split("\t")[0] for p in passages] == [
        "Pupil accesses inappropriate material knowingly",
        "Pupil uses technology to bully or belittle others",
        "Illegal material accessed knowingly",
    ]
    assert passages[0].audience == frozenset({"pupil"})


def test_short_header_table_row_after_a_blank_line_is_not_dropped() -> None:
    """'Sexting<TAB>Refer to the DSL<TAB>Log on CPOMS' after a blank line still becomes a named-column row."""
    source = (
        "Nature of Incident\tSchool Response\tFollow-up and Monitoring\n"
        "Cyberbullying\tInform parents\tReview after a week\n"
        "\n"
        "Sexting\tRefer to the DSL\tLog on CPOMS\n"
    )
    assert texts(ingest("s", source)) == [
        "Nature of Incident: Cyberbullying. School Response: Inform parents. "
        "Follow-up and Monitoring: Review after a week.",
        "Nature of Incident: Sexting. School Response: Refer to the DSL. Follow-up and Monitoring: Log on CPOMS.",
    ]


def test_key_value_row_becomes_key_colon_value() -> None:
    """'Issue date<TAB>March 2021' reads 'Issue date: March 2021', offsets on the raw row."""
    source = "Issue date\tMarch 2021\n"
    [passage] = ingest("s", source)
    assert passage.text == "Issue date: March 2021"
    assert passage.kind == "table_row"
    assert source[passage.start:passage.end] == "Issue date\tMarch 2021"


def test_key_value_row_with_colon_keys_holds_several_pairs() -> None:
    """'Date of next review:<TAB>2019<TAB>Written by:<TAB>Brian Thomas' keeps both pairs without doubled colons."""
    [passage] = ingest("s", "Date of next review:\t2019\tWritten by:\tBrian Thomas\n")
    assert passage.text == "Date of next review: 2019 Written by: Brian Thomas"


def test_key_value_table_strips_html_from_cells() -> None:
    """Cells like '<i>March 2022</i>' and '&amp;' are cleaned in the rewritten statement."""
    passages = ingest("s", "The next review date will be:\t<i>March 2022</i>\nLeads\tIT &amp; safeguarding\n")
    assert texts(passages) == ["The next review date will be: March 2022", "Leads: IT & safeguarding"]


def test_passage_round_trips_through_its_dict_form() -> None:
    """to_dict/from_dict keep every field, so a saved index loads the same passages."""
    for passage in ingest("alder", ALDER_POLICY):
        assert PolicyPassage.from_dict(passage.to_dict()) == passage


# ---------------------------------------------------------------------------------------------- real policies


def test_all_five_real_policy_files_are_present() -> None:
    """The five school policies the suite checks are in data/policies."""
    assert [p.stem for p in REAL_POLICIES] == ["ken-stimpson", "kingsmeadow", "ouston", "rolvenden", "wyre-forest"]


@pytest.mark.parametrize("path", REAL_POLICIES, ids=[p.stem for p in REAL_POLICIES])
def test_real_policy_passages_are_in_bounds_non_empty_and_free_of_html(path: Path) -> None:
    """Every passage of a real policy lies inside its file, has text, and carries no '<i>' or '&amp;'."""
    source = path.read_text(encoding="utf-8")
    passages = ingest(path.stem, source)
    assert passages
    for passage in passages:
        assert passage.school == path.stem
        assert 0 <= passage.start < passage.end <= len(source), passage
        assert passage.text.strip(), passage
        assert "<i>" not in passage.text and "&amp;" not in passage.text, passage


def test_ken_stimpson_phone_matrix_yields_the_pupil_statement() -> None:
    """Ken Stimpson's communications matrix gives the exact pupils' rule for phones in lessons."""
    path = PROJECT_ROOT / "data" / "policies" / "ken-stimpson.txt"
    source = path.read_text(encoding="utf-8")
    matches = [p for p in ingest("ken-stimpson", source)
               if p.text == "Students/pupils — use of mobile phones in lessons: allowed with staff permission"]
    assert len(matches) == 1
    assert matches[0].audience == frozenset({"pupil"})
    assert source[matches[0].start:matches[0].end].startswith("Use of mobile phones in lessons\t")
