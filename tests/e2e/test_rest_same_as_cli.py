"""One answer composer: `policybot ask` (a real subprocess) and the assistant over REST say the same thing for the
same question, school and role, whichever Rasa path the message takes (a policy question, "who is", a message the
intent classifier calls out of scope, a partial answer for another group)."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot import settings
from bot.servers import VENV_BIN, post_json

pytestmark = pytest.mark.e2e

QUESTIONS = [
    ("ken-stimpson", "pupil", "can I use my phone in lessons?"),
    ("kingsmeadow", "pupil", "can I use my phone in lessons?"),   # a staff rule only: the partial answer
    ("ouston", "parent", "who is the designated safeguarding lead?"),
    ("rolvenden", "staff", "who is the DSL?"),
    ("wyre-forest", "pupil", "can you do my maths homework"),    # out of scope: the policy's own abstention
    ("kingsmeadow", "parent", "what's the weather like today"),
]


def cli_answers() -> list[dict]:
    lines = "\n".join(json.dumps({"id": str(n), "school": school, "role": role, "question": question})
                      for n, (school, role, question) in enumerate(QUESTIONS))
    done = subprocess.run([str(VENV_BIN / "policybot"), "ask", "--batch", "-"], input=lines, text=True,
                          capture_output=True, cwd=settings.PROJECT_ROOT, timeout=300, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_the_cli_and_rest_give_the_same_answer(rasa_server: str) -> None:
    for (school, role, question), expected in zip(QUESTIONS, cli_answers(), strict=True):
        status, replies = post_json(f"{rasa_server}/webhooks/rest/webhook", {
            "sender": f"e2e-same-{school}-{abs(hash(question))}", "message": question,
            "metadata": {"school": school, "role": role}})
        assert status == 200
        texts = [r.get("text", "") for r in replies]
        assert expected["answer"] in texts, f"{school}/{role} {question!r}: CLI {expected['answer']!r}, REST {texts!r}"
