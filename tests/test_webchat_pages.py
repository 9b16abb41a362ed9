"""The web chat's HTML: a page per school and role, the kind not-found page, and the headers that protect them."""

from __future__ import annotations

import dataclasses

import pytest

from bot.schools import SchoolDirectory
from channels.webchat.pages import (ASSETS, NOT_FOUND_BODY, NOT_FOUND_HEADING, REPORT_PAYLOAD, page_headers,
                                    render_chat_page, render_message_page)
from channels.webchat.security import OriginPolicy

ROLES = ("pupil", "parent")


@pytest.fixture(scope="module")
def schools() -> SchoolDirectory:
    return SchoolDirectory.load()


def test_a_primary_pupils_page_uses_plain_words_and_larger_text(schools: SchoolDirectory) -> None:
    page = render_chat_page(schools.get("ouston"), "pupil", ROLES)
    assert '<body class="chat-page simple">' in page
    assert "<h1>Ask about staying safe online at Ouston</h1>" in page
    assert "I use the school&#x27;s own rules to answer." in page
    assert 'data-school="ouston" data-role="pupil"' in page


def test_a_secondary_pupils_page_is_not_simplified(schools: SchoolDirectory) -> None:
    page = render_chat_page(schools.get("ken-stimpson"), "pupil", ROLES)
    assert '<body class="chat-page">' in page
    assert "Answers quote the school&#x27;s own online safety policy." in page


def test_a_parents_page_and_the_role_choice(schools: SchoolDirectory) -> None:
    page = render_chat_page(schools.get("ouston"), "parent", ROLES)
    assert "<h1>Ouston Primary School: online safety questions</h1>" in page
    assert '<a href="/chat/ouston">a pupil</a>' in page
    assert '<a href="/chat/ouston?role=parent" aria-current="page">a parent or carer</a>' in page
    assert 'data-role="parent"' in page


def test_an_embedded_page_keeps_the_embed_flag_in_its_role_links(schools: SchoolDirectory) -> None:
    page = render_chat_page(schools.get("ouston"), "pupil", ROLES, embedded=True)
    assert "embedded" in page.split("<body class=")[1].split(">")[0]
    assert 'href="/chat/ouston?embed=1" aria-current="page"' in page
    assert 'href="/chat/ouston?role=parent&amp;embed=1"' in page


def test_one_role_means_no_choice(schools: SchoolDirectory) -> None:
    assert 'class="roles"' not in render_chat_page(schools.get("ouston"), "pupil", ("pupil",))


def test_the_report_button_and_signposting_are_on_every_page(schools: SchoolDirectory) -> None:
    for profile in schools:
        for role in ROLES:
            page = render_chat_page(profile, role, ROLES)
            assert ">Worried about something?</button>" in page
            assert "999" in page
    assert REPORT_PAYLOAD == "/report_concern"


def test_every_value_is_escaped(schools: SchoolDirectory) -> None:
    hostile = dataclasses.replace(schools.get("ouston"), name='<script>alert("x")</script>',
                                  short_name="O'Neil & <b>")
    page = render_chat_page(hostile, "pupil", ROLES)
    assert "<script>alert" not in page and "<b>" not in page
    assert "O&#x27;Neil &amp; &lt;b&gt;" in page


def test_the_unknown_school_page_names_no_school_and_still_signposts(schools: SchoolDirectory) -> None:
    page = render_message_page(NOT_FOUND_HEADING, NOT_FOUND_BODY)
    assert "We can&#x27;t find that chat" in page
    assert "0800 1111" in page and "999" in page
    assert not any(profile.short_name in page or profile.slug in page for profile in schools)


def test_pages_may_only_be_framed_by_allowed_origins_and_load_nothing_from_elsewhere() -> None:
    headers = page_headers(OriginPolicy(("https://www.ouston.example",)))
    csp = dict(part.split(" ", 1) for part in headers["Content-Security-Policy"].split("; "))
    assert csp["frame-ancestors"] == "'self' https://www.ouston.example"
    assert csp["script-src"] == "'self'" and csp["connect-src"] == "'self'"
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"


def test_only_the_listed_assets_are_served_and_the_widget_comes_from_node_modules() -> None:
    assert set(ASSETS) == {"chat.js", "chat.css", "rasa-webchat.js"}
    bundle, mime = ASSETS["rasa-webchat.js"]
    assert bundle.parts[-4:] == ("node_modules", "rasa-webchat", "lib", "index.js")
    assert mime.startswith("text/javascript")
