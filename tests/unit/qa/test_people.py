"""Which passage a "who is the ...?" answer quotes: the one that says the person holds the post."""

from __future__ import annotations

from bot.qa.ingest import PolicyPassage
from bot.qa.people import _naming_passage
from bot.qa.retrieval import SearchHit


def _hit(text: str, start: int) -> SearchHit:
    return SearchHit(PolicyPassage("alder", ("Scope",), text, start, start + len(text)), 1.0, 0.5, 0.5)


LISTED = _hit("In the event of an online safety incident, these people will be informed: **Ann Lee, Bo Ray, "
              "Cy Day**.", 0)
DEFINING = _hit("This policy is reviewed every year.\n- Head teacher and leadership team **Cy Day / SLT**\n"
                "- Designated Safeguarding Lead **Ann Lee**\n- Online Safety Coordinator and Deputy Data "
                "Protection Officer (DPO), **Bo Ray**", 200)


def test_the_quote_says_the_person_holds_the_post_not_merely_names_them() -> None:
    # The list of who is told about an incident ranks first and names everyone; it says nothing about posts.
    assert _naming_passage([LISTED, DEFINING], "Ann Lee", "dsl") is DEFINING
    assert _naming_passage([LISTED, DEFINING], "Cy Day", "headteacher") is DEFINING
    # "online safety incident" in the list is too far from the name to say who the coordinator is.
    assert _naming_passage([LISTED, DEFINING], "Bo Ray", "online_safety_lead") is DEFINING


def test_without_a_passage_naming_the_post_the_first_that_names_the_person_is_quoted() -> None:
    assert _naming_passage([LISTED, DEFINING], "Bo Ray", "governor") is LISTED
    assert _naming_passage([LISTED], "Dee Fox", "dsl") is None
