"""The DSL inbox over HTTP against the real server: sign-in with password and code, lock-out, CSRF, per-school
isolation, allegation routing, and a concern read, acknowledged, noted, actioned and closed, all audited."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

from bot import settings
from bot.dsl_inbox.accounts import MAX_FAILURES
from bot.safeguarding.records import ConcernStore
from bot.servers import VENV_BIN

from .conftest import OTHER_SCHOOL, PASSWORD, SCHOOL, Inbox, hidden


def audit_actions(inbox: Inbox, reference: str) -> list[tuple[str, str]]:
    record = inbox.store.show(reference, SCHOOL, "ks-dsl")
    return [(entry.action, entry.actor) for entry in record.history]


def test_the_password_alone_does_not_open_the_inbox(inbox: Inbox) -> None:
    client = inbox.client()
    csrf = hidden(client.get("/dsl/sign-in").text, "csrf")
    assert client.post("/dsl/sign-in", data={"csrf": csrf, "username": "ks-dsl", "password": PASSWORD}) \
        .status_code == 302
    listing = client.get("/dsl/concerns")
    assert listing.status_code == 302 and listing.headers["location"].startswith("/dsl/sign-in")


def test_a_wrong_password_and_an_unknown_name_get_the_same_refusal(inbox: Inbox) -> None:
    replies = []
    for name, password in (("ks-dsl", "not the password at all"), ("nobody-here", PASSWORD)):
        client = inbox.client()
        csrf = hidden(client.get("/dsl/sign-in").text, "csrf")
        reply = client.post("/dsl/sign-in", data={"csrf": csrf, "username": name, "password": password})
        replies.append((reply.status_code, "That name or password is not right." in reply.text,
                        "dsl_session" in client.cookies))
    assert replies == [(401, True, False), (401, True, False)]


def test_repeated_failures_lock_the_account_even_against_the_right_password_until_unlocked(inbox: Inbox) -> None:
    client = inbox.client()
    statuses = []
    for attempt in range(MAX_FAILURES + 1):
        csrf = hidden(client.get("/dsl/sign-in").text, "csrf")
        password = PASSWORD if attempt == MAX_FAILURES else f"wrong guess {attempt}"
        statuses.append(client.post("/dsl/sign-in", data={"csrf": csrf, "username": "ks-deputy",
                                                          "password": password}).status_code)
    assert statuses == [401] * (MAX_FAILURES - 1) + [429, 429]
    unlocked = subprocess.run([str(VENV_BIN / "policybot"), "dsl", "unlock", "--user", "ks-deputy"],
                              capture_output=True, text=True, env=inbox.server.environment(),
                              cwd=settings.PROJECT_ROOT, timeout=60)
    assert unlocked.returncode == 0, unlocked.stderr
    inbox.sign_in("ks-deputy")  # asserts the redirect into the inbox


def test_a_wrong_code_is_refused_and_a_used_code_cannot_be_replayed(inbox: Inbox) -> None:
    reader = inbox.readers["ks-code"]
    client = inbox.client()
    csrf = hidden(client.get("/dsl/sign-in").text, "csrf")
    client.post("/dsl/sign-in", data={"csrf": csrf, "username": "ks-code", "password": PASSWORD})
    csrf = hidden(client.get("/dsl/sign-in/code").text, "csrf")
    wrong = client.post("/dsl/sign-in/code", data={"csrf": csrf, "code": "000000" if reader.secret else "1"})
    good = reader.next_code()
    right = client.post("/dsl/sign-in/code", data={"csrf": csrf, "code": good})
    # The same code again, in a fresh sign-in: refused (someone who watched it typed cannot reuse it).
    again = inbox.client()
    csrf = hidden(again.get("/dsl/sign-in").text, "csrf")
    again.post("/dsl/sign-in", data={"csrf": csrf, "username": "ks-code", "password": PASSWORD})
    csrf = hidden(again.get("/dsl/sign-in/code").text, "csrf")
    replayed = again.post("/dsl/sign-in/code", data={"csrf": csrf, "code": good})
    assert (wrong.status_code, right.status_code, replayed.status_code) == (401, 302, 401)


def test_a_concern_is_read_acknowledged_noted_actioned_and_closed_and_every_step_is_audited(inbox: Inbox) -> None:
    reference = inbox.record(words="he said he would hurt my dog if I told [canary-inbox-5521]")
    client = inbox.session("ks-dsl")
    listing = client.get("/dsl/concerns")
    assert listing.status_code == 200 and reference in listing.text
    assert "canary-inbox-5521" not in listing.text  # the list shows no words
    page = client.get(f"/dsl/concerns/{reference}")
    assert "canary-inbox-5521" in page.text
    csrf = hidden(page.text, "csrf")
    steps = [
        ("acknowledge", {}),
        ("note", {"text": "Spoke to the pupil at break [note-canary-881]"}),
        ("action", {"action": "referred_csc", "text": "Called the MASH"}),
        ("close", {"outcome": "referred_csc", "text": "Handed to social care"}),
    ]
    for step, fields in steps:
        reply = client.post(f"/dsl/concerns/{reference}/{step}", data={"csrf": csrf, **fields})
        assert reply.status_code == 303, (step, reply.text[:300])
        assert reply.headers["location"] == f"/dsl/concerns/{reference}?done={step}"
    final = client.get(f"/dsl/concerns/{reference}?done=close").text
    assert "Closed." in final and "note-canary-881" in final and "Referred to children&#39;s social care" in final
    actions = audit_actions(inbox, reference)
    assert [action for action, _ in actions if action != "read"] == [
        "created", "acknowledged", "noted", "action_recorded", "closed"]
    assert ("read", "ks-dsl") in actions
    assert inbox.store.verify_audit().ok


def test_a_step_the_status_does_not_allow_is_refused_with_a_clear_message_and_changes_nothing(inbox: Inbox) -> None:
    reference = inbox.record()
    client = inbox.session("ks-dsl")
    csrf = hidden(client.get(f"/dsl/concerns/{reference}").text, "csrf")
    reply = client.post(f"/dsl/concerns/{reference}/close", data={"csrf": csrf, "outcome": "monitoring"})
    assert reply.status_code == 400
    assert "only an &#39;acknowledged&#39; concern can be closed; acknowledge it first" in reply.text
    assert inbox.store.show(reference, SCHOOL, "ks-dsl").status == "new"


def test_a_change_without_the_form_token_or_from_another_site_is_refused(inbox: Inbox) -> None:
    reference = inbox.record()
    client = inbox.session("ks-dsl")
    csrf = hidden(client.get(f"/dsl/concerns/{reference}").text, "csrf")
    no_token = client.post(f"/dsl/concerns/{reference}/acknowledge", data={})
    forged_origin = client.post(f"/dsl/concerns/{reference}/acknowledge", data={"csrf": csrf},
                                headers={"Origin": "https://evil.example"})
    assert (no_token.status_code, forged_origin.status_code) == (403, 403)
    assert inbox.store.show(reference, SCHOOL, "ks-dsl").status == "new"
    # The sign-in form has its own token: a post without it (login CSRF) is refused too.
    fresh = inbox.client()
    refused = fresh.post("/dsl/sign-in", data={"username": "ks-dsl", "password": PASSWORD})
    assert refused.status_code == 403 and "dsl_session" not in fresh.cookies


def test_another_schools_reader_sees_none_of_it(inbox: Inbox) -> None:
    reference = inbox.record(words="only for ken stimpson [iso-canary-301]")
    other = inbox.session("ouston-dsl")
    listing = other.get("/dsl/concerns?status=all")
    assert listing.status_code == 200 and reference not in listing.text
    page = other.get(f"/dsl/concerns/{reference}")
    assert page.status_code == 404 and "iso-canary-301" not in page.text
    csrf = hidden(other.get("/dsl/concerns").text, "csrf")
    assert other.post(f"/dsl/concerns/{reference}/acknowledge", data={"csrf": csrf}).status_code == 404
    assert inbox.store.show(reference, SCHOOL, "ks-dsl").status == "new"
    # And the other school's own concern is there for its reader.
    theirs = inbox.record(school=OTHER_SCHOOL)
    assert theirs in other.get("/dsl/concerns").text


def test_an_allegation_about_staff_is_read_by_the_headteacher_not_the_dsl(inbox: Inbox) -> None:
    reference = inbox.record(words="a teacher keeps messaging me on snapchat", category="staff_conduct")
    dsl, head = inbox.session("ks-dsl"), inbox.session("ks-head")
    assert reference not in dsl.get("/dsl/concerns").text
    assert dsl.get(f"/dsl/concerns/{reference}").status_code == 404
    assert reference in head.get("/dsl/concerns").text
    assert head.get(f"/dsl/concerns/{reference}").status_code == 200


def test_the_email_link_leads_through_sign_in_to_the_concern(inbox: Inbox) -> None:
    reference = inbox.record()
    client = inbox.client()
    first = client.get(f"/dsl/concerns/{reference}")
    assert first.status_code == 302 and first.headers["location"] == f"/dsl/sign-in?next=/dsl/concerns/{reference}"
    page = client.get(first.headers["location"])
    csrf, next_ = hidden(page.text, "csrf"), hidden(page.text, "next")
    assert next_ == f"/dsl/concerns/{reference}"
    step = client.post("/dsl/sign-in", data={"csrf": csrf, "username": "ks-link", "password": PASSWORD,
                                             "next": next_})
    code_page = client.get(step.headers["location"])
    done = client.post("/dsl/sign-in/code", data={"csrf": hidden(code_page.text, "csrf"),
                                                  "next": hidden(code_page.text, "next"),
                                                  "code": inbox.readers["ks-link"].next_code()})
    assert done.headers["location"] == f"/dsl/concerns/{reference}"


def test_a_next_address_outside_the_inbox_is_ignored(inbox: Inbox) -> None:
    page = inbox.client().get("/dsl/sign-in?next=https://evil.example/")
    assert hidden(page.text, "next") == ""


def test_pages_carry_a_strict_policy_and_the_session_cookie_is_httponly_secure_and_scoped(inbox: Inbox) -> None:
    client = inbox.client()
    page = client.get("/dsl/sign-in")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    csrf = hidden(page.text, "csrf")
    reply = client.post("/dsl/sign-in", data={"csrf": csrf, "username": "ks-dsl", "password": PASSWORD})
    cookie = next(value for name, value in reply.headers.multi_items()
                  if name == "set-cookie" and value.startswith("dsl_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/dsl"} <= flags


def test_signing_out_ends_the_session_on_the_server(inbox: Inbox) -> None:
    client = inbox.sign_in("ks-out")
    old_cookie = client.cookies["dsl_session"]
    csrf = hidden(client.get("/dsl/concerns").text, "csrf")
    assert client.post("/dsl/sign-out", data={"csrf": csrf}).status_code == 200
    assert "dsl_session" not in client.cookies
    replay = inbox.client()
    replay.cookies["dsl_session"] = old_cookie
    assert replay.get("/dsl/concerns").status_code == 302


def test_undelivered_notifications_older_than_15_minutes_are_shown_as_an_alert(inbox: Inbox) -> None:
    earlier = ConcernStore(inbox.store.url, schools=inbox.store.schools, config=inbox.store.config,
                           clock=lambda: datetime.now(timezone.utc) - timedelta(minutes=20))
    earlier.record(message_id=f"overdue-{datetime.now().timestamp()}", school=OTHER_SCHOOL, role="pupil",
                   channel="webchat", urgency="high", category="neglect", kind="disclosure", words="no food")
    page = inbox.session("ouston-dsl").get("/dsl/concerns").text
    assert "not been delivered for over 15 minutes" in page


def test_no_record_content_reaches_the_inbox_servers_log(inbox: Inbox, inbox_log) -> None:
    reference = inbox.record(words="log canary [inbox-log-canary-9917]")
    client = inbox.session("ks-dsl")
    client.get(f"/dsl/concerns/{reference}")
    csrf = hidden(client.get(f"/dsl/concerns/{reference}").text, "csrf")
    client.post(f"/dsl/concerns/{reference}/note", data={"csrf": csrf, "text": "note [inbox-log-canary-9918]"})
    text = inbox_log()
    assert "inbox-log-canary-9917" not in text and "inbox-log-canary-9918" not in text
