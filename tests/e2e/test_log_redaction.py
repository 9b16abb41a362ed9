"""No message text reaches any log (issue 14), with both servers at Rasa's most talkative level (LOG_LEVEL=DEBUG,
which anyone can set in the environment): a canary disclosure goes through every path where Rasa, rasa-sdk or
Sanic have historically written a message out (a typed message, a button-like "/" payload carrying entities, an
action that raises inside the real Rasa → action server path, and a forged failing call), then no log file the
harness wrote may hold it. test_closed_surface.py checks the same at the default level with the shared servers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.servers import AssistantServers

from .conftest import MailSink
from .test_closed_surface import forged_call, post

pytestmark = pytest.mark.e2e

CANARY = "pangolin-canary-6804"
#: "/" payloads are an intent name and JSON entities: the canary as an intent name needs underscores.
INTENT_CANARY = "pangolin_canary_6804"


@pytest.fixture(scope="module")
def talkative(tmp_path_factory: pytest.TempPathFactory, mail_sink: MailSink) -> Iterator[AssistantServers]:
    """Both servers at DEBUG, with a feedback database URL that cannot be opened, so every policy answer's action
    raises (the real action error path: rasa-sdk, Sanic's handler, then Rasa logging the failed call)."""
    model = os.environ.get("POLICYBOT_E2E_MODEL")
    if not model:
        pytest.skip("set POLICYBOT_E2E_MODEL to a trained model (make test does) to run the end-to-end tests")
    env = {"LOG_LEVEL": "DEBUG", "POLICYBOT_DATABASE_URL": "not a database url",
           "POLICYBOT_SMTP_HOST": "127.0.0.1", "POLICYBOT_SMTP_PORT": str(mail_sink.port)}
    with AssistantServers(Path(model), tmp_path_factory.mktemp("redaction-e2e"), extra_env=env) as running:
        yield running


def say(servers: AssistantServers, sender: str, message: str) -> tuple[int, str]:
    return post(servers.webhook_url, {"sender": sender, "message": message,
                                      "metadata": {"school": "ouston", "role": "pupil"}})


def leaked_lines(servers: AssistantServers, canary: str) -> list[str]:
    """Where `canary` is in a log file the harness wrote, as "file:line" (a failing test names the place and
    prints none of the line)."""
    found = []
    for log in sorted(servers.workdir.glob("*.log")):
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        found += [f"{log.name}:{number}" for number, line in enumerate(lines, 1) if canary.lower() in line.lower()]
    return found


def test_the_harness_logs_at_debug_level(talkative: AssistantServers) -> None:
    """Otherwise the tests below would prove nothing about Rasa's debug output."""
    assert say(talkative, "redaction-debug", "hello")[0] == 200
    rasa_log = talkative.logs[1].read_text(encoding="utf-8", errors="replace")
    assert " DEBUG " in rasa_log or '"level": "debug"' in rasa_log


def test_a_typed_disclosure_reaches_no_log(talkative: AssistantServers) -> None:
    status, body = say(talkative, "redaction-typed", f"my stepdad hits me every night, {CANARY}")
    assert status == 200 and "0800 1111" in body
    assert leaked_lines(talkative, CANARY) == []


def test_a_slash_message_reaches_no_log(talkative: AssistantServers) -> None:
    """A typed "/" message (the guard strips the slash), a payload-shaped one (Rasa reads it as an intent name
    and skips NLU) and a payload whose JSON entities hold the disclosure."""
    for sender, message in (("redaction-slash-1", f"/my uncle touches me {CANARY}"),
                            ("redaction-slash-2", f"/{INTENT_CANARY}"),
                            ("redaction-slash-3", "/greet" + json.dumps({"school": f"he hurts me {CANARY}"}))):
        assert say(talkative, sender, message)[0] == 200
    assert leaked_lines(talkative, CANARY) == []
    assert leaked_lines(talkative, INTENT_CANARY) == []


def test_an_action_that_raises_leaks_nothing(talkative: AssistantServers) -> None:
    """The policy answer action cannot open its feedback database and raises; the person still gets a reply."""
    status, body = say(talkative, "redaction-raise", f"can I use my phone in lessons {CANARY}")
    assert status == 200 and json.loads(body), "the channel guard still replies"
    actions_log = talkative.logs[0].read_text(encoding="utf-8", errors="replace")
    assert "action_answer_policy_question failed: ValueError" in actions_log, "the action did raise"
    assert leaked_lines(talkative, CANARY) == []


def test_a_forged_failing_call_leaks_nothing_at_debug(talkative: AssistantServers) -> None:
    call = forged_call("action_answer_policy_question", f"my dad hits me {CANARY}")
    call["tracker"]["latest_message"] = f"my dad hits me {CANARY}"  # not a message: the action fails reading it
    status, _ = post(f"http://127.0.0.1:{talkative.actions_port}/webhook", call,
                     {"Authorization": f"Bearer {talkative.action_token}"})
    assert status == 500
    assert leaked_lines(talkative, CANARY) == []
