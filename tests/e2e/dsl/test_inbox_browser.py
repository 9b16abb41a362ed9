"""The DSL inbox in a real browser at phone size: Debian's headless Chromium, driven by Playwright, against the real
inbox server. A DSL follows the notification's link, signs in with password and authenticator code, reads the
concern, acknowledges it, adds a note, records an action and closes it; a second school's DSL sees none of it.
Screenshots of each step are saved under artifacts/e2e-screenshots/dsl-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import OTHER_SCHOOL, PASSWORD, Inbox

CANARY = "otter-canary-4471"


def snap(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"dsl-{name}.png"), full_page=True)


def sign_in(page: Any, inbox: Inbox, name: str, screenshots: Path | None = None) -> None:
    """Password, then code, on the page the browser is at (the sign-in form)."""
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    if screenshots:
        snap(page, screenshots, "1-sign-in")
    page.click("button[type=submit]")
    page.wait_for_selector("#code")
    if screenshots:
        snap(page, screenshots, "2-code")
    page.fill("#code", inbox.readers[name].next_code())
    page.click("main button[type=submit]")


def fits_the_phone(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_dsl_signs_in_from_the_email_link_and_works_the_concern_through_to_closed(
        browser: Any, inbox: Inbox, screenshots: Path) -> None:
    reference = inbox.record(words=f"my stepdad locks me in my room all weekend {CANARY}", urgency="immediate",
                             category="neglect")
    page = browser.new_page()
    page.goto(f"{inbox.url}/dsl/concerns/{reference}")  # the link in the notification email
    assert "/dsl/sign-in" in page.url
    sign_in(page, inbox, "ks-browser", screenshots)
    page.wait_for_selector("blockquote.words")
    assert page.url.endswith(f"/dsl/concerns/{reference}")
    assert CANARY in page.inner_text("blockquote.words")
    # The stylesheet loaded under the strict policy: the header is dark, the page fits a phone.
    assert page.evaluate("getComputedStyle(document.querySelector('.top')).backgroundColor") == "rgb(11, 12, 12)"
    assert fits_the_phone(page)
    snap(page, screenshots, "3-concern")

    page.click("text=Acknowledge: I am dealing with this")
    page.wait_for_selector("p.done")
    assert page.inner_text("p.done") == "Acknowledged."

    page.click("summary:has-text('Add a note')")
    page.fill("#note-text", "Spoke to her at lunch; she is safe at school today.")
    page.click("button:has-text('Add note')")
    page.wait_for_selector("p.done:has-text('Note added.')")

    page.select_option("#action", "referred_csc")
    page.fill("#action-text", "Phoned the MASH, reference given.")
    page.click("button:has-text('Record action')")
    page.wait_for_selector("p.done:has-text('Action recorded.')")

    page.click("summary:has-text('Close this concern')")
    page.select_option("#outcome", "referred_csc")
    page.click("button:has-text('Close concern')")
    page.wait_for_selector("p.done:has-text('Closed.')")
    chronology = page.inner_text("ol.chronology")
    for line in ("Acknowledged by ks-browser", "Spoke to her at lunch", "Referred to children's social care",
                 "Closed by ks-browser — outcome: Referred to children's social care"):
        assert line in chronology
    assert fits_the_phone(page)
    snap(page, screenshots, "4-closed")

    record = inbox.store.show(reference, "ken-stimpson", "ks-dsl")
    assert (record.status, record.outcome, record.closed_by) == ("closed", "referred_csc", "ks-browser")

    page.goto(f"{inbox.url}/dsl/concerns?status=closed")
    assert reference in page.inner_text("ul.concerns")
    snap(page, screenshots, "5-list")


def test_a_second_schools_dsl_sees_none_of_it(browser: Any, inbox: Inbox, screenshots: Path) -> None:
    reference = inbox.record(words=f"not for ouston {CANARY}")
    page = browser.new_page()
    page.goto(f"{inbox.url}/dsl/")
    sign_in(page, inbox, "ouston-browser")
    page.wait_for_selector("p.count")
    page.goto(f"{inbox.url}/dsl/concerns?status=all")
    assert reference not in page.content()
    page.goto(f"{inbox.url}/dsl/concerns/{reference}")
    assert f"There is no concern {reference} for your school." in page.inner_text("main")
    assert CANARY not in page.content()
    snap(page, screenshots, "6-other-school")
    assert inbox.store.show(reference, "ken-stimpson", "ks-dsl").status == "new"
    assert OTHER_SCHOOL == "ouston"
