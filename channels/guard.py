"""The one path every channel's message takes (REST, web chat, Teams), so the promises hold the same everywhere:

  1. an over-long message is refused kindly, unless it may be a disclosure: then the pipeline gets its start and
     end and the concern record keeps all of it;
  2. a typed message that starts with "/" (Rasa would read it as an intent name and skip NLU, the screen
     included) loses the slash; real button payloads ("/intent{...}") pass untouched;
  3. the message is screened once here (the NLU component's screen in the same process reuses the verdict);
  4. whatever Rasa does, every message gets a reply: if nothing came back (action server down, an error), the
     safety signposting when the message may carry risk, else a kind "can't look that up";
  5. a turn whose message carries any risk signal never ends without the signposting (999, Childline).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable, Iterable

from rasa.core.channels.channel import OutputChannel, UserMessage

from bot.qa.answer import MAX_QUESTION_CHARS
from bot.core import contract
from bot.core.roles import known_role
from bot.safeguarding.checkin import signpost_line
from bot.safeguarding.handoff import safe_signposting
from bot.safeguarding.types import SCREEN_FAILED, ScreenResult

logger = logging.getLogger(__name__)

TOO_LONG_TEXT = (f"That's a very long message! Could you ask your question in fewer words "
                 f"(under {MAX_QUESTION_CHARS:,} characters)?")
# Same words as the domain's utter_action_server_down: a channel cannot render domain responses itself.
NO_REPLY_TEXT = ("I can't look that up right now. Please ask a teacher or the school office — and if you're "
                 "worried about anything, talk to a trusted adult or call Childline on 0800 1111.")
#: What makes a reply count as signposting: the emergency number or Childline's.
SIGNPOST_MARKERS = ("999", "0800 1111")
#: A button payload: "/intent" with optional JSON entities; anything else after a "/" is typed text.
_PAYLOAD = re.compile(r"^/[A-Za-z_][\w]*(?:\{.*\})?$", re.S)

Handler = Callable[[UserMessage], Awaitable[Any]]


class RecordingOutput(OutputChannel):
    """The channel's own output, with the text of every reply remembered so the guard can see what was said. Every
    sending method goes straight to the wrapped channel (its own rendering of buttons, cards, markdown)."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def name(self) -> str:  # type: ignore[override] - the wrapped channel's name, per instance
        return self.inner.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.texts.append(str(message.get("text") or message.get("image") or message.get("custom") or ""))
        await self.inner.send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.texts.append(text)
        await self.inner.send_text_message(recipient_id, text, **kwargs)

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        self.texts.append(text)
        await self.inner.send_text_with_buttons(recipient_id, text, buttons, **kwargs)

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]],
                                 **kwargs: Any) -> None:
        self.texts.append(text)
        await self.inner.send_quick_replies(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        self.texts.append(image)
        await self.inner.send_image_url(recipient_id, image, **kwargs)

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        self.texts.append(attachment)
        await self.inner.send_attachment(recipient_id, attachment, **kwargs)

    async def send_elements(self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any) -> None:
        elements = list(elements)
        self.texts.extend(str(e.get("title") or "") for e in elements)
        await self.inner.send_elements(recipient_id, elements, **kwargs)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        self.texts.append(str(json_message.get("text") or "custom"))
        await self.inner.send_custom_json(recipient_id, json_message, **kwargs)


def screen_verdict(text: str | None, role: str | None) -> ScreenResult | None:
    """The screen's verdict on a message, None for an empty message or a button payload; a screen that fails
    counts as a risk (the person gets the signposting), never as nothing."""
    if not text or not text.strip() or _PAYLOAD.match(text.strip()):
        return None
    try:
        from bot.safeguarding.screen import default_screen

        if len(text) > 2 * MAX_QUESTION_CHARS:
            text = f"{text[:MAX_QUESTION_CHARS]}\n{text[-MAX_QUESTION_CHARS:]}"
        return default_screen().screen(text, role)
    except Exception as error:  # noqa: BLE001
        logger.error("safeguarding screen failed in the channel guard (%s)", type(error).__name__)
        return SCREEN_FAILED


def might_be_a_disclosure(text: str | None, role: str | None = None) -> bool:
    """True when the message goes to the DSL or gets a check-in (or the screen failed): an over-long message like
    that goes through; anything else is refused kindly."""
    verdict = screen_verdict(text, role)
    return verdict is not None and (verdict.hand_off or verdict.check_in or verdict == SCREEN_FAILED)


def shorten_for_pipeline(text: str, metadata: dict[str, Any]) -> str | None:
    """For a message over MAX_QUESTION_CHARS: None when it cannot be a disclosure (the caller refuses it kindly);
    otherwise its start and end for the pipeline (DIET's cost grows with length), with the whole text put in
    `metadata[FULL_TEXT_KEY]` for the screen and the concern record."""
    if not might_be_a_disclosure(text, known_role(metadata.get(contract.ROLE_KEY))):
        return None
    metadata[contract.FULL_TEXT_KEY] = text
    half = MAX_QUESTION_CHARS // 2
    return f"{text[:half]} … {text[-half:]}"


async def guarded_turn(message: UserMessage, on_new_message: Handler, channel: str,
                       no_reply_text: str = NO_REPLY_TEXT) -> str:
    """Run one message through Rasa with the guarantees above; `too_long` when it was refused for its length,
    else `answered`. `message.metadata` is the channel's own, trusted metadata; `no_reply_text` is what the
    channel's people are told when nothing came back and the message carries no risk."""
    metadata = dict(message.metadata or {})
    role = known_role(metadata.get(contract.ROLE_KEY))
    output = message.output_channel
    text = message.text or ""
    if len(text) > MAX_QUESTION_CHARS:
        shortened = shorten_for_pipeline(text, metadata)
        if shortened is None:
            await output.send_text_message(message.sender_id, TOO_LONG_TEXT)
            return "too_long"
        message.text, message.metadata = shortened, metadata
    elif text.startswith("/") and not _PAYLOAD.match(text.strip()):
        message.text = text = text.lstrip("/").lstrip() or text
    verdict = screen_verdict(metadata.get(contract.FULL_TEXT_KEY) or text, role)
    recorder = RecordingOutput(output)
    message.output_channel = recorder
    try:
        await on_new_message(message)
    except Exception as error:  # noqa: BLE001 - Rasa would log the failure *with the message text*
        logger.error("%s: handling a message failed (%s); replied kindly", channel, type(error).__name__)
    risky = verdict is not None and (verdict.hand_off or verdict.signpost)
    if not any(t.strip() for t in recorder.texts):
        # Nothing came back: the safe words claim nothing was recorded, because nothing was.
        for bubble in (safe_signposting(role) if risky else (no_reply_text,)):
            await output.send_text_message(message.sender_id, bubble)
    elif risky and not any(marker in t for t in recorder.texts for marker in SIGNPOST_MARKERS):
        await output.send_text_message(message.sender_id, signpost_line(role))
    return "answered"
