"""One embedding per turn, through the real servers: the question's vector from the NLU featurizer survives Rasa's
parse data into the stored conversation (the tracker the action server is sent), is the vector of exactly the words
asked, and is neither in a log nor in plain text in the tracker store."""

from __future__ import annotations

import json
import urllib.request

import pytest

from bot import settings
from bot.core import contract
from bot.core.embedder import CarriedEmbedding
from bot.servers import AssistantServers, post_json

pytestmark = pytest.mark.e2e

QUESTION = "can I take photos of my friends on a school trip?"


def test_the_questions_vector_travels_in_the_tracker_and_nowhere_in_plain_text(servers: AssistantServers) -> None:
    sender = "e2e-carried-embedding"
    status, replies = post_json(servers.webhook_url, {"sender": sender, "message": QUESTION,
                                                      "metadata": {"school": "ouston", "role": "pupil"}})
    assert status == 200 and replies
    with urllib.request.urlopen(f"{servers.base_url}/conversations/{sender}/tracker", timeout=30) as response:
        tracker = json.loads(response.read())
    payload = tracker["latest_message"].get(contract.EMBEDDING_KEY)
    carried = CarriedEmbedding.unpack(payload)
    assert carried is not None, "the featurizer's vector did not reach the tracker's latest message"
    assert carried.matches(settings.embedding_model(), QUESTION, 384)
    users = [e for e in tracker["events"] if e.get("event") == "user"]
    assert users[-1]["parse_data"][contract.EMBEDDING_KEY] == payload
    piece = str(payload["f16"])[:24]
    assert piece.encode() not in (servers.workdir / "tracker.db").read_bytes()
    for log in servers.workdir.glob("*.log"):
        text = log.read_text(encoding="utf-8", errors="replace")
        assert piece not in text and contract.EMBEDDING_KEY not in text, log.name
