"""The web chat's security rules: signed conversation tokens, socket bindings, origins, what a browser may send."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from channels.webchat.security import (CLOCK_SKEW_S, MAX_CLIENT_MESSAGE_ID_CHARS, Bindings, Conversation,
                                       ConversationSigner, IncomingMessage, OriginPolicy, Refusal, browser_metadata,
                                       load_secret, normalise_origin, page_binding, read_message, scoped_message_id,
                                       server_origins)

SECRET = b"s" * 32
SCHOOLS = frozenset({"ouston", "ken-stimpson"})
ROLES = ("pupil", "parent")


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def signer(clock: Clock | None = None, secret: bytes = SECRET, max_age_s: float = 3600) -> ConversationSigner:
    return ConversationSigner(secret, max_age_s, clock or Clock())


# ------------------------------------------------------------------------------------------------ tokens
def test_a_minted_token_verifies_for_its_school_and_role_and_names_the_same_conversation() -> None:
    tokens = signer()
    minted = tokens.mint("ouston", "pupil")
    again = tokens.verify(minted.token, "ouston", "pupil")
    assert again == minted
    assert minted.sender_id == f"web-{minted.nonce}" and len(minted.nonce) == 32


def test_the_sender_id_does_not_contain_the_tokens_signature() -> None:
    """Knowing Rasa's conversation id (tracker store, logs) must not be enough to continue the conversation."""
    minted = signer().mint("ouston", "pupil")
    mac = minted.token.rsplit(".", 1)[1]
    assert mac not in minted.sender_id
    assert signer().verify(minted.sender_id, "ouston", "pupil") is None
    assert signer().verify(minted.nonce, "ouston", "pupil") is None


def test_every_mint_is_a_new_unguessable_conversation() -> None:
    tokens = signer()
    nonces = {tokens.mint("ouston", "pupil").nonce for _ in range(200)}
    assert len(nonces) == 200


@pytest.mark.parametrize("school, role", [("ken-stimpson", "pupil"), ("ouston", "parent"), (None, None)])
def test_a_token_minted_for_one_page_does_not_verify_for_another(school: str | None, role: str | None) -> None:
    minted = signer().mint("ouston", "pupil")
    assert signer().verify(minted.token, school, role) is None


def test_a_token_signed_with_another_secret_is_refused() -> None:
    minted = signer(secret=b"a" * 32).mint("ouston", "pupil")
    assert signer(secret=b"b" * 32).verify(minted.token, "ouston", "pupil") is None


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # signature changed
    lambda t: t.replace("w1.", "w2.", 1),  # version changed
    lambda t: "w1." + "f" * 32 + t[35:],  # another nonce with this signature
    lambda t: t.upper(),
    lambda t: t + ".",
    lambda t: "",
])
def test_a_forged_or_altered_token_is_refused(tamper) -> None:
    minted = signer().mint("ouston", "pupil")
    assert signer().verify(tamper(minted.token), "ouston", "pupil") is None


@pytest.mark.parametrize("claimed", [None, 42, ["w1"], {"token": "x"}, "a" * 10_000])
def test_anything_that_is_not_a_token_is_refused(claimed: object) -> None:
    assert signer().verify(claimed, "ouston", "pupil") is None


def test_a_token_expires_after_the_maximum_age() -> None:
    clock = Clock()
    tokens = signer(clock, max_age_s=3600)
    minted = tokens.mint("ouston", "pupil")
    clock.now += 3600
    assert tokens.verify(minted.token, "ouston", "pupil") == minted
    clock.now += 1
    assert tokens.verify(minted.token, "ouston", "pupil") is None


def test_a_token_from_the_future_is_refused_beyond_the_clock_skew() -> None:
    clock = Clock()
    tokens = signer(clock)
    minted = tokens.mint("ouston", "pupil")
    clock.now -= CLOCK_SKEW_S
    assert tokens.verify(minted.token, "ouston", "pupil") == minted
    clock.now -= 1
    assert tokens.verify(minted.token, "ouston", "pupil") is None


def test_the_signer_refuses_a_short_secret_and_a_bad_age() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes; got 31"):
        ConversationSigner(b"x" * 31, 3600)
    with pytest.raises(ValueError, match="must be positive; got 0"):
        ConversationSigner(SECRET, 0)


# ------------------------------------------------------------------------------------------------ secret
def test_the_secret_file_is_created_once_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "artifacts" / "webchat-secret"
    first = load_secret(path)
    assert len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(path) == first, "a restart keeps the secret, so open conversations carry on"


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "webchat-secret"
    load_secret(path)
    os.chmod(path, 0o644)
    with pytest.raises(ValueError, match=r"can be read by other accounts \(mode 0644\); run: chmod 600"):
        load_secret(path)


def test_a_short_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "webchat-secret"
    path.write_text("short\n")
    os.chmod(path, 0o600)
    with pytest.raises(ValueError, match="holds 5 characters; a web chat secret needs at least 32"):
        load_secret(path)


def test_a_secret_from_the_environment_wins_and_no_file_is_made(tmp_path: Path) -> None:
    path = tmp_path / "webchat-secret"
    assert load_secret(path, "e" * 40) == b"e" * 40
    assert not path.exists()
    with pytest.raises(ValueError, match="at least 32 characters; got 5"):
        load_secret(path, "short")


# ------------------------------------------------------------------------------------------------ bindings
def conversation(nonce: str = "a" * 32) -> Conversation:
    return Conversation(nonce, 0, "ouston", "pupil", f"w1.{nonce}.0.{'0' * 64}")


def test_a_socket_speaks_for_the_conversation_bound_to_it_and_replies_go_only_to_it() -> None:
    async def scenario() -> None:
        bindings = Bindings()
        assert await bindings.bind("sid-1", conversation()) is None
        assert await bindings.conversation("sid-1") == conversation()
        assert await bindings.socket_for(conversation().sender_id) == "sid-1"
        assert await bindings.conversation("sid-2") is None

    asyncio.run(scenario())


def test_the_latest_socket_to_prove_the_token_takes_the_conversation_over() -> None:
    async def scenario() -> None:
        bindings = Bindings()
        await bindings.bind("sid-old", conversation())
        assert await bindings.bind("sid-new", conversation()) == "sid-old", "the caller disconnects the old socket"
        assert await bindings.socket_for(conversation().sender_id) == "sid-new"
        assert await bindings.conversation("sid-old") is None
        assert len(bindings) == 1

    asyncio.run(scenario())


def test_a_socket_that_starts_another_conversation_leaves_the_first() -> None:
    async def scenario() -> None:
        bindings = Bindings()
        await bindings.bind("sid-1", conversation("a" * 32))
        await bindings.bind("sid-1", conversation("b" * 32))
        assert await bindings.socket_for(conversation("a" * 32).sender_id) is None
        assert await bindings.socket_for(conversation("b" * 32).sender_id) == "sid-1"

    asyncio.run(scenario())


def test_a_disconnect_unbinds_but_an_old_sockets_disconnect_does_not_unbind_the_new_one() -> None:
    async def scenario() -> None:
        bindings = Bindings()
        await bindings.bind("sid-old", conversation())
        await bindings.bind("sid-new", conversation())
        await bindings.unbind("sid-old")
        assert await bindings.socket_for(conversation().sender_id) == "sid-new"
        await bindings.unbind("sid-new")
        assert await bindings.socket_for(conversation().sender_id) is None
        assert len(bindings) == 0

    asyncio.run(scenario())


# ------------------------------------------------------------------------------------------------ origins
def environ(host: str = "chat.example:5005", scheme: str = "http", **headers: str) -> dict[str, str]:
    return {"HTTP_HOST": host, "wsgi.url_scheme": scheme, **headers}


def test_the_servers_own_origin_is_allowed_without_any_configuration() -> None:
    policy = OriginPolicy()
    assert policy.allows("http://chat.example:5005", server_origins(environ()))
    assert policy.allows("http://localhost:5005", server_origins(environ("localhost:5005")))


def test_another_origin_is_refused_unless_configured() -> None:
    own = server_origins(environ())
    assert not OriginPolicy().allows("https://evil.example", own)
    assert not OriginPolicy().allows("http://chat.example:5006", own), "another port is another origin"
    assert not OriginPolicy().allows("https://chat.example:5005", own), "another scheme is another origin"
    assert OriginPolicy(("https://www.ouston.example",)).allows("https://www.ouston.example", own)
    assert not OriginPolicy(("https://www.ouston.example",)).allows("https://www.ouston.example.evil.test", own)


@pytest.mark.parametrize("origin", ["null", "file://", "https://", "javascript:alert(1)", "https://a b"])
def test_opaque_and_malformed_origins_are_refused(origin: str) -> None:
    assert not OriginPolicy(("https://www.ouston.example",)).allows(origin, server_origins(environ()))


def test_a_request_without_an_origin_is_not_a_web_page_and_is_let_through() -> None:
    assert OriginPolicy().allows(None, set())
    assert OriginPolicy().allows("", set())


def test_behind_a_proxy_the_forwarded_scheme_and_host_count_as_the_servers_own() -> None:
    own = server_origins(environ("127.0.0.1:5005", HTTP_X_FORWARDED_PROTO="https",
                                 HTTP_X_FORWARDED_HOST="chat.school.example, proxy.internal"))
    assert OriginPolicy().allows("https://chat.school.example", own)


def test_a_websocket_requests_scheme_counts_as_its_http_scheme() -> None:
    own = server_origins({"HTTP_HOST": "chat.example"}, request_scheme="wss")
    assert own == {"https://chat.example"}


@pytest.mark.parametrize("raw, expected", [
    ("https://www.School.example/", "https://www.school.example"),
    ("https://www.school.example:443", "https://www.school.example"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("http://[::1]:5005", "http://[::1]:5005"),
])
def test_origins_are_compared_in_the_form_browsers_send(raw: str, expected: str) -> None:
    assert normalise_origin(raw) == expected


def test_a_wildcard_or_a_path_is_refused_with_an_exact_error() -> None:
    with pytest.raises(ValueError, match=r"'\*' would let any website use the chat"):
        OriginPolicy(("*",))
    with pytest.raises(ValueError, match=r"allowed origin 'https://school.example/chat' must be a scheme and host"):
        normalise_origin("https://school.example/chat")


def test_frame_ancestors_lists_the_server_and_the_configured_origins() -> None:
    assert OriginPolicy().frame_ancestors() == "'self'"
    assert OriginPolicy(("https://www.ouston.example/",)).frame_ancestors() == "'self' https://www.ouston.example"


# ------------------------------------------------------------------------------------------------ handshake
def test_the_pages_school_and_role_come_from_the_handshake_query() -> None:
    assert page_binding("school=ouston&role=parent&EIO=4", SCHOOLS, ROLES) == ("ouston", "parent")
    assert page_binding("school=ouston&EIO=4", SCHOOLS, ROLES) == ("ouston", "pupil")
    assert page_binding("school=ouston&role=staff", SCHOOLS, ROLES) == ("ouston", "pupil"), "not offered"


@pytest.mark.parametrize("query", ["", "EIO=4&transport=polling", "school=atlantis&role=parent", "school="])
def test_a_handshake_without_a_known_school_binds_no_page(query: str) -> None:
    assert page_binding(query, SCHOOLS, ROLES) == (None, None)


# ------------------------------------------------------------------------------------------------ messages
PAGE = Conversation("c" * 32, 0, "ouston", "pupil", "w1.token")
NO_PAGE = Conversation("d" * 32, 0, None, None, "w1.token")


def test_a_message_keeps_only_school_and_role_and_ignores_its_claimed_session_id() -> None:
    incoming = read_message({"message": "can I use my phone?", "session_id": "w1.someone-else",
                             "customData": {"school": "ouston", "role": "pupil", "trust_staff": True,
                                            "full_text": "injected"}}, NO_PAGE, SCHOOLS, ROLES)
    assert isinstance(incoming, IncomingMessage)
    assert incoming.text == "can I use my phone?"
    assert incoming.metadata == {"school": "ouston", "role": "pupil"}
    assert incoming.message_id is None


def test_a_pages_school_and_role_win_over_what_a_message_claims() -> None:
    assert browser_metadata({"school": "ken-stimpson", "role": "parent"}, PAGE, SCHOOLS, ROLES) == {
        "school": "ouston", "role": "pupil"}


@pytest.mark.parametrize("claimed, expected", [
    ({"school": "atlantis", "role": "headteacher"}, {}),
    ({"school": ["ouston"], "role": {"x": 1}}, {}),
    ("not a mapping", {}),
    (None, {}),
    ({"role": "parent"}, {"role": "parent"}),
])
def test_unknown_or_malformed_metadata_is_dropped(claimed: object, expected: dict) -> None:
    assert browser_metadata(claimed, NO_PAGE, SCHOOLS, ROLES) == expected


def test_metadata_may_come_as_json_text_under_either_key() -> None:
    incoming = read_message({"message": "hi", "metadata": '{"school": "ouston"}'}, NO_PAGE, SCHOOLS, ROLES)
    assert isinstance(incoming, IncomingMessage) and incoming.metadata == {"school": "ouston"}
    broken = read_message({"message": "hi", "metadata": "{not json"}, NO_PAGE, SCHOOLS, ROLES)
    assert isinstance(broken, IncomingMessage) and broken.metadata == {}


@pytest.mark.parametrize("data, reason", [
    (None, "not_a_message"), ("just text", "not_a_message"), ({"message": 42}, "not_a_message"),
    ({}, "not_a_message"), ({"message": "   "}, "empty"),
])
def test_a_payload_that_is_not_a_message_is_refused_with_a_reason(data: object, reason: str) -> None:
    assert read_message(data, PAGE, SCHOOLS, ROLES) == Refusal(reason)


def test_the_size_limit_is_on_characters_and_inclusive() -> None:
    at_limit = read_message({"message": "x" * 2000}, PAGE, SCHOOLS, ROLES)
    over = read_message({"message": "x" * 2001}, PAGE, SCHOOLS, ROLES)
    assert isinstance(at_limit, IncomingMessage) and not at_limit.too_long(2000)
    assert isinstance(over, IncomingMessage) and over.too_long(2000)


def test_a_message_never_shows_its_text_in_its_repr() -> None:
    incoming = read_message({"message": "a private worry"}, PAGE, SCHOOLS, ROLES)
    assert "private" not in repr(incoming)


def test_a_clients_message_id_is_stable_within_its_conversation_and_different_across_conversations() -> None:
    first = read_message({"message": "hi", "message_id": "m-1"}, PAGE, SCHOOLS, ROLES)
    retry = read_message({"message": "hi", "message_id": "m-1"}, PAGE, SCHOOLS, ROLES)
    elsewhere = read_message({"message": "hi", "message_id": "m-1"}, NO_PAGE, SCHOOLS, ROLES)
    assert isinstance(first, IncomingMessage) and isinstance(retry, IncomingMessage)
    assert isinstance(elsewhere, IncomingMessage)
    assert first.message_id == retry.message_id
    assert first.message_id != elsewhere.message_id
    assert first.message_id is not None and "m-1" not in first.message_id


@pytest.mark.parametrize("client_id", [None, "", 7, ["m"], "x" * (MAX_CLIENT_MESSAGE_ID_CHARS + 1)])
def test_an_unusable_client_message_id_is_ignored(client_id: object) -> None:
    assert scoped_message_id("web-x", client_id) is None
    assert scoped_message_id("web-x", "x" * MAX_CLIENT_MESSAGE_ID_CHARS) is not None
