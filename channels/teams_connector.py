"""Send the bot's replies to Teams through the Bot Framework Connector (plain Python, no Rasa).

A reply is POSTed to `{serviceUrl}/v3/conversations/{conversation id}/activities/{id replied to}` -- the service
URL comes from the inbound activity, whose token vouched for it (channels/teams_auth.py) -- with the bot's own
access token, got by the OAuth client-credentials grant from the token endpoint and cached until five minutes
before it expires. A 401 from the Connector drops the cached token and tries once more with a fresh one. A personal
(1:1) chat with someone is started by POSTing to `{serviceUrl}/v3/conversations` (Bot Connector "Create
Conversation": the bot, that one member, the tenant, isGroup false); Teams answers with the id of the person's one
chat with the bot (the same id each time).

Errors name the HTTP status only: never the token, the app password or the message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import quote, urlencode

import aiohttp

from channels.teams_auth import check_url

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_URL = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
#: A token is renewed this long before it expires, so none expires in flight.
REFRESH_MARGIN_S = 300.0
HTTP_TIMEOUT_S = 15.0
MAX_RESPONSE_BYTES = 1_000_000
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

#: (url, headers, body bytes) -> (status, parsed JSON body or None)
HttpPost = Callable[[str, Mapping[str, str], bytes], Awaitable[tuple[int, Any]]]


class ConnectorError(Exception):
    """A reply or a token request failed; the message names the step and the HTTP status, nothing secret."""


async def http_post(url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
    """POST `body` to `url`; (status, parsed JSON or None). ConnectorError on a network failure."""
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url, headers=dict(headers), data=body, allow_redirects=False) as response:
                raw = await response.content.read(MAX_RESPONSE_BYTES)
                status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        raise ConnectorError(f"could not reach {url} ({type(error).__name__})") from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


class AppTokens:
    """The bot's access token for the Bot Connector: client-credentials grant, cached until near its expiry."""

    def __init__(self, app_id: str, app_password: str, token_url: str = DEFAULT_TOKEN_URL,
                 scope: str = BOT_FRAMEWORK_SCOPE, post: HttpPost = http_post,
                 clock: Callable[[], float] = time.monotonic, refresh_margin_s: float = REFRESH_MARGIN_S) -> None:
        if not app_id or not app_password:
            raise ValueError("the bot's app id and app password are both required to get a Bot Connector token")
        self.token_url = check_url(token_url, "the Bot Framework token URL")
        self._app_id = app_id
        self._app_password = app_password
        self._scope = scope
        self._post = post
        self._clock = clock
        self._margin_s = refresh_margin_s
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock: asyncio.Lock | None = None
        #: How many tokens were requested from the token endpoint.
        self.requests = 0

    def __repr__(self) -> str:
        return f"AppTokens(token_url={self.token_url!r})"  # never the password or the token

    async def get(self) -> str:
        """A valid access token, requested only when there is none or it expires within the margin."""
        if self._token and self._clock() < self._expires_at - self._margin_s:
            return self._token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token and self._clock() < self._expires_at - self._margin_s:
                return self._token  # another reply fetched it while this one waited
            self._token, self._expires_at = await self._request()
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (the Connector refused it), so the next `get` requests a new one."""
        self._token, self._expires_at = None, 0.0

    async def _request(self) -> tuple[str, float]:
        self.requests += 1
        body = urlencode({"grant_type": "client_credentials", "client_id": self._app_id,
                          "client_secret": self._app_password, "scope": self._scope}).encode("ascii")
        started = self._clock()
        status, answer = await self._post(
            self.token_url, {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            body)
        if status != 200 or not isinstance(answer, Mapping):
            code = answer.get("error") if isinstance(answer, Mapping) else None
            code = f" ({code})" if isinstance(code, str) and _ERROR_CODE.match(code) else ""
            raise ConnectorError(f"the token endpoint answered HTTP {status}{code}")
        token, lifetime = answer.get("access_token"), answer.get("expires_in")
        try:
            lifetime = float(lifetime)
        except (TypeError, ValueError):
            lifetime = 0.0
        if not isinstance(token, str) or not token or lifetime <= 0:
            raise ConnectorError("the token endpoint's answer has no access_token or expires_in")
        return token, started + lifetime


def reply_url(service_url: str, conversation_id: str, reply_to_id: str | None) -> str:
    """`{serviceUrl}/v3/conversations/{id}/activities[/{replyToId}]`, ids percent-encoded (Teams ids hold ':;@')."""
    check_url(service_url, "the activity's serviceUrl")
    base = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
    return f"{base}/{quote(reply_to_id, safe='')}" if reply_to_id else base


def conversations_url(service_url: str) -> str:
    """`{serviceUrl}/v3/conversations`, where a new conversation is created."""
    check_url(service_url, "the activity's serviceUrl")
    return f"{service_url.rstrip('/')}/v3/conversations"


def _error_code(answer: Any) -> str:
    """" (Code)" from a Connector error body ({"error": {"code": ...}}) if it is a plain code, else ""."""
    error = answer.get("error") if isinstance(answer, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    return f" ({code})" if isinstance(code, str) and _ERROR_CODE.match(code) else ""


class ConnectorClient:
    """Posts reply activities to the Bot Connector, and starts personal chats, with the bot's token."""

    def __init__(self, tokens: AppTokens, post: HttpPost = http_post) -> None:
        self.tokens = tokens
        self._post = post

    async def _send(self, url: str, payload: Mapping[str, Any], what: str) -> Any:
        """POST `payload` as JSON with the bot's token (a fresh one once after a 401/403); the parsed answer."""
        body = json.dumps(payload).encode("utf-8")
        for attempt in (1, 2):
            token = await self.tokens.get()
            status, answer = await self._post(
                url, {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}, body)
            if 200 <= status < 300:
                return answer
            if status in (401, 403) and attempt == 1:
                self.tokens.invalidate()  # a revoked or rotated token: one more try with a fresh one
                continue
            raise ConnectorError(f"the Bot Connector answered HTTP {status}{_error_code(answer)} to {what}")
        raise ConnectorError("the Bot Connector refused the bot's token twice")  # pragma: no cover - loop returns

    async def reply(self, service_url: str, conversation_id: str, reply_to_id: str | None,
                    activity: Mapping[str, Any]) -> Any:
        """Post `activity` as a reply (or, without `reply_to_id`, as a new message in the conversation); the
        Connector's answer (usually {"id": ...}); ConnectorError on failure."""
        try:
            url = reply_url(service_url, conversation_id, reply_to_id)
        except ValueError as error:
            raise ConnectorError(str(error)) from None
        return await self._send(url, activity, "a reply")

    async def create_personal_conversation(self, service_url: str, bot_id: str, user_id: str,
                                           tenant_id: str) -> str:
        """Start (or find: Teams keeps one per person) the bot's 1:1 chat with `user_id`; its conversation id.
        Nothing is posted in it yet. ConnectorError if the Connector refuses (e.g. 403 when the app may not message
        that person) or answers without an id."""
        try:
            url = conversations_url(service_url)
        except ValueError as error:
            raise ConnectorError(str(error)) from None
        answer = await self._send(url, {"bot": {"id": bot_id}, "members": [{"id": user_id}],
                                        "channelData": {"tenant": {"id": tenant_id}}, "tenantId": tenant_id,
                                        "isGroup": False}, "a new conversation")
        conversation_id = answer.get("id") if isinstance(answer, Mapping) else None
        if not isinstance(conversation_id, str) or not conversation_id.strip() or len(conversation_id) > 512:
            raise ConnectorError("the Bot Connector's answer to a new conversation has no usable id")
        return conversation_id
