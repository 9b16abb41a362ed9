"""Answers as the web widget shows them: markdown that keeps the answer, its citation and notes apart."""

from __future__ import annotations

import pytest

from channels.webchat.formatting import escape_markdown, widget_markdown

ANSWER = ("Students/pupils — use of mobile phones in lessons: allowed with staff permission\n"
          "— Ken Stimpson Community School, E-Safety Policy, section 4. Communications (March 2021)\n"
          "Note: this policy was due for review by March 2022, so it may have changed since.")


def test_an_answer_its_citation_and_its_note_become_three_blocks_with_the_citation_quoted() -> None:
    assert widget_markdown(ANSWER) == (
        "Students/pupils — use of mobile phones in lessons: allowed with staff permission\n\n"
        "> — Ken Stimpson Community School, E-Safety Policy, section 4. Communications \\(March 2021\\)\n\n"
        "Note: this policy was due for review by March 2022, so it may have changed since.")


def test_dash_lines_become_one_list_between_paragraphs() -> None:
    assert widget_markdown("You can ask:\n- Can I use my phone?\n- Who is the DSL?\nOr talk to an adult.") == (
        "You can ask:\n\n- Can I use my phone?\n- Who is the DSL?\n\nOr talk to an adult.")


@pytest.mark.parametrize("text, escaped", [
    ("*not bold*", "\\*not bold\\*"),
    ("_x_ and `code`", "\\_x\\_ and \\`code\\`"),
    ("# not a heading", "\\# not a heading"),
    ("1. not a list", "1\\. not a list"),
    ("> not a quote", "\\> not a quote"),
    ("[a](http://x)", "\\[a\\]\\(http://x\\)"),
    ("<b>html</b>", "\\<b\\>html\\</b\\>"),
    ("-- dashes", "\\-- dashes"),
    ("AT&amp;T", "AT\\&amp;T"),
    ("plain words, 0800 1111.", "plain words, 0800 1111."),
])
def test_policy_text_is_shown_exactly_as_written(text: str, escaped: str) -> None:
    assert escape_markdown(text) == escaped


def test_blank_lines_and_surrounding_space_are_dropped() -> None:
    assert widget_markdown("\n  First.  \n\n\nSecond.\n") == "First.\n\nSecond."
