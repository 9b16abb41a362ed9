"""Reading Teams activities and rendering replies (channels/teams_activity.py, channels/teams_cards.py)."""

from __future__ import annotations

import pytest

from channels.teams_activity import Activity, ActivityError, PrivateChats, RecentActivities, message_id, sender_id
from channels.teams_cards import ADAPTIVE_CARD, card_action, reply_activity, text_activity
from e2e.teams.stubs import message_activity

SERVICE_URL = "https://smba.trafficmanager.net/emea/"
TENANT = "1111aaaa-2222-4333-8444-55555555555b"
ANSWER = ("Staff & other adults — use of mobile phones in lessons: allowed at certain times\n"
          "— Ken Stimpson Community School, E-Safety Policy, section 4. Communications (March 2021)\n"
          "Note: this policy was due for review by March 2022, so it may have changed since.")
HELPFUL = [{"title": "👍 Yes, that helped", "payload": "/feedback_positive"},
           {"title": "👎 Not really", "payload": "/feedback_negative"}]


def activity(text: str = "can I use my phone in lessons?", **overrides: object) -> dict:
    return message_activity(SERVICE_URL, text=text, tenant_id=TENANT, user_id="29:user-1",
                            conversation_id="a:conv-1", activity_id="1700", **overrides)


def test_a_personal_message_is_read() -> None:
    parsed = Activity.parse(activity())
    assert (parsed.type, parsed.id, parsed.service_url, parsed.tenant_id) == ("message", "1700", SERVICE_URL, TENANT)
    assert (parsed.conversation_id, parsed.user_id, parsed.bot_id) == ("a:conv-1", "29:user-1", "28:policybot")
    assert parsed.text == "can I use my phone in lessons?" and parsed.team_ids == ()
    assert "phone" not in repr(parsed), "the text stays out of repr (and so out of logs)"


def test_the_bot_mention_is_removed_from_a_channel_message() -> None:
    body = activity(text="<at>policybot</at> can I use my phone in lessons?",
                    entities=[{"type": "mention", "text": "<at>policybot</at>",
                               "mentioned": {"id": "28:policybot", "name": "policybot"}},
                              {"type": "clientInfo", "locale": "en-GB"}],
                    team={"id": "19:team@thread.tacv2", "aadGroupId": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"})
    parsed = Activity.parse(body)
    assert parsed.text == "can I use my phone in lessons?"
    assert parsed.team_ids == ("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "19:team@thread.tacv2")


def test_a_card_submit_without_text_carries_its_payload() -> None:
    assert Activity.parse(activity(text="", value={"payload": "/feedback_positive"})).text == "/feedback_positive"


def test_tenant_comes_from_channel_data_or_conversation_and_contradictions_are_unknown() -> None:
    body = activity()
    del body["conversation"]["tenantId"]
    assert Activity.parse(body).tenant_id == TENANT
    body = activity()
    body["channelData"] = {}
    assert Activity.parse(body).tenant_id == TENANT
    body = activity()
    body["conversation"]["tenantId"] = "99999999-0000-4000-8000-000000000000"
    assert Activity.parse(body).tenant_id is None


@pytest.mark.parametrize("field", ["serviceUrl", "id", "from", "conversation", "recipient"])
def test_a_message_lacking_what_a_reply_needs_is_an_exact_error(field: str) -> None:
    body = activity()
    del body[field]
    with pytest.raises(ActivityError, match=f"the activity has no usable '{field}"):
        Activity.parse(body)


def test_non_message_activities_need_only_a_service_url() -> None:
    parsed = Activity.parse({"type": "conversationUpdate", "serviceUrl": SERVICE_URL})
    assert parsed.type == "conversationUpdate" and parsed.text == ""
    with pytest.raises(ActivityError, match="not a JSON object"):
        Activity.parse(["x"])


def test_the_message_id_is_stable_per_activity_and_distinct_across_conversations() -> None:
    first = message_id(Activity.parse(activity()))
    assert first == message_id(Activity.parse(activity())) and first.startswith("teams:") and len(first) <= 128
    other = activity()
    other["conversation"]["id"] = "a:conv-2"
    assert message_id(Activity.parse(other)) != first


def test_the_sender_id_is_keyed_and_does_not_reveal_the_teams_user() -> None:
    one = sender_id("secret", TENANT, "29:user-1", "ouston")
    assert one == sender_id("secret", TENANT.upper(), "29:user-1", "ouston")
    assert one.startswith("teams-") and "user-1" not in one
    assert one != sender_id("other-secret", TENANT, "29:user-1", "ouston"), "unguessable without the secret"
    assert one != sender_id("secret", TENANT, "29:user-1", "wyre-forest"), "one conversation per school"


def test_recent_activities_remember_for_a_while_within_a_bound() -> None:
    now = [0.0]
    recent = RecentActivities(capacity=3, ttl_s=60, clock=lambda: now[0])
    assert recent.first_time("a") and not recent.first_time("a")
    now[0] = 61
    assert recent.first_time("a"), "forgotten after the time limit"
    for key in "bcd":
        assert recent.first_time(key)
    assert recent.first_time("a"), "the oldest is dropped when full"
    recent.forget("d")
    assert recent.first_time("d")


def test_an_answer_becomes_an_adaptive_card_with_a_compact_citation_and_feedback_actions() -> None:
    reply = reply_activity(ANSWER, HELPFUL)
    [attachment] = reply["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    quote, citation, note = card["body"]
    assert quote["text"].startswith("Staff & other adults") and "size" not in quote
    assert citation["text"].startswith("— Ken Stimpson Community School")
    assert citation["size"] == "Small" and citation["isSubtle"] and citation["spacing"] == "None"
    assert note["color"] == "Warning"
    assert card["actions"] == [
        {"type": "Action.Submit", "title": "👍 Yes, that helped",
         "data": {"msteams": {"type": "messageBack", "displayText": "👍 Yes, that helped",
                              "text": "/feedback_positive"}}},
        {"type": "Action.Submit", "title": "👎 Not really",
         "data": {"msteams": {"type": "messageBack", "displayText": "👎 Not really", "text": "/feedback_negative"}}}]


def test_buttons_without_a_citation_still_make_a_card_and_plain_text_stays_text() -> None:
    payload = '/inform_school{"school":"ouston"}'
    card = reply_activity("Which school are you from?", [{"title": "Ouston", "payload": payload}])
    assert card["attachments"][0]["content"]["actions"][0]["data"]["msteams"]["text"] == payload
    plain = reply_activity("Thanks!\nWhat would you like to know?")
    assert plain == {"type": "message", "text": "Thanks!\n\nWhat would you like to know?", "textFormat": "markdown"}
    assert text_activity("a\n\n\nb")["text"] == "a\n\nb"


def test_url_buttons_open_https_links_only() -> None:
    assert card_action({"title": "Policy", "url": "https://school.example/policy.pdf"}) == {
        "type": "Action.OpenUrl", "title": "Policy", "url": "https://school.example/policy.pdf"}
    assert card_action({"title": "Bad", "url": "javascript:alert(1)"}) is None


def test_private_chats_remember_the_school_per_person_for_a_sliding_while() -> None:
    now = [0.0]
    chats = PrivateChats(capacity=2, ttl_s=60.0, clock=lambda: now[0])
    chats.remember(TENANT.upper(), "29:a", "ouston", "a:personal-a")
    assert chats.school_for("a:personal-a", TENANT, "29:a") == "ouston"
    assert chats.school_for("a:some-other-chat", TENANT, "29:a") is None, "only the chat they were moved to"
    assert chats.school_for("a:personal-a", TENANT, "29:b") is None, "only the person moved"
    assert chats.moved(TENANT, "29:a", "ouston") and not chats.moved(TENANT, "29:a", "ken-stimpson")
    now[0] = 59.0
    assert chats.moved(TENANT, "29:a", "ouston"), "used again: the time limit starts again"
    now[0] = 118.0
    assert chats.school_for("a:personal-a", TENANT, "29:a") == "ouston"
    now[0] = 179.0
    assert chats.school_for("a:personal-a", TENANT, "29:a") is None and not chats.moved(TENANT, "29:a", "ouston")
    chats.remember(TENANT, "29:a", "ouston", "a:personal-a")
    chats.remember(TENANT, "29:b", "ouston", "a:personal-b")
    chats.remember(TENANT, "29:c", "ouston", "a:personal-c")
    assert not chats.moved(TENANT, "29:a", "ouston"), "bounded: the oldest is forgotten first"
    assert chats.moved(TENANT, "29:c", "ouston") and chats.moved(TENANT, "29:b", "ouston")
    assert chats.school_for(None, TENANT, "29:b") is None and not chats.moved(None, "29:b", "ouston")
