"""The one path every channel's message takes (channels/guard.py): a reply to every message, the safety numbers on
any risk, long and slash-prefixed messages, with a stub screen and a stub assistant (no Rasa server)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.safeguarding.types import ScreenResult
from channels import guard

QUIET = ScreenResult("question", "none", "online_safety", 0.9)
SIGNPOST = ScreenResult("question", "none", "bullying", 0.6, signpost=True)
HAND_OFF = ScreenResult("disclosure", "high", "physical_abuse", 0.9, signpost=True)


class StubScreen:
    def __init__(self, result: ScreenResult | Exception) -> None:
        self.result = result
        self.seen: list[tuple[str, str | None]] = []

    def screen(self, text: str, role: str | None = None) -> ScreenResult:
        self.seen.append((text, role))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> StubScreen:
    stub = StubScreen(QUIET)
    monkeypatch.setattr("bot.safeguarding.screen.default_screen", lambda: stub)
    return stub


def turn(text: str, reply: list[dict[str, Any]] | Exception | None, metadata: dict[str, Any] | None = None
         ) -> tuple[str, list[dict[str, Any]], list[UserMessage]]:
    """One message through the guard; the stub assistant answers `reply` (or raises it)."""
    output = CollectingOutputChannel()
    seen: list[UserMessage] = []

    async def assistant(message: UserMessage) -> None:
        seen.append(message)
        if isinstance(reply, Exception):
            raise reply
        for bubble in reply or ():
            await message.output_channel.send_response(message.sender_id, bubble)

    message = UserMessage(text, output, "s1", metadata=metadata or {"role": "pupil"})
    outcome = asyncio.run(guard.guarded_turn(message, assistant, "test"))
    return outcome, output.messages, seen


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def test_a_quiet_answer_passes_untouched(screen: StubScreen) -> None:
    outcome, sent, _ = turn("can I use my phone?", [{"text": "Yes, at lunch.", "buttons": [{"title": "👍"}]}])
    assert outcome == "answered" and sent == [{"recipient_id": "s1", "text": "Yes, at lunch.",
                                               "buttons": [{"title": "👍"}]}]
    assert screen.seen == [("can I use my phone?", "pupil")]


def test_a_risky_turn_without_the_numbers_gets_them(screen: StubScreen) -> None:
    screen.result = SIGNPOST
    _, sent, _ = turn("some worrying words", [{"text": "An answer."}])
    assert texts(sent).startswith("An answer.") and "0800 1111" in sent[-1]["text"] and "999" in sent[-1]["text"]


def test_a_risky_turn_that_already_has_the_numbers_gets_nothing_more(screen: StubScreen) -> None:
    screen.result = HAND_OFF
    _, sent, _ = turn("words", [{"text": "Thank you for telling me. Call 999 if in danger now."}])
    assert len(sent) == 1


@pytest.mark.parametrize("reply", [[], RuntimeError("the action server is down")])
def test_silence_or_a_failure_becomes_a_kind_reply(screen: StubScreen, reply: Any) -> None:
    _, sent, _ = turn("when is the trip?", reply)
    assert texts(sent) == guard.NO_REPLY_TEXT


def test_silence_on_a_risky_message_becomes_the_safe_words_and_claims_nothing(screen: StubScreen) -> None:
    screen.result = HAND_OFF
    _, sent, _ = turn("words", [])
    said = texts(sent)
    assert "999" in said and "0800 1111" in said and "reference" not in said.lower()


def test_a_screen_that_fails_counts_as_a_risk(screen: StubScreen) -> None:
    screen.result = RuntimeError("boom")
    _, sent, _ = turn("words", [{"text": "An answer."}])
    assert "0800 1111" in sent[-1]["text"]


def test_an_over_long_message_is_refused_unless_it_may_be_a_disclosure(screen: StubScreen) -> None:
    long = "tell me about phones " * 200
    outcome, sent, seen = turn(long, [{"text": "never"}])
    assert outcome == "too_long" and texts(sent) == guard.TOO_LONG_TEXT and not seen
    screen.result = HAND_OFF
    outcome, _, seen = turn(long + " my dad hits me", [{"text": "handed off, call 999"}])
    assert outcome == "answered"
    [message] = seen
    assert len(message.text) < len(long) and message.metadata["full_text"] == long + " my dad hits me"


def test_a_typed_slash_loses_it_and_a_button_payload_keeps_it(screen: StubScreen) -> None:
    _, _, seen = turn("/my dad hits me", [{"text": "ok"}])
    assert seen[0].text == "my dad hits me"
    _, _, seen = turn('/inform_school{"school":"ouston"}', [{"text": "ok"}])
    assert seen[0].text == '/inform_school{"school":"ouston"}'
    assert screen.seen == [("my dad hits me", "pupil")], "screened as NLU will see it; a button payload is not"
