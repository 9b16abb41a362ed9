"""Inbound Bot Framework tokens (channels/teams_auth.py), against a loopback OpenID/JWKS server with local RSA keys."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from channels.teams_auth import (AuthError, KeysUnavailable, NotEndorsed, SigningKeys, TokenValidator,
                                 check_service_url, check_url, fetch_json)
from e2e.teams.stubs import IdentityStub, new_rsa_key

APP_ID = str(uuid.uuid4())
SERVICE_URL = "https://smba.trafficmanager.net/emea/"


@pytest.fixture(scope="module")
def identity() -> Iterator[IdentityStub]:
    stub = IdentityStub().start()
    stub.add_key("unpublished", publish=False)
    try:
        yield stub
    finally:
        stub.stop()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def check(validator: TokenValidator, authorization: str | None, service_url: str = SERVICE_URL,
          channel_id: str | None = "msteams") -> dict[str, Any]:
    """What the channel does: the token, then its serviceUrl against the activity's."""
    claims = asyncio.run(validator.validate(authorization, channel_id))
    check_service_url(claims, service_url)
    return claims


def refusal(validator: TokenValidator, authorization: str | None, service_url: str = SERVICE_URL,
            channel_id: str | None = "msteams") -> str:
    with pytest.raises(AuthError) as refused:
        check(validator, authorization, service_url, channel_id)
    return refused.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_claims() -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "https://api.botframework.com", "aud": APP_ID, "serviceurl": SERVICE_URL, "exp": now + 600,
            "nbf": now - 5}


@pytest.fixture
def validator(identity: IdentityStub) -> TokenValidator:
    return TokenValidator(APP_ID, SigningKeys(identity.openid_url))


def test_a_valid_connector_token_is_accepted(identity: IdentityStub, validator: TokenValidator) -> None:
    claims = check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL)}")
    assert claims["aud"] == APP_ID and claims["iss"] == "https://api.botframework.com"


def test_a_trailing_slash_difference_in_the_service_url_is_not_a_mismatch(identity: IdentityStub,
                                                                         validator: TokenValidator) -> None:
    check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL.rstrip('/'))}")


def test_a_few_minutes_of_clock_skew_are_tolerated(identity: IdentityStub, validator: TokenValidator) -> None:
    now = int(time.time())
    check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL, exp=now - 120)}")
    check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL, nbf=now + 120)}")


def hs256_with_the_public_key(identity: IdentityStub) -> str:
    """The classic confusion attack: HMAC-sign with the server's *public* key as the shared secret."""
    public_pem = identity.keys["stub-key-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': 'stub-key-1'}).encode())}." \
                    f"{b64(json.dumps(unsigned_claims()).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def alg_none(_identity: IdentityStub) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "stub-key-1"}).encode())
    return f"{header}.{b64(json.dumps(unsigned_claims()).encode())}."


def bad_signature(_identity: IdentityStub) -> str:
    """Signed by a stranger's key but claiming to be Microsoft's published key."""
    return jwt.encode(unsigned_claims(), new_rsa_key(), algorithm="RS256", headers={"kid": "stub-key-1"})


def tampered(identity: IdentityStub) -> str:
    """A real token whose claims were edited after signing (audience swapped in)."""
    header, _payload, signature = identity.token(str(uuid.uuid4()), SERVICE_URL).split(".")
    return f"{header}.{b64(json.dumps(unsigned_claims()).encode())}.{signature}"


REFUSED: dict[str, tuple[Any, str]] = {
    "wrong issuer": (lambda s: s.token(APP_ID, SERVICE_URL, iss="https://sts.windows.net/evil/"), "issuer"),
    "wrong audience": (lambda s: s.token(str(uuid.uuid4()), SERVICE_URL), "audience"),
    "expired": (lambda s: s.token(APP_ID, SERVICE_URL, exp=int(time.time()) - 400), "expired"),
    "not yet valid": (lambda s: s.token(APP_ID, SERVICE_URL, nbf=int(time.time()) + 900), "not_yet_valid"),
    "bad signature": (bad_signature, "signature"),
    "tampered claims": (tampered, "signature"),
    "alg=none": (alg_none, "algorithm"),
    "HS256 signed with the public key": (hs256_with_the_public_key, "algorithm"),
    "RS512": (lambda s: jwt.encode(unsigned_claims(), s.keys["stub-key-1"], algorithm="RS512",
                                   headers={"kid": "stub-key-1"}), "algorithm"),
    "unknown kid": (lambda s: s.token(APP_ID, SERVICE_URL, kid="unpublished"), "unknown_key"),
    "no kid": (lambda s: jwt.encode(unsigned_claims(), s.keys["stub-key-1"], algorithm="RS256"), "no_kid"),
    "no expiry": (lambda s: s.token(APP_ID, SERVICE_URL, exp=None), "missing_claim"),
    "serviceUrl mismatch": (lambda s: s.token(APP_ID, "https://attacker.example/"), "service_url"),
    "no serviceUrl claim": (lambda s: s.token(APP_ID, SERVICE_URL, serviceurl=None), "service_url"),
    "not a JWT": (lambda _s: "not.a.jwt", "malformed"),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_bad_tokens_are_refused_with_the_right_reason(identity: IdentityStub, validator: TokenValidator,
                                                      case: str) -> None:
    make, reason = REFUSED[case]
    got = refusal(validator, f"Bearer {make(identity)}")  # not inside the assert: pytest would print the token
    assert got == reason


@pytest.mark.parametrize("header, reason", [(None, "missing_token"), ("", "missing_token"),
                                            ("Basic dXNlcjpwYXNz", "not_bearer"), ("Bearer", "not_bearer"),
                                            ("Bearer a b", "not_bearer"), ("Bearer " + "a" * 20_000, "malformed")],
                         ids=["none", "empty", "basic", "no-token", "two-tokens", "huge"])
def test_a_missing_or_odd_authorization_header_is_refused(validator: TokenValidator, header: str | None,
                                                          reason: str) -> None:
    got = refusal(validator, header)
    assert got == reason


def test_a_key_not_endorsed_for_the_channel_is_refused(identity: IdentityStub, validator: TokenValidator) -> None:
    got = refusal(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL)}", channel_id="slack")
    assert got == "not_endorsed"


@pytest.mark.parametrize("endorsements", [None, [], ["webchat"]], ids=["no-list", "empty", "others-only"])
def test_a_key_without_an_endorsement_for_the_channel_is_forbidden(identity: IdentityStub,
                                                                   validator: TokenValidator,
                                                                   endorsements: list[str] | None) -> None:
    """A key published without an endorsements list proves no channel: refused (the SDKs let it through)."""
    kid = f"bare-{uuid.uuid4().hex[:8]}"
    identity.add_key(kid, endorsements=endorsements)
    token = identity.token(APP_ID, SERVICE_URL, kid=kid)
    with pytest.raises(NotEndorsed, match=r"^the signing key is not endorsed for this channel$") as refused:
        asyncio.run(validator.validate(f"Bearer {token}", "msteams"))
    assert refused.value.reason == "not_endorsed" and isinstance(refused.value, AuthError)
    assert asyncio.run(validator.validate(f"Bearer {token}"))["aud"] == APP_ID, "no channel asked: no check"


def test_endorsement_is_checked_only_after_the_signature(identity: IdentityStub, validator: TokenValidator) -> None:
    """A forged token naming an unendorsed key is a 401 (signature), never a 403 that would confirm the key."""
    kid = f"bare-{uuid.uuid4().hex[:8]}"
    identity.add_key(kid, endorsements=None)
    forged = jwt.encode(unsigned_claims(), new_rsa_key(), algorithm="RS256", headers={"kid": kid})
    with pytest.raises(AuthError, match=r"^the token's signature does not verify$") as refused:
        asyncio.run(validator.validate(f"Bearer {forged}", "msteams"))
    assert refused.value.reason == "signature" and not isinstance(refused.value, NotEndorsed)


def test_an_activity_without_a_service_url_is_refused(identity: IdentityStub, validator: TokenValidator) -> None:
    claims = asyncio.run(validator.validate(f"Bearer {identity.token(APP_ID, SERVICE_URL)}"))
    with pytest.raises(AuthError):
        check_service_url(claims, None)


def test_refusals_never_carry_the_token(identity: IdentityStub, validator: TokenValidator) -> None:
    token = identity.token(APP_ID, SERVICE_URL, iss="https://evil.example/")
    with pytest.raises(AuthError) as refused:
        check(validator, f"Bearer {token}")
    assert token not in str(refused.value) and token.split(".")[1] not in repr(refused.value)


# --- the signing keys: lazy, cached, refreshed for a new kid at most once a minute ----------------------------


def test_nothing_is_fetched_until_the_first_token(identity: IdentityStub) -> None:
    before = identity.fetches()
    TokenValidator(APP_ID, SigningKeys(identity.openid_url))
    assert identity.fetches() == before


def test_keys_are_fetched_once_and_then_cached(identity: IdentityStub) -> None:
    keys = SigningKeys(identity.openid_url)
    validator = TokenValidator(APP_ID, keys)
    before = identity.fetches()
    for _ in range(3):
        check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL)}")
    assert identity.fetches() - before == 1
    assert keys.fetch_attempts == 1


def test_an_unknown_kid_refreshes_the_keys_at_most_once_a_minute(identity: IdentityStub) -> None:
    clock = Clock()
    keys = SigningKeys(identity.openid_url, clock=clock, min_refresh_interval_s=60)
    validator = TokenValidator(APP_ID, keys)
    check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL)}")
    assert keys.fetch_attempts == 1
    # Microsoft rolls a new key in: the first token signed with it triggers one re-fetch (once the minute is up).
    identity.add_key("rolled-in")
    clock.now += 61
    check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL, kid='rolled-in')}")
    assert keys.fetch_attempts == 2
    # Junk kids within the minute cost no fetch at all.
    for _ in range(5):
        got = refusal(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL, kid='unpublished')}")
        assert got == "unknown_key"
    assert keys.fetch_attempts == 2
    clock.now += 61
    got = refusal(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL, kid='unpublished')}")
    assert got == "unknown_key"
    assert keys.fetch_attempts == 3


def test_a_day_old_key_set_is_refreshed(identity: IdentityStub) -> None:
    clock = Clock()
    keys = SigningKeys(identity.openid_url, clock=clock)
    validator = TokenValidator(APP_ID, keys)
    check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL)}")
    clock.now += 24 * 3600 + 1
    check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL)}")
    assert keys.fetch_attempts == 2


def test_keys_unreachable_with_nothing_cached_is_keys_unavailable(identity: IdentityStub) -> None:
    keys = SigningKeys("http://127.0.0.1:9/v1/.well-known/openidconfiguration")  # port 9: nothing listens
    with pytest.raises(KeysUnavailable):
        check(TokenValidator(APP_ID, keys), f"Bearer {identity.token(APP_ID, SERVICE_URL)}")


def test_a_failed_refresh_keeps_the_cached_keys(identity: IdentityStub) -> None:
    clock = Clock()
    down = {"now": False}

    async def flaky(url: str) -> Any:
        if down["now"]:
            raise KeysUnavailable("down")
        return await fetch_json(url)

    keys = SigningKeys(identity.openid_url, fetch=flaky, clock=clock)
    validator = TokenValidator(APP_ID, keys)
    check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL)}")
    down["now"] = True
    clock.now += 24 * 3600 + 1
    check(validator, f"Bearer {identity.token(APP_ID, SERVICE_URL)}")  # stale, refresh failed, old keys still work
    assert keys.fetch_attempts == 2


def test_metadata_pointing_at_plain_http_keys_elsewhere_is_not_trusted(identity: IdentityStub) -> None:
    async def metadata(url: str) -> Any:
        return {"jwks_uri": "http://keys.example/v1/keys"}

    keys = SigningKeys(identity.openid_url, fetch=metadata)
    with pytest.raises(KeysUnavailable):
        check(TokenValidator(APP_ID, keys), f"Bearer {identity.token(APP_ID, SERVICE_URL)}")


@pytest.mark.parametrize("url", ["http://login.botframework.com/x", "ftp://127.0.0.1/x", "/relative", ""])
def test_settings_urls_must_be_https_unless_on_loopback(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url, "the test URL")
    with pytest.raises(ValueError):
        SigningKeys(url)


def test_loopback_http_is_allowed_for_local_stubs() -> None:
    assert check_url("http://127.0.0.1:8080/x", "u") and check_url("http://localhost/x", "u")
    assert check_url("https://login.botframework.com/v1/.well-known/openidconfiguration", "u")
