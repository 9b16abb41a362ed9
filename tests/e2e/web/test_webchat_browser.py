"""The web chat in a real browser: Debian's headless Chromium driven by Playwright, at phone size, against the real
servers. Screenshots of each step are saved under artifacts/e2e-screenshots/."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from bot.qa.answer import PolicyAssistant
from bot.qa.retrieval import Retriever
from bot.safeguarding.records import ConcernStore
from bot.schools import SchoolDirectory
from bot.servers import AssistantServers

from .conftest import PHONE_VIEWPORT

pytestmark = pytest.mark.e2e

PHONE_QUESTION = "can I use my phone in lessons?"
CANARY = "pangolin-canary-7310"
REFERENCE = re.compile(r"\b[A-Z]{2,6}-\d{4}-\d{4}\b")

# Contrast ratio of an element's text against the first opaque background behind it (WCAG 2 relative luminance).
CONTRAST_JS = """element => {
  const rgb = value => (value.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const lin = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  let node = element, background = null;
  while (node && node.nodeType === 1) {
    const parts = rgb(getComputedStyle(node).backgroundColor);
    if (parts.length === 3 || (parts.length === 4 && parts[3] === 1)) { background = parts.slice(0, 3); break; }
    node = node.parentElement;
  }
  background = background || [255, 255, 255];
  const a = lum(rgb(getComputedStyle(element).color).slice(0, 3)), b = lum(background);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def open_chat(browser: Any, url: str) -> Any:
    page = browser.new_page()
    page.goto(url)
    # The greeting itself (not the typing dots, also a .rw-response): connected, conversation started.
    page.wait_for_selector(".rw-response .rw-message-text", timeout=60_000)
    return page


def ask(page: Any, text: str) -> None:
    page.fill(".rw-new-message", text)
    page.keyboard.press("Enter")


def wait_for_bot(page: Any, contains: str, timeout: float = 60_000) -> str:
    """The text of the first bot bubble containing `contains`, once it is on screen."""
    page.wait_for_function(
        "t => [...document.querySelectorAll('.rw-response')].some(e => e.innerText.includes(t))",
        arg=contains, timeout=timeout)
    return page.evaluate(
        "t => [...document.querySelectorAll('.rw-response')].map(e => e.innerText).find(x => x.includes(t))",
        contains)


def bot_texts(page: Any) -> list[str]:
    return page.eval_on_selector_all(".rw-response", "els => els.map(e => e.innerText)")


def snap(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"))


def test_two_schools_answer_the_phone_question_with_their_own_rule_and_a_compact_citation(
        browser: Any, web: str, screenshots: Path) -> None:
    directory = SchoolDirectory.load()
    direct = PolicyAssistant.learned(Retriever(directory))
    shown = {}
    for slug in ("ken-stimpson", "ouston"):
        profile = directory.get(slug)
        page = open_chat(browser, f"{web}/chat/{slug}")
        assert page.inner_text("h1") == f"Ask about staying safe online at {profile.short_name}"
        ask(page, PHONE_QUESTION)
        citation = f"— {profile.name}, {profile.policy_title}"
        answer = wait_for_bot(page, citation)
        expected = direct.answer(slug, PHONE_QUESTION, "pupil")
        assert not expected.abstained
        assert answer.startswith(expected.text.split("\n")[0]), f"{slug}: {answer!r}"
        # Compact: the citation is its own small quote under the answer.
        quote = page.locator(".rw-response blockquote").last
        assert quote.inner_text().startswith(citation)
        sizes = quote.evaluate("q => [parseFloat(getComputedStyle(q).fontSize), "
                               "parseFloat(getComputedStyle(q.closest('.rw-response')).fontSize)]")
        assert sizes[0] < sizes[1], "the citation is smaller than the answer"
        # A phone-sized screen: nothing wider than it, and the report button still on screen after chatting.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
        box = page.locator("#worried-button").bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE_VIEWPORT["height"]
        snap(page, screenshots, f"phone-question-{slug}")
        shown[slug] = answer.split("\n")[0]
        page.close()
    assert shown["ken-stimpson"] != shown["ouston"], "each school answers in its own words"


def test_a_quick_reply_works_from_the_keyboard_and_the_page_is_labelled(
        browser: Any, web: str, screenshots: Path) -> None:
    page = open_chat(browser, f"{web}/chat/kingsmeadow")
    assert page.get_attribute(".rw-new-message", "aria-label") == "Your message"
    assert page.get_attribute(".rw-messages-container", "role") == "log"
    assert page.get_attribute(".rw-messages-container", "aria-live") == "polite"

    # Focus order: skip link, role choice, the report button, ..., the message box.
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(page.evaluate("(e => e.id || e.className || e.tagName)(document.activeElement)"))
    assert order[0] == "skip-link"
    assert "worried-button" in order and "rw-new-message" in order
    assert order.index("worried-button") < order.index("rw-new-message")

    ask(page, PHONE_QUESTION)
    wait_for_bot(page, "— Kingsmeadow School")
    helpful = page.get_by_role("button", name="👍 Yes, that helped", exact=True)
    helpful.focus()
    snap(page, screenshots, "quick-reply-focused")
    page.keyboard.press("Enter")
    wait_for_bot(page, "thanks for letting me know")
    assert page.locator(".rw-client", has_text="Yes, that helped").count() == 1, "the choice shows as the pupil's"
    snap(page, screenshots, "quick-reply-answered")

    for selector in ("h1", "#worried-button", ".worried-help", ".rw-response", ".rw-client", ".rw-new-message"):
        ratio = page.locator(selector).first.evaluate(CONTRAST_JS)
        assert ratio >= 4.5, f"{selector}: contrast {ratio:.2f} is below WCAG AA"


def test_worried_about_something_opens_the_report_form_and_files_a_report(
        browser: Any, web: str, servers: AssistantServers, screenshots: Path) -> None:
    store = ConcernStore(f"sqlite:///{servers.workdir / 'concerns.db'}")
    before = {c.reference for c in store.list_concerns("ken-stimpson", "ken-stimpson-dsl", status="all")}
    page = open_chat(browser, f"{web}/chat/ken-stimpson")
    page.click("#worried-button")
    wait_for_bot(page, "What happened? Please tell me in your own words")
    assert page.evaluate("document.activeElement.className").startswith("rw-new-message"), \
        "the pupil can type the answer straight away"
    assert all("/report_concern" not in text for text in page.eval_on_selector_all(
        ".rw-client", "els => els.map(e => e.innerText)")), "the payload is never shown as if typed"
    snap(page, screenshots, "report-1-what-happened")

    # Something the safeguarding screen treats as neither a disclosure nor a concern (either is handed to the DSL
    # at once, ending the form: tests/e2e/test_rest_safeguarding.py and test_webchat_socket.py cover that; a
    # filtering gap, say, is a concern).
    what = f"a football went over the fence into the neighbours garden {CANARY}"
    ask(page, what)
    wait_for_bot(page, "Who is involved?")
    page.get_by_role("button", name="I'd rather not say", exact=True).click()
    wait_for_bot(page, "When and where did it happen?")
    ask(page, "yesterday at lunchtime")
    wait_for_bot(page, "Is anyone in danger right now?")
    snap(page, screenshots, "report-2-danger-now")
    page.get_by_role("button", name="No", exact=True).click()
    wait_for_bot(page, "Do you want to give your name?")
    page.get_by_role("button", name="I'd rather not say", exact=True).click()

    page.wait_for_function(
        "re => [...document.querySelectorAll('.rw-response')].some(e => new RegExp(re).test(e.innerText))",
        arg=REFERENCE.pattern, timeout=60_000)
    snap(page, screenshots, "report-3-sent")
    new = [c for c in store.list_concerns("ken-stimpson", "ken-stimpson-dsl", status="all")
           if c.reference not in before]
    assert len(new) == 1, "exactly one report filed"
    assert any(new[0].reference in text for text in bot_texts(page)), "the pupil is given the reference"
    record = store.show(new[0].reference, "ken-stimpson", "ken-stimpson-dsl")
    assert record.kind == "report" and record.channel == "webchat" and record.role == "pupil"
    assert f"What happened: {what}" in record.words
    assert "Anyone in danger right now: no" in record.words

    time.sleep(1)
    for log in servers.logs:
        assert CANARY not in log.read_text(errors="replace"), f"{log.name} contains the report's words"


def test_an_over_long_message_gets_a_kind_reply_and_the_chat_carries_on(
        browser: Any, web: str, screenshots: Path) -> None:
    page = open_chat(browser, f"{web}/chat/wyre-forest")
    ask(page, "please can you tell me about the rules for phones and tablets at school " * 40)  # 2,880 characters
    wait_for_bot(page, "That's a very long message! Could you ask your question in fewer words")
    page.wait_for_selector('#chat[data-last-refusal="too_long"]', timeout=10_000)
    snap(page, screenshots, "over-long-message")
    ask(page, PHONE_QUESTION)
    # The same reply as asked first (Wyre Forest's policy has no pupils' phone rule: it says so, naming who to ask).
    expected = PolicyAssistant.learned(Retriever(SchoolDirectory.load())).answer("wyre-forest", PHONE_QUESTION, "pupil")
    wait_for_bot(page, expected.text.split("\n")[0][:60])


def test_the_parent_page_and_the_unknown_school_page(browser: Any, web: str, screenshots: Path) -> None:
    page = open_chat(browser, f"{web}/chat/ouston?role=parent")
    assert page.inner_text("h1") == "Ouston Primary School: online safety questions"
    assert page.get_attribute('nav.roles a[aria-current="page"]', "href") == "/chat/ouston?role=parent"
    snap(page, screenshots, "parent-page")

    missing = browser.new_page()
    result = missing.goto(f"{web}/chat/atlantis")
    assert result is not None and result.status == 404
    text = missing.inner_text("body")
    assert "We can't find that chat" in text and "0800 1111" in text and "999" in text
    assert not any(profile.short_name in text for profile in SchoolDirectory.load()), "it lists no school"
    snap(missing, screenshots, "unknown-school")


def test_the_embed_snippet_opens_the_chat_on_an_allowed_school_website_only(
        browser: Any, school_site: Any, unlisted_site: Any, screenshots: Path) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(school_site.url)
    launcher = page.get_by_role("button", name="Ask about staying safe online")
    assert launcher.get_attribute("aria-expanded") == "false"
    launcher.click()
    assert launcher.get_attribute("aria-expanded") == "true"
    frame = page.frame_locator('iframe[title="Online safety chat"]')
    frame.locator(".rw-response .rw-message-text").first.wait_for(timeout=60_000)
    frame.locator(".rw-new-message").fill(PHONE_QUESTION)
    frame.locator(".rw-new-message").press("Enter")
    frame.locator(".rw-response blockquote", has_text="— Rolvenden Primary School").wait_for(timeout=60_000)
    snap(page, screenshots, "embedded-on-school-site")
    page.keyboard.press("Escape")
    # The frame tells the page by postMessage (web/static/chat.js), so the button changes a moment later.
    expect(launcher).to_have_attribute("aria-expanded", "false", timeout=5_000)

    other = browser.new_page()
    other.goto(unlisted_site.url)
    other.get_by_role("button", name="Ask about staying safe online").click()
    time.sleep(5)
    blocked = other.frame_locator('iframe[title="Online safety chat"]').locator(".rw-conversation-container")
    assert blocked.count() == 0, "a website nobody allowed cannot frame the chat"
    snap(other, screenshots, "embedded-on-unlisted-site")
