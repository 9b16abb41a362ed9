"""End to end through the Teams webhook: real Rasa + action servers (the Teams channel from credentials.yml), a
loopback Bot Framework OpenID/JWKS stub with locally generated RSA keys, and a loopback fake Bot Connector that
issues the bot's token and records its replies.

Whether anything reached Rasa is read from Rasa's own HTTP API (GET /conversations/<id>/tracker): a refused
request must leave no user event in the conversation it would have gone to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from sqlalchemy import create_engine, text

from bot.qa.answer import PolicyAssistant
from bot.qa.retrieval import Retriever
from bot.safeguarding.records import ConcernStore
from bot.schools import SchoolDirectory
from channels.teams import MOVED_TO_PRIVATE_TEXT
from channels.teams_activity import Activity, message_id, sender_id

from .stubs import TeamsSetup, message_activity, new_rsa_key, personal_conversation_id

pytestmark = pytest.mark.e2e

PHONE_QUESTION = "can I use my phone in lessons?"
TEACHER = "29:1e2e-teacher"


def post_activity(base: str, activity: dict[str, Any], authorization: str | None) -> int:
    """POST an activity to the Teams webhook as the Connector would; the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    request = urllib.request.Request(f"{base}/webhooks/teams/webhook", data=json.dumps(activity).encode(),
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def user_events(base: str, conversation_id: str) -> list[dict[str, Any]]:
    """The user messages Rasa holds for `conversation_id` (via the HTTP API; --enable-api, no auth token)."""
    with urllib.request.urlopen(f"{base}/conversations/{conversation_id}/tracker", timeout=60) as response:
        tracker = json.loads(response.read())
    return [event for event in tracker.get("events") or [] if event.get("event") == "user"]


def tracker_slots(base: str, conversation_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/conversations/{conversation_id}/tracker", timeout=60) as response:
        return json.loads(response.read()).get("slots") or {}


def new_activity(teams: TeamsSetup, text: str = PHONE_QUESTION, tenant: str | None = None,
                 user: str = TEACHER, **extra: Any) -> dict[str, Any]:
    extra.setdefault("conversation_id", f"a:e2e-{uuid.uuid4().hex}")
    extra.setdefault("activity_id", f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}")
    return message_activity(teams.connector.service_url, text=text,
                            tenant_id=tenant if tenant is not None else teams.tenant_id, user_id=user, **extra)


def bearer(teams: TeamsSetup, **claims: Any) -> str:
    return f"Bearer {teams.identity.token(teams.app_id, teams.connector.service_url, **claims)}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(teams: TeamsSetup) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "https://api.botframework.com", "aud": teams.app_id, "serviceurl": teams.connector.service_url,
            "nbf": now - 5, "exp": now + 600}


def alg_none(teams: TeamsSetup) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "stub-key-1"}).encode())
    return f"Bearer {header}.{b64(json.dumps(claims_for(teams)).encode())}."


def hs256_with_public_key(teams: TeamsSetup) -> str:
    public_pem = teams.identity.keys["stub-key-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = (f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': 'stub-key-1'}).encode())}."
                     f"{b64(json.dumps(claims_for(teams)).encode())}")
    return f"Bearer {signing_input}.{b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"


def bad_signature(teams: TeamsSetup) -> str:
    return "Bearer " + jwt.encode(claims_for(teams), new_rsa_key(), algorithm="RS256", headers={"kid": "stub-key-1"})


BAD_REQUESTS: dict[str, Callable[[TeamsSetup], str | None]] = {
    "missing token": lambda teams: None,
    "wrong issuer": lambda teams: bearer(teams, iss="https://sts.windows.net/not-bot-framework/"),
    "wrong audience": lambda teams: bearer(teams, aud=str(uuid.uuid4())),
    "expired": lambda teams: bearer(teams, exp=int(time.time()) - 600, nbf=int(time.time()) - 4000),
    "bad signature": bad_signature,
    "alg=none": alg_none,
    "HS256 signed with the public key": hs256_with_public_key,
    "serviceUrl mismatch": lambda teams: bearer(teams, serviceurl="https://attacker.example/teams/"),
    "unknown kid": lambda teams: bearer(teams, kid="unpublished"),
}


@pytest.fixture(scope="module")
def staff_answer() -> str:
    """What Ken Stimpson's policy says to staff about phones in lessons, straight from the retrieval core."""
    answer = PolicyAssistant.learned(Retriever(SchoolDirectory.load())).answer("ken-stimpson", PHONE_QUESTION, "staff")
    assert not answer.abstained
    return answer.text.split("\n")[0]


def test_a_staff_question_from_teams_gets_the_schools_cited_answer(rasa_server: str, teams: TeamsSetup,
                                                                  staff_answer: str) -> None:
    """A valid activity from a mapped tenant: Ken Stimpson's own rule, cited, posted back as a card with
    feedback actions to the activity's serviceUrl; the tracker holds school and role from the channel."""
    activity = new_activity(teams)
    authorization = bearer(teams)
    status = post_activity(rasa_server, activity, authorization)
    assert status == 200
    conversation = activity["conversation"]["id"]
    replies = teams.connector.wait_for_replies(conversation)
    assert replies, "a reply reached the fake Bot Connector"
    assert all(reply.authorized and reply.reply_to_id == activity["id"] for reply in replies)
    text = "\n".join(reply.text() for reply in replies)
    assert staff_answer in text
    assert "— Ken Stimpson Community School, E-Safety Policy" in text
    actions = [action for reply in replies for action in reply.actions()]
    assert {a["data"]["msteams"]["text"] for a in actions} >= {"/feedback_positive", "/feedback_negative"}
    teacher = sender_id(teams.app_password, teams.tenant_id, TEACHER, "ken-stimpson")
    slots = tracker_slots(rasa_server, teacher)
    assert (slots.get("school"), slots.get("role")) == ("ken-stimpson", "staff")
    [event] = [e for e in user_events(rasa_server, teacher) if e.get("message_id") == e["metadata"]["message_id"]]
    assert event["input_channel"] == "teams" and event["metadata"]["channel"] == "teams"

    # The same activity again (the Connector retrying): acknowledged, not answered or recorded twice.
    before = len(teams.connector.replies_to(conversation))
    status = post_activity(rasa_server, activity, authorization)
    assert status == 200
    assert len(teams.connector.replies_to(conversation)) == before
    assert len(user_events(rasa_server, teacher)) == 1

    # Pressing "👍" on the card posts the payload back as the next message.
    feedback = dict(activity, id=str(int(time.time() * 1000) + 1), text="/feedback_positive",
                    value={"payload": "/feedback_positive"})
    status = post_activity(rasa_server, feedback, bearer(teams))
    assert status == 200
    replies = teams.connector.wait_for_replies(conversation, before + 1)
    assert "thanks for letting me know" in replies[-1].text().lower()


def test_a_team_mapped_to_another_school_is_answered_from_that_schools_policy(rasa_server: str,
                                                                              teams: TeamsSetup) -> None:
    activity = new_activity(teams, text=f"<at>policybot</at> {PHONE_QUESTION}", user="29:1e2e-team-member",
                            conversation_type="channel",
                            team={"id": "19:e2e-staffroom@thread.tacv2", "aadGroupId": teams.group_id},
                            entities=[{"type": "mention", "text": "<at>policybot</at>",
                                       "mentioned": {"id": "28:policybot", "name": "policybot"}}])
    status = post_activity(rasa_server, activity, bearer(teams))
    assert status == 200
    text = "\n".join(r.text() for r in teams.connector.wait_for_replies(activity["conversation"]["id"]))
    assert "— Ouston Primary School, Online Safeguarding Policy" in text


@pytest.mark.parametrize("case", list(BAD_REQUESTS), ids=list(BAD_REQUESTS))
def test_a_request_that_is_not_from_the_bot_connector_is_401_and_reaches_nobody(rasa_server: str,
                                                                                teams: TeamsSetup,
                                                                                case: str) -> None:
    user = f"29:1e2e-intruder-{uuid.uuid4().hex[:8]}"
    activity = new_activity(teams, user=user)
    authorization = BAD_REQUESTS[case](teams)
    status = post_activity(rasa_server, activity, authorization)  # outside the assert: never print a token
    assert status == 401
    assert not teams.connector.replies_to(activity["conversation"]["id"]), "nothing was posted back"
    would_be = sender_id(teams.app_password, teams.tenant_id, user, "ken-stimpson")
    assert not user_events(rasa_server, would_be), "nothing was handed to Rasa"


def test_an_unknown_tenant_gets_a_polite_refusal_and_nothing_reaches_rasa(rasa_server: str,
                                                                          teams: TeamsSetup) -> None:
    stranger_tenant = str(uuid.uuid4())
    user = "29:1e2e-stranger"
    activity = new_activity(teams, tenant=stranger_tenant, user=user)
    status = post_activity(rasa_server, activity, bearer(teams))
    assert status == 200
    [reply] = teams.connector.wait_for_replies(activity["conversation"]["id"])
    assert reply.authorized and "hasn't been set up for your organisation" in reply.text()
    assert "Designated Safeguarding Lead" in reply.text()
    for slug in SchoolDirectory.load().slugs:
        assert not user_events(rasa_server, sender_id(teams.app_password, stranger_tenant, user, slug))
    assert not user_events(rasa_server, user)


def test_teams_message_text_stays_out_of_both_server_logs(rasa_server: str, servers: Any,
                                                          teams: TeamsSetup) -> None:
    canary = f"wombat-canary-{uuid.uuid4().hex[:8]}"
    activity = new_activity(teams, text=f"can I use my phone in lessons {canary}?", user="29:1e2e-canary")
    status = post_activity(rasa_server, activity, bearer(teams))
    assert status == 200
    assert teams.connector.wait_for_replies(activity["conversation"]["id"])
    for log in servers.logs:
        assert canary not in log.read_text(errors="replace"), f"message text leaked into {log.name}"


def test_a_disclosure_on_teams_is_recorded_once_keyed_by_the_activity(rasa_server: str, servers: Any,
                                                                      teams: TeamsSetup) -> None:
    """A member of staff passes on what a pupil told them: recorded for Ken Stimpson's DSL as channel "teams",
    role "staff", keyed by the activity (so the Connector's retry neither records nor answers twice)."""
    canary = f"numbat-canary-{uuid.uuid4().hex[:8]}"
    words = f"a year 8 girl told me this morning that her stepdad hits her with a belt {canary}"
    activity = new_activity(teams, text=words, user="29:1e2e-form-tutor")
    status = post_activity(rasa_server, activity, bearer(teams))
    assert status == 200
    replies = teams.connector.wait_for_replies(activity["conversation"]["id"])
    store = ConcernStore(f"sqlite:///{servers.workdir / 'concerns.db'}")
    ours = [c for c in store.list_concerns("ken-stimpson", "ken-stimpson-dsl", status="all") if c.channel == "teams"]
    assert len(ours) == 1 and ours[0].role == "staff"
    assert ours[0].reference in "\n".join(r.text() for r in replies)
    assert store.show(ours[0].reference, "ken-stimpson", "ken-stimpson-dsl").words == words
    engine = create_engine(f"sqlite:///{servers.workdir / 'concerns.db'}")
    with engine.connect() as connection:
        keyed_by = connection.execute(text("SELECT message_id FROM concerns WHERE reference = :r"),
                                      {"r": ours[0].reference}).scalar()
    engine.dispose()
    assert keyed_by == message_id(Activity.parse(activity))

    count = len(teams.connector.replies_to(activity["conversation"]["id"]))
    status = post_activity(rasa_server, activity, bearer(teams))  # the Connector retrying the same activity
    assert status == 200
    assert len(teams.connector.replies_to(activity["conversation"]["id"])) == count
    assert len([c for c in store.list_concerns("ken-stimpson", "ken-stimpson-dsl", status="all")
                if c.channel == "teams"]) == 1
    for log in servers.logs:
        assert canary not in log.read_text(errors="replace"), f"disclosure text leaked into {log.name}"


def test_naming_another_school_on_teams_never_moves_the_record(rasa_server: str, servers: Any,
                                                               teams: TeamsSetup) -> None:
    """The tenant is Ken Stimpson's: a question about Ouston is answered from Ouston's policy, a disclosure right
    after it is Ken Stimpson's record."""
    user = f"29:1e2e-pin-{uuid.uuid4().hex[:8]}"
    conversation = f"a:pin-{uuid.uuid4().hex}"
    question = new_activity(teams, text="what is the mobile phone rule at ouston primary?", user=user,
                            conversation_id=conversation)
    assert post_activity(rasa_server, question, bearer(teams)) == 200
    assert "Ouston Primary School" in "\n".join(r.text() for r in teams.connector.wait_for_replies(conversation))
    store = ConcernStore(f"sqlite:///{servers.workdir / 'concerns.db'}")
    ouston_before = len(store.list_concerns("ouston", "ouston-dsl", status="all"))
    before = len(teams.connector.replies_to(conversation))
    words = f"a boy in my form told me his dad beats him with a belt {uuid.uuid4().hex[:6]}"
    disclosure = new_activity(teams, text=words, user=user, conversation_id=conversation)
    assert post_activity(rasa_server, disclosure, bearer(teams)) == 200
    text = "\n".join(r.text() for r in teams.connector.wait_for_replies(conversation, before + 1))
    ours = [c for c in store.list_concerns("ken-stimpson", "ken-stimpson-dsl", status="all") if c.reference in text]
    assert len(ours) == 1
    assert len(store.list_concerns("ouston", "ouston-dsl", status="all")) == ouston_before


def test_an_activity_from_another_bot_framework_channel_is_403_and_reaches_nobody(rasa_server: str,
                                                                                  teams: TeamsSetup) -> None:
    """A genuine Connector token, but the activity says Web Chat (or nothing): not Teams, so not served."""
    for channel_id in ("webchat", None):
        user = f"29:1e2e-webchat-{uuid.uuid4().hex[:8]}"
        activity = new_activity(teams, user=user)
        if channel_id is None:
            del activity["channelId"]
        else:
            activity["channelId"] = channel_id
        assert post_activity(rasa_server, activity, bearer(teams)) == 403
        assert not teams.connector.replies_to(activity["conversation"]["id"])
        assert not user_events(rasa_server, sender_id(teams.app_password, teams.tenant_id, user, "ken-stimpson"))


def test_a_disclosure_in_a_team_channel_moves_to_a_personal_chat(rasa_server: str, servers: Any,
                                                                 teams: TeamsSetup) -> None:
    """In a team channel (the team mapped to Ouston) a member of staff passes on a disclosure: the channel gets
    one content-free line; the hand-off reply with its reference arrives in a personal chat the bot started; the
    record is Ouston's, keyed by the channel activity; the Rasa conversation is the person's own at Ouston."""
    user = f"29:1e2e-channel-{uuid.uuid4().hex[:8]}"
    canary = f"quokka-canary-{uuid.uuid4().hex[:8]}"
    words = f"a year 5 boy in my class told me his stepdad hits him with a belt {canary}"
    activity = new_activity(teams, text=f"<at>policybot</at> {words}", user=user, conversation_type="channel",
                            conversation_id=f"19:e2e-{uuid.uuid4().hex[:8]}@thread.tacv2;messageid=17",
                            team={"id": "19:e2e-staffroom@thread.tacv2", "aadGroupId": teams.group_id},
                            entities=[{"type": "mention", "text": "<at>policybot</at>",
                                       "mentioned": {"id": "28:policybot", "name": "policybot"}}])
    created_before = len(teams.connector.conversations)
    assert post_activity(rasa_server, activity, bearer(teams)) == 200

    in_channel = teams.connector.replies_to(activity["conversation"]["id"])
    assert [reply.activity.get("text") for reply in in_channel] == [MOVED_TO_PRIVATE_TEXT]
    created = teams.connector.conversations[created_before:]
    assert [(c["isGroup"], c["members"], c["channelData"]) for c in created] == [
        (False, [{"id": user}], {"tenant": {"id": teams.tenant_id}})]
    personal = personal_conversation_id(teams.tenant_id, user)
    private = teams.connector.wait_for_replies(personal)
    assert private and all(r.authorized and r.reply_to_id is None for r in private)
    said = "\n".join(r.text() for r in private)
    assert "999" in said

    store = ConcernStore(f"sqlite:///{servers.workdir / 'concerns.db'}")
    [record] = [c for c in store.list_concerns("ouston", "ouston-dsl", status="all") if c.reference in said]
    assert record.channel == "teams" and record.role == "staff"
    assert store.show(record.reference, "ouston", "ouston-dsl").words == words
    engine = create_engine(f"sqlite:///{servers.workdir / 'concerns.db'}")
    with engine.connect() as connection:
        keyed_by = connection.execute(text("SELECT message_id FROM concerns WHERE reference = :r"),
                                      {"r": record.reference}).scalar()
    engine.dispose()
    assert keyed_by == message_id(Activity.parse(activity))

    teacher = sender_id(teams.app_password, teams.tenant_id, user, "ouston")
    [event] = user_events(rasa_server, teacher)
    assert event["metadata"]["teams_conversation_type"] == "personal"
    assert event["metadata"]["teams_moved_from"] == "channel" and event["metadata"]["school"] == "ouston"

    # Their next message, in the personal chat, carries on the same conversation at Ouston (the tenant's own
    # school is Ken Stimpson).
    follow_up = new_activity(teams, text=PHONE_QUESTION, user=user, conversation_id=personal)
    assert post_activity(rasa_server, follow_up, bearer(teams)) == 200
    replies = teams.connector.wait_for_replies(personal, len(private) + 1)
    assert "Ouston Primary School" in "\n".join(r.text() for r in replies[len(private):])
    assert len(user_events(rasa_server, teacher)) == 2
    echoed = canary in "\n".join(json.dumps(r.activity) for r in in_channel)  # never print the channel's text
    assert not echoed, "the disclosure was echoed in the channel"
    for log in servers.logs:
        assert canary not in log.read_text(errors="replace"), f"disclosure text leaked into {log.name}"
