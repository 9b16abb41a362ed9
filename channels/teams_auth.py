"""Check that a request to the Teams webhook really comes from the Bot Framework Connector (plain Python, no Rasa).

The Connector signs a JWT for every activity it posts to the bot. A token is accepted only if it is RS256-signed
by a key from Bot Framework's OpenID metadata (fetched on first use, never at import or construction, cached for a
day and re-fetched at most once a minute when a token names a key we have not seen), its issuer is
https://api.botframework.com, its audience is the bot's app id, it is unexpired (5 minutes' clock skew), and its
`serviceUrl` claim equals the activity's `serviceUrl` -- so a reply (which carries the bot's own token) can only
go where Microsoft said the activity came from -- and, for the channel the bot requires (the Teams channel asks for
"msteams"), the signing key is endorsed for it (403, not 401: the token is genuine but not for this channel). Rasa
3.6's `botframework` channel does none of the last four and takes the accepted algorithm from the token itself.

Nothing here logs or raises with a token, a key or message text: errors carry a short reason code only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import RSAAlgorithm

logger = logging.getLogger(__name__)

DEFAULT_OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
ALGORITHM = "RS256"
CLOCK_SKEW_S = 300
#: Microsoft rolls its keys over days; a day-old key set is refreshed before it is trusted again.
KEYS_MAX_AGE_S = 24 * 3600.0
#: A token naming an unknown key may trigger a re-fetch, but no more often than this (junk tokens cost nothing).
MIN_REFRESH_INTERVAL_S = 60.0
MIN_RSA_BITS = 2048
#: Real Connector tokens are about 1.5 KB; anything far larger is refused before it is parsed.
MAX_TOKEN_CHARS = 16_384
MAX_DOCUMENT_BYTES = 1_000_000
HTTP_TIMEOUT_S = 10.0

_BEARER = re.compile(r"^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$", re.IGNORECASE)

JsonFetcher = Callable[[str], Awaitable[Any]]


class AuthError(Exception):
    """The request is not from the Bot Framework Connector (answer 401); `reason` is a short code for the log."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class NotEndorsed(AuthError):
    """A genuine Connector token, but its signing key is not endorsed for the channel the bot requires (answer
    403: Bot Framework's authentication protocol says to reject such a request with Forbidden)."""

    def __init__(self) -> None:
        super().__init__("not_endorsed", "the signing key is not endorsed for this channel")


class KeysUnavailable(Exception):
    """Bot Framework's signing keys could not be fetched and none are cached (answer 503, so the Connector retries)."""


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses (where plain http is acceptable: local stubs and tests)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str) -> str:
    """`url` if it is https (or http on loopback); a ValueError naming the setting otherwise."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if not parts or not parts.netloc or parts.scheme not in ("https", "http"):
        raise ValueError(f"{what} must be an absolute https URL; got {url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{what} must use https (plain http is only allowed on loopback); got {url!r}")
    return url


async def fetch_json(url: str) -> Any:
    """GET `url` and parse its JSON body; KeysUnavailable on any network, status or parse failure."""
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url, headers={"Accept": "application/json"}, max_redirects=3) as response:
                if response.status != 200:
                    raise KeysUnavailable(f"{url} answered HTTP {response.status}")
                try:  # a redirect may not downgrade the keys to plain http
                    check_url(str(response.url), "a redirect of the key documents")
                except ValueError as error:
                    raise KeysUnavailable(str(error)) from None
                body = await response.content.read(MAX_DOCUMENT_BYTES + 1)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        raise KeysUnavailable(f"could not fetch {url} ({type(error).__name__})") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise KeysUnavailable(f"{url} sent more than {MAX_DOCUMENT_BYTES:,} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise KeysUnavailable(f"{url} did not send JSON") from None


@dataclass(frozen=True)
class SigningKey:
    """One usable key from the JWKS: its id, the RSA public key, and the channels it is endorsed for (if listed)."""

    kid: str
    public_key: RSAPublicKey
    endorsements: tuple[str, ...] | None


def parse_jwks(document: Any, source: str) -> dict[str, SigningKey]:
    """The RSA signing keys (>= 2048 bits) in a JWKS document, by kid; KeysUnavailable if there are none."""
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise KeysUnavailable(f"{source} has no 'keys' list")
    keys: dict[str, SigningKey] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            key = RSAAlgorithm.from_jwk(json.dumps(dict(entry)))
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        if isinstance(key, RSAPrivateKey):  # a JWKS should never hold private parts; use only the public half
            key = key.public_key()
        if not isinstance(key, RSAPublicKey) or key.key_size < MIN_RSA_BITS:
            continue
        endorsements = entry.get("endorsements")
        keys[entry["kid"]] = SigningKey(
            entry["kid"], key,
            tuple(str(e) for e in endorsements) if isinstance(endorsements, list) else None)
    if not keys:
        raise KeysUnavailable(f"{source} holds no usable RSA signing key")
    return keys


class SigningKeys:
    """Bot Framework's signing keys: fetched on first use, cached for a day, re-fetched (rate-limited) for a new kid."""

    def __init__(self, openid_url: str = DEFAULT_OPENID_URL, fetch: JsonFetcher = fetch_json,
                 clock: Callable[[], float] = time.monotonic, max_age_s: float = KEYS_MAX_AGE_S,
                 min_refresh_interval_s: float = MIN_REFRESH_INTERVAL_S) -> None:
        self.openid_url = check_url(openid_url, "the Bot Framework OpenID metadata URL")
        self._fetch = fetch
        self._clock = clock
        self._max_age_s = max_age_s
        self._min_refresh_interval_s = min_refresh_interval_s
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._lock: asyncio.Lock | None = None
        #: How many times the metadata and key set were fetched (successfully or not).
        self.fetch_attempts = 0

    async def get(self, kid: str) -> SigningKey | None:
        """The key named `kid`, fetching or refreshing the key set first if needed; None if it is not known."""
        stale = self._fetched_at is None or self._clock() - self._fetched_at > self._max_age_s
        if stale or kid not in self._keys:
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = self._clock()
            if self._last_attempt is not None and now - self._last_attempt < self._min_refresh_interval_s:
                if not self._keys:
                    raise KeysUnavailable("Bot Framework signing keys are unavailable (the last fetch failed)")
                return  # someone fetched a moment ago (or the rate limit applies): use what we have
            self._last_attempt = now
            self.fetch_attempts += 1
            try:
                keys = await self._load()
            except KeysUnavailable as error:
                if not self._keys:
                    logger.error("teams: could not fetch the Bot Framework signing keys (%s)", error)
                    raise
                logger.warning("teams: could not refresh the Bot Framework signing keys (%s); "
                               "keeping the %d cached", error, len(self._keys))
                return
            self._keys, self._fetched_at = keys, now
            logger.info("teams: loaded %d Bot Framework signing key(s)", len(keys))

    async def _load(self) -> dict[str, SigningKey]:
        metadata = await self._fetch(self.openid_url)
        jwks_uri = metadata.get("jwks_uri") if isinstance(metadata, Mapping) else None
        if not isinstance(jwks_uri, str):
            raise KeysUnavailable(f"{self.openid_url} has no 'jwks_uri'")
        try:
            check_url(jwks_uri, "the OpenID metadata's jwks_uri")
        except ValueError as error:
            raise KeysUnavailable(str(error)) from None
        return parse_jwks(await self._fetch(jwks_uri), jwks_uri)


def bearer_token(authorization: str | None) -> str:
    """The token from an `Authorization: Bearer ...` header; AuthError if it is missing or not a bearer token."""
    if not authorization or not authorization.strip():
        raise AuthError("missing_token", "no Authorization header")
    if len(authorization) > MAX_TOKEN_CHARS:
        raise AuthError("malformed", "the Authorization header is too long")
    match = _BEARER.match(authorization.strip())
    if not match:
        raise AuthError("not_bearer", "the Authorization header is not a Bearer token")
    return match[1]


_DECODE_ERRORS: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired", "the token has expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid", "the token is not valid yet"),
    (jwt.InvalidIssuerError, "issuer", "the token was not issued by the Bot Framework"),
    (jwt.InvalidAudienceError, "audience", "the token is not for this bot's app id"),
    (jwt.InvalidSignatureError, "signature", "the token's signature does not verify"),
    (jwt.MissingRequiredClaimError, "missing_claim", "the token lacks a required claim"),
    (jwt.InvalidAlgorithmError, "algorithm", "the token's algorithm is not accepted"),
    (jwt.DecodeError, "malformed", "the token is malformed"),
)


class TokenValidator:
    """Validates the Connector's bearer token for one bot (app id) against Bot Framework's signing keys."""

    def __init__(self, app_id: str, keys: SigningKeys, clock_skew_s: int = CLOCK_SKEW_S) -> None:
        if not app_id:
            raise ValueError("the bot's app id is required to validate Bot Framework tokens")
        self.app_id = app_id
        self.keys = keys
        self.clock_skew_s = clock_skew_s

    async def validate(self, authorization: str | None, channel_id: str | None = None) -> dict[str, Any]:
        """The token's verified claims; AuthError for any failure, KeysUnavailable if no keys can be had.

        With `channel_id` the signing key must be endorsed for that channel: a key published without an
        endorsements list is refused too (NotEndorsed, checked only once the token itself has verified). The Bot
        Framework SDKs skip the check for such a key; its protocol says a channel whose endorsement is required must
        come with a token signed by a key endorsed for it, and Microsoft publishes every key with its endorsements.
        """
        token = bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed", "the token is malformed") from None
        # Decided here, not by the token: "none", HS256 (signed with the public key as a secret) and the rest fail.
        if header.get("alg") != ALGORITHM:
            raise AuthError("algorithm", f"only {ALGORITHM} tokens are accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("no_kid", "the token names no signing key")
        key = await self.keys.get(kid)
        if key is None:
            raise AuthError("unknown_key", "the token is signed with a key Bot Framework does not publish")
        try:
            claims = jwt.decode(token, key=key.public_key, algorithms=[ALGORITHM], audience=self.app_id,
                                issuer=BOT_FRAMEWORK_ISSUER, leeway=self.clock_skew_s,
                                options={"require": ["exp", "iss", "aud"], "verify_signature": True})
        except jwt.PyJWTError as error:
            for error_type, reason, detail in _DECODE_ERRORS:
                if isinstance(error, error_type):
                    raise AuthError(reason, detail) from None
            raise AuthError("invalid", "the token is not valid") from None
        if channel_id is not None and channel_id not in (key.endorsements or ()):
            raise NotEndorsed()
        return claims


def check_service_url(claims: Mapping[str, Any], service_url: str | None) -> None:
    """AuthError unless the token's service URL claim equals the activity's `serviceUrl` (a trailing '/' aside)."""
    # The Connector names the claim "serviceurl"; the protocol docs write "serviceUrl". Either is accepted.
    claimed = claims.get("serviceurl") or claims.get("serviceUrl")
    if not isinstance(claimed, str) or not claimed:
        raise AuthError("service_url", "the token has no serviceUrl claim")
    if not isinstance(service_url, str) or claimed.rstrip("/") != service_url.rstrip("/"):
        raise AuthError("service_url", "the token's serviceUrl does not match the activity's")
