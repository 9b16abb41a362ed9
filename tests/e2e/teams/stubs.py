"""Loopback stand-ins for Microsoft's side of Teams: Bot Framework's OpenID metadata + signing keys, and the Bot
Connector (token endpoint + reply endpoint). Real HTTP servers on 127.0.0.1 with locally generated RSA keys, used
by the Teams unit tests and, as session fixtures, by the end-to-end tests (tests/e2e/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm

from bot.servers import run_within

ISSUER = "https://api.botframework.com"
OPENID_PATH = "/v1/.well-known/openidconfiguration"
JWKS_PATH = "/v1/keys"
TOKEN_PATH = "/botframework.com/oauth2/v2.0/token"
#: Where the fake Connector pretends Teams lives (a path prefix, like https://smba.trafficmanager.net/emea/).
SERVICE_PATH = "/teams/emea/"
#: Longest a stub may take to stop.
STOP_TIMEOUT_S = 5.0


def new_rsa_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: RSAPrivateKey, kid: str, endorsements: list[str] | None = None) -> dict[str, Any]:
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig")
    if endorsements is not None:
        jwk["endorsements"] = endorsements
    return jwk


class _Server:
    """A ThreadingHTTPServer on a free loopback port, run in a daemon thread."""

    def __init__(self, handler: Callable[[BaseHTTPRequestHandler, str], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
                handler(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                handler(self, "POST")

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving within STOP_TIMEOUT_S (TimeoutError after that) and close the listening socket."""
        try:
            if self._thread.is_alive():
                run_within(self.httpd.shutdown, STOP_TIMEOUT_S, f"stopping the stub on port {self.port}")
        finally:
            self.httpd.server_close()


def _send_json(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def _read_body(request: BaseHTTPRequestHandler) -> bytes:
    return request.rfile.read(int(request.headers.get("Content-Length") or 0))


class IdentityStub:
    """Bot Framework's OpenID metadata and JWKS, serving locally generated keys; signs Connector-style tokens."""

    def __init__(self, channel: str = "msteams") -> None:
        self.channel = channel
        self.keys: dict[str, RSAPrivateKey] = {"stub-key-1": new_rsa_key()}
        self.published: list[str] = ["stub-key-1"]
        #: Keys published with endorsements other than the default [channel, "webchat"] (None: no endorsements).
        self.endorsements: dict[str, list[str] | None] = {}
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = _Server(self._handle)

    @property
    def openid_url(self) -> str:
        return f"{self._server.base_url}{OPENID_PATH}"

    def start(self) -> "IdentityStub":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def fetches(self, path: str = OPENID_PATH) -> int:
        with self._lock:
            return self.requests[path]

    def add_key(self, kid: str, publish: bool = True, endorsements: list[str] | None | bool = True
                ) -> RSAPrivateKey:
        """A new signing key; published in the JWKS (from the next fetch) unless `publish` is False, endorsed for
        [channel, "webchat"] unless `endorsements` says otherwise (None: published without an endorsements list)."""
        key = new_rsa_key()
        with self._lock:
            self.keys[kid] = key
            if publish:
                self.published.append(kid)
            if endorsements is not True:
                self.endorsements[kid] = endorsements if isinstance(endorsements, list) else None
        return key

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [public_jwk(self.keys[kid], kid, self.endorsements.get(kid, [self.channel, "webchat"]))
                             for kid in self.published]}

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(request.path).path
        with self._lock:
            self.requests[path] += 1
        if method == "GET" and path == OPENID_PATH:
            _send_json(request, 200, {"issuer": ISSUER, "authorization_endpoint": f"{self._server.base_url}/auth",
                                      "jwks_uri": f"{self._server.base_url}{JWKS_PATH}",
                                      "id_token_signing_alg_values_supported": ["RS256"],
                                      "token_endpoint_auth_methods_supported": ["private_key_jwt"]})
        elif method == "GET" and path == JWKS_PATH:
            _send_json(request, 200, self.jwks())
        else:
            _send_json(request, 404, {"error": "not_found"})

    def token(self, app_id: str, service_url: str, *, kid: str = "stub-key-1", **overrides: Any) -> str:
        """A Connector token for `app_id` vouching for `service_url`; `overrides` change claims (None drops one)."""
        now = int(time.time())
        claims: dict[str, Any] = {"iss": ISSUER, "aud": app_id, "serviceurl": service_url, "nbf": now - 5,
                                  "iat": now - 5, "exp": now + 3600}
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@dataclass
class Reply:
    """One activity the bot posted to the fake Connector."""

    conversation_id: str
    reply_to_id: str | None
    activity: dict[str, Any]
    authorized: bool

    def texts(self) -> list[str]:
        """Every piece of text in the reply: the text itself and each Adaptive Card text block."""
        found = [self.activity["text"]] if self.activity.get("text") else []
        for attachment in self.activity.get("attachments") or []:
            content = attachment.get("content") or {}
            found += [block.get("text", "") for block in content.get("body") or [] if block.get("type") == "TextBlock"]
            found += [content[key] for key in ("title", "subtitle", "text") if isinstance(content.get(key), str)]
        return found

    def text(self) -> str:
        return "\n".join(self.texts())

    def actions(self) -> list[dict[str, Any]]:
        return [action for attachment in self.activity.get("attachments") or []
                for action in (attachment.get("content") or {}).get("actions") or []]


def personal_conversation_id(tenant_id: str, user_id: str) -> str:
    """The 1:1 conversation id the fake Connector gives a user (the same every time, as Teams does)."""
    return "a:personal-" + hashlib.sha256(f"{tenant_id.lower()}\n{user_id}".encode()).hexdigest()[:24]


@dataclass
class FakeConnector:
    """The Bot Connector: a client-credentials token endpoint, the reply endpoint (recording every reply) and the
    create-conversation endpoint (recording every request; `refuse_conversations` makes it answer 403, as Teams
    does when the bot may not message that user)."""

    app_id: str
    app_password: str = field(repr=False)
    token_lifetime_s: int = 3600
    replies: list[Reply] = field(default_factory=list, repr=False)
    tokens: list[str] = field(default_factory=list, repr=False)
    token_requests: int = 0
    refused_token_requests: int = 0
    conversations: list[dict[str, Any]] = field(default_factory=list, repr=False)
    refuse_conversations: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = _Server(self._handle)

    @property
    def token_url(self) -> str:
        return f"{self._server.base_url}{TOKEN_PATH}"

    @property
    def service_url(self) -> str:
        return f"{self._server.base_url}{SERVICE_PATH}"

    def start(self) -> "FakeConnector":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def replies_to(self, conversation_id: str) -> list[Reply]:
        with self._lock:
            return [reply for reply in self.replies if reply.conversation_id == conversation_id]

    def wait_for_replies(self, conversation_id: str, count: int = 1, timeout_s: float = 60.0) -> list[Reply]:
        """The replies to `conversation_id` once there are at least `count` (or whatever came by the timeout)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.replies_to(conversation_id)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        return self.replies_to(conversation_id)

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(request.path).path
        body = _read_body(request) if method == "POST" else b""
        if method == "POST" and path == TOKEN_PATH:
            form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
            with self._lock:
                self.token_requests += 1
                good = (form.get("grant_type") == "client_credentials" and form.get("client_id") == self.app_id
                        and form.get("client_secret") == self.app_password
                        and form.get("scope") == "https://api.botframework.com/.default")
                if not good:
                    self.refused_token_requests += 1
                    _send_json(request, 401, {"error": "invalid_client"})
                    return
                token = secrets.token_urlsafe(32)
                self.tokens.append(token)
            _send_json(request, 200, {"token_type": "Bearer", "expires_in": self.token_lifetime_s,
                                      "ext_expires_in": self.token_lifetime_s, "access_token": token})
            return
        if method == "POST" and path.rstrip("/") == f"{SERVICE_PATH}v3/conversations":
            self._create_conversation(request, body)
            return
        prefix = f"{SERVICE_PATH}v3/conversations/"
        if method == "POST" and path.startswith(prefix) and "/activities" in path:
            conversation, _, rest = path[len(prefix):].partition("/activities")
            reply_to = unquote(rest.lstrip("/")) or None
            accepted, activity = self._authorized_json(request, body)
            if not accepted:
                return
            with self._lock:
                self.replies.append(Reply(unquote(conversation), reply_to, activity, True))
            _send_json(request, 200, {"id": uuid.uuid4().hex})
            return
        _send_json(request, 404, {"error": {"code": "NotFound"}})

    def _authorized_json(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[bool, Any]:
        """(True, the parsed body) for a call with one of the bot's tokens; otherwise the 401 or 400 the
        Connector would send has been sent, and (False, None)."""
        auth = request.headers.get("Authorization") or ""
        with self._lock:
            authorized = auth.startswith("Bearer ") and auth[len("Bearer "):] in self.tokens
        if not authorized:
            _send_json(request, 401, {"error": {"code": "Unauthorized"}})
            return False, None
        try:
            return True, json.loads(body)
        except ValueError:
            _send_json(request, 400, {"error": {"code": "BadSyntax"}})
            return False, None

    def _create_conversation(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        accepted, parameters = self._authorized_json(request, body)
        if not accepted:
            return
        with self._lock:
            self.conversations.append(parameters)
            refuse = self.refuse_conversations
        members = parameters.get("members") if isinstance(parameters, dict) else None
        tenant = (parameters.get("channelData") or {}).get("tenant", {}).get("id") or parameters.get("tenantId")
        if refuse:
            _send_json(request, 403, {"error": {"code": "BotNotInConversationRoster"}})
        elif (parameters.get("isGroup") is not False or not isinstance(members, list) or len(members) != 1
              or not isinstance(tenant, str)):
            _send_json(request, 400, {"error": {"code": "BadSyntax"}})
        else:
            _send_json(request, 201, {"id": personal_conversation_id(tenant, str(members[0].get("id")))})


def message_activity(service_url: str, *, text: str, tenant_id: str | None, user_id: str, conversation_id: str,
                     activity_id: str | None = None, bot_id: str = "28:policybot", team: dict | None = None,
                     conversation_type: str = "personal", **extra: Any) -> dict[str, Any]:
    """A Teams message activity as the Connector posts it (only the fields Teams really sends)."""
    channel_data: dict[str, Any] = {}
    conversation: dict[str, Any] = {"id": conversation_id, "conversationType": conversation_type}
    if tenant_id:
        channel_data["tenant"] = {"id": tenant_id}
        conversation["tenantId"] = tenant_id
    if team:
        channel_data["team"] = team
    activity = {"type": "message", "id": activity_id or uuid.uuid4().hex[:13], "timestamp": "2026-11-24T09:00:00Z",
                "serviceUrl": service_url, "channelId": "msteams", "from": {"id": user_id, "name": "A Teacher"},
                "conversation": conversation, "recipient": {"id": bot_id, "name": "policybot"}, "text": text,
                "textFormat": "plain", "locale": "en-GB", "channelData": channel_data}
    activity.update(extra)
    return activity


@dataclass
class TeamsSetup:
    """The running stubs plus the bot's test identity and tenant mapping, for the end-to-end tests."""

    identity: IdentityStub
    connector: FakeConnector
    app_id: str
    app_password: str = field(repr=False)
    tenant_id: str
    group_id: str
    config_path: Any

    def env(self) -> dict[str, str]:
        """The POLICYBOT_TEAMS_* settings that point the Rasa server's Teams channel at these stubs."""
        return {"POLICYBOT_TEAMS_APP_ID": self.app_id, "POLICYBOT_TEAMS_APP_PASSWORD": self.app_password,
                "POLICYBOT_TEAMS_OPENID_URL": self.identity.openid_url,
                "POLICYBOT_TEAMS_TOKEN_URL": self.connector.token_url,
                "POLICYBOT_TEAMS_CONFIG": str(self.config_path)}

    def stop(self) -> None:
        try:
            self.identity.stop()
        finally:
            self.connector.stop()


def start_teams_stubs(workdir: Any) -> TeamsSetup:
    """Start both stubs and write a tenant mapping: the test tenant is Ken Stimpson, one of its teams Ouston."""
    app_id, tenant_id, group_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    app_password = secrets.token_urlsafe(24)
    config_path = workdir / "teams.yml"
    config_path.write_text(f"tenants:\n  {tenant_id}:\n    school: ken-stimpson\n    teams:\n"
                           f"      {group_id}: ouston\n", encoding="utf-8")
    identity = IdentityStub().start()
    identity.add_key("unpublished", publish=False)
    connector = FakeConnector(app_id, app_password).start()
    return TeamsSetup(identity, connector, app_id, app_password, tenant_id, group_id, config_path)
