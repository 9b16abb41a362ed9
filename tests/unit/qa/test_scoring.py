"""The evidence scorer: when a cited passage counts as holding an evidence span."""

from __future__ import annotations

import pytest

from bot.evaluation import span_found

QUOTED = "This e-safety policy was approved by the Governing Body on: March 2021"


@pytest.mark.parametrize("span", [
    "approved by the Governing Body on: March 2021",
    "APPROVED by the   governing body\non: march 2021",
    # Copied from the policy file, whose markup ingestion strips from what is quoted.
    "approved by the <i>Governing Body</i> on: <b>March 2021</b>",
    "approved by the Governing&nbsp;Body on: March 2021",
])
def test_a_span_in_the_quoted_text_is_found_however_it_was_copied(span: str) -> None:
    assert span_found(span, QUOTED)


@pytest.mark.parametrize("span", [
    "approved by the Governing Body on: March 2022",
    "approved by the <i>Head Teacher</i> on: March 2021",
])
def test_a_span_the_text_does_not_hold_is_not_found(span: str) -> None:
    assert not span_found(span, QUOTED)


def test_a_table_row_counts_when_most_of_its_words_are_quoted() -> None:
    row = "Use of mobile phones in lessons\t\t✓\t\t"
    assert span_found(row, "Use of mobile phones in lessons: not allowed for pupils")
    assert not span_found(row, "Use of tablets: allowed")
