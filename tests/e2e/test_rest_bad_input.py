"""Bad input through the REST webhook gets a kind reply or a 4xx, and the server keeps serving."""

from __future__ import annotations

import pytest

from bot.servers import post_json

pytestmark = pytest.mark.e2e

PUPIL_AT_OUSTON = {"school": "ouston", "role": "pupil"}


def replies_to(base: str, sender: str, message: str, metadata: dict | None = None) -> list[str]:
    status, replies = post_json(f"{base}/webhooks/rest/webhook",
                                {"sender": sender, "message": message, "metadata": metadata or PUPIL_AT_OUSTON})
    assert status == 200
    texts = [r.get("text") or "" for r in replies]
    assert texts and all(texts), f"expected at least one non-empty reply to {message[:40]!r}, got {replies!r}"
    return texts


def still_serving(base: str) -> None:
    texts = replies_to(base, "e2e-after-bad-input", "can I use my phone in lessons?")
    assert "— Ouston Primary School, Online Safeguarding Policy" in "\n".join(texts)


@pytest.mark.parametrize("message", ["", "   ", "😀😀😀", "¿Puedo usar mi móvil en clase?", "x" * 100_000],
                         ids=["empty", "spaces", "emoji", "spanish", "100k-chars"])
def test_odd_messages_get_a_reply_and_the_server_keeps_serving(rasa_server: str, message: str) -> None:
    """Empty, emoji-only, non-English and 100,000-character messages each get a non-empty reply."""
    texts = replies_to(rasa_server, f"e2e-odd-{len(message)}-{message[:1]!r}", message)
    if len(message) > 2000:
        assert any("under 2,000 characters" in t or "didn't quite get that" in t for t in texts), texts
    still_serving(rasa_server)


def test_unknown_school_in_metadata_is_asked_about_not_answered(rasa_server: str) -> None:
    """A slug we do not know is not used: the assistant asks which school instead of answering from another."""
    status, replies = post_json(f"{rasa_server}/webhooks/rest/webhook",
                                {"sender": "e2e-unknown-school", "message": "can I use my phone in lessons?",
                                 "metadata": {"school": "hogwarts", "role": "pupil"}})
    assert status == 200
    assert any(b["payload"] == '/inform_school{"school":"ouston"}' for r in replies for b in r.get("buttons", []))
    assert not any("—" in (r.get("text") or "") for r in replies), "no policy was quoted"


def test_malformed_json_is_a_400_and_the_server_keeps_serving(rasa_server: str) -> None:
    """A body that is not JSON is refused with a 4xx."""
    status, _ = post_json(f"{rasa_server}/webhooks/rest/webhook", b'{"sender": "x", "message": ')
    assert 400 <= status < 500
    still_serving(rasa_server)
