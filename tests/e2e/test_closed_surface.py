"""The network surface, closed (issue 14): the action server runs nothing without the secret Rasa sends, a failing
action's reply and log hold no tracker, and both servers listen on loopback only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.safeguarding.records import ConcernStore
from bot.servers import AssistantServers

pytestmark = pytest.mark.e2e

CANARY = "wombat-canary-9031"


def forged_call(action: str, text: str) -> dict:
    """What anyone on the network could send: a made-up tracker asking for `action`."""
    return {"next_action": action, "sender_id": "forger", "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": "forger", "slots": {"school": "kingsmeadow", "role": "pupil"},
                        "latest_message": {"text": text, "intent": {"name": "safeguarding_disclosure"},
                                           "entities": [], "metadata": {"school": "kingsmeadow"},
                                           "message_id": "forged-1"},
                        "events": [], "paused": False, "followup_action": None, "active_loop": {},
                        "latest_action_name": "action_listen"}}


def post(url: str, payload: object, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def records(servers: AssistantServers) -> int:
    return len(ConcernStore(f"sqlite:///{servers.workdir / 'concerns.db'}").list_concerns(
        "kingsmeadow", "kingsmeadow-dsl", status="all"))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-secret"},
                                     {"Authorization": "Basic bm90OnRoaXM="}])
def test_a_forged_action_call_is_refused_and_records_nothing(servers: AssistantServers,
                                                             headers: dict[str, str]) -> None:
    before = records(servers)
    status, body = post(f"http://127.0.0.1:{servers.actions_port}/webhook",
                        forged_call("action_dsl_handoff", f"my dad hits me {CANARY}"), headers)
    assert (status, json.loads(body)) == (401, {"error": "unauthorised"})
    assert records(servers) == before


def test_health_stays_open_and_the_real_path_still_works(servers: AssistantServers) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{servers.actions_port}/health", timeout=30) as response:
        assert response.status == 200
    status, body = post(servers.webhook_url, {"sender": "surface-ok", "message": "hello",
                                              "metadata": {"school": "ouston", "role": "pupil"}})
    assert status == 200 and json.loads(body), "Rasa's own calls carry the secret"


def test_a_failing_action_answers_without_the_tracker_and_logs_no_words(servers: AssistantServers) -> None:
    """rasa-sdk's own handler put the whole request (the tracker, the child's words) in the 500 reply."""
    call = forged_call("action_answer_policy_question", f"my dad hits me {CANARY}")
    call["tracker"]["latest_message"] = f"my dad hits me {CANARY}"  # not a message: the action fails reading it
    status, body = post(f"http://127.0.0.1:{servers.actions_port}/webhook", call,
                        {"Authorization": f"Bearer {servers.action_token}"})
    assert status == 500
    assert json.loads(body) == {"error": "the action failed", "action_name": "action_answer_policy_question"}
    assert CANARY not in Path(servers.logs[0]).read_text(encoding="utf-8", errors="replace")


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of LISTEN sockets on `port`, from /proc/net/tcp and tcp6 (hex, as the kernel writes)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_both_servers_listen_on_loopback_only(servers: AssistantServers) -> None:
    if not Path("/proc/net/tcp").is_file():
        pytest.skip("no /proc/net/tcp on this system")
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc writes them
    for port in (servers.rasa_port, servers.actions_port):
        addresses = _listening_addresses(port)
        assert addresses and addresses <= loopback, f"port {port} listens on {addresses}"


def test_rest_from_beyond_this_machine_without_a_token_is_refused(servers: AssistantServers) -> None:
    """No POLICYBOT_REST_TOKEN here: a request a proxy forwarded from elsewhere gets 401 and no reply."""
    status, body = post(servers.webhook_url, {"sender": "outside", "message": "hello",
                                              "metadata": {"school": "ouston"}}, {"X-Forwarded-For": "203.0.113.9"})
    assert (status, json.loads(body)) == (401, {"error": "unauthorised"})


def test_a_disclosure_is_not_in_the_tracker_store_or_the_logs_in_plain_text(servers: AssistantServers) -> None:
    status, body = post(servers.webhook_url, {"sender": "surface-canary", "message_id": "surface-canary-1",
                                              "message": f"my stepdad hits me every night {CANARY}",
                                              "metadata": {"school": "ouston", "role": "pupil"}})
    assert status == 200 and "0800 1111" in body
    stored = (servers.workdir / "tracker.db").read_bytes()
    assert b"surface-canary" in stored, "the conversation was stored (by sender id)"
    assert CANARY.encode() not in stored
    for log in servers.logs:
        assert CANARY not in Path(log).read_text(encoding="utf-8", errors="replace")
