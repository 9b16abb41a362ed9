"""Turn the assistant's replies into Bot Framework message activities for Teams (plain Python, no Rasa).

An answer (a quote, its citation line "— School, Policy, section (date)", maybe a "See also" and a review note)
becomes an Adaptive Card: the quote in normal text, the citation and notes in small subdued text so a staff member
can see at a glance where it came from. Buttons become card actions that post the button's payload back as the
user's next message (messageBack: Teams shows the button title in the chat, the bot receives the payload).
Plain replies stay plain Teams markdown text.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
HERO_CARD = "application/vnd.microsoft.card.hero"
#: 1.4 renders on every Teams client (desktop, web, mobile); 1.5 features are not needed here.
ADAPTIVE_CARD_VERSION = "1.4"
#: How bot/qa/answer.py's cite_line starts: "— {school name}, {policy title}{, section} ({date})".
CITATION_PREFIX = "— "
_SMALL_PREFIXES = ("See also", "Note:")
MAX_BUTTONS = 6


def has_citation(text: str) -> bool:
    """True when `text` holds a citation line, i.e. it is a policy answer."""
    return any(line.startswith(CITATION_PREFIX) for line in text.splitlines())


def markdown_text(text: str) -> str:
    """Teams markdown: a single newline does not break a line there, so every line becomes its own paragraph."""
    return "\n\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def text_activity(text: str) -> dict[str, Any]:
    """A plain message activity."""
    return {"type": "message", "text": markdown_text(text), "textFormat": "markdown"}


def card_action(button: Mapping[str, Any]) -> dict[str, Any] | None:
    """An Adaptive Card action for a Rasa button: open a URL, or post the payload back (None if it has neither)."""
    title = str(button.get("title") or button.get("payload") or "").strip()
    url = button.get("url")
    if isinstance(url, str) and url.startswith("https://"):
        return {"type": "Action.OpenUrl", "title": title or url, "url": url}
    payload = button.get("payload")
    if not isinstance(payload, str) or not payload:
        return None
    # messageBack: the chat shows the title as if typed; the bot receives the payload as the message text.
    return {"type": "Action.Submit", "title": title,
            "data": {"msteams": {"type": "messageBack", "displayText": title, "text": payload}}}


def _text_blocks(text: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    gap = False
    for line in text.strip().splitlines():
        line = line.rstrip()
        if not line.strip():
            gap = True
            continue
        block: dict[str, Any] = {"type": "TextBlock", "text": line, "wrap": True}
        if line.startswith(CITATION_PREFIX):
            block.update(size="Small", isSubtle=True, spacing="None")  # compact: it belongs to the quote above
        elif line.startswith(_SMALL_PREFIXES):
            block.update(size="Small", spacing="Small")
            if line.startswith("Note:"):
                block["color"] = "Warning"  # the policy may be out of date
        elif gap:
            block["spacing"] = "Medium"
        blocks.append(block)
        gap = False
    return blocks


def adaptive_card(text: str, buttons: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """An Adaptive Card attachment: `text` line by line (citations compact), buttons as actions."""
    actions = [action for action in (card_action(b) for b in list(buttons)[:MAX_BUTTONS]) if action]
    content: dict[str, Any] = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                               "version": ADAPTIVE_CARD_VERSION, "body": _text_blocks(text)}
    if actions:
        content["actions"] = actions
    return {"contentType": ADAPTIVE_CARD, "content": content}


def card_activity(text: str, buttons: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A message activity carrying one Adaptive Card (the answer text and its buttons)."""
    return {"type": "message", "attachments": [adaptive_card(text, buttons)]}


def reply_activity(text: str, buttons: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The activity for a reply: a card for an answer or anything with buttons, plain text otherwise."""
    buttons = list(buttons)
    if buttons or has_citation(text):
        return card_activity(text, buttons)
    return text_activity(text)


def image_activity(url: str, text: str | None = None) -> dict[str, Any]:
    """A hero card showing the image at `url`."""
    content: dict[str, Any] = {"images": [{"url": url}]}
    if text:
        content["text"] = text
    return {"type": "message", "attachments": [{"contentType": HERO_CARD, "content": content}]}
