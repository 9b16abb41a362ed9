"""The web chat's security rules: signed conversation ids bound to one socket, allowed origins, and what a browser
may put into a message. No Rasa here, so every rule has plain unit tests (tests/test_webchat_security.py).

Why: Rasa 3.6's socketio channel with `session_persistence` takes the conversation id from the client (the
`session_id` of `session_request` and of every message), joins the socket to a room of that name and sends the
replies to that room. Anyone who learns a conversation id (from a shared computer, a log line, a screenshot) can
name it, join the room, read the replies and carry on the conversation. For a safeguarding assistant that is not
acceptable, so this channel works differently:

1. The server mints every conversation id. The browser keeps a token `w1.<nonce>.<issued>.<mac>`: 128 random bits,
   the time it was issued, and an HMAC-SHA256 over both and the school and role of the page it was opened on, keyed
   with a server secret (POLICYBOT_WEB_SECRET, else `artifacts/webchat-secret`, created with mode 0600). Rasa's
   conversation id (sender id) is `web-<nonce>`: the mac exists only in that browser tab and is never stored or
   logged by the server, so knowing a sender id does not let anyone continue the conversation.
2. On `session_request` the server checks the token the browser kept. An unsigned, forged or expired token, or one
   minted for another school or role, starts a fresh conversation instead; the client is told the new token and
   nothing of any old conversation is sent.
3. The conversation is bound to the socket that proved the token (its socket.io sid). One socket per conversation:
   the latest to prove the token wins, and the channel disconnects the earlier one. With several Rasa servers
   (cluster mode, POLICYBOT_REDIS_URL) the bindings live in Redis, so this holds across them
   (`channels.webchat.cluster`).
4. The `session_id` a message claims is ignored. A message belongs to the conversation bound to the socket it came
   on, and replies go to the socket bound to that conversation at that moment, never to a room others can join.
5. Only `school` and `role` pass from the browser into Rasa's metadata (a known slug, a role the widget offers); on
   a socket opened by a school's page they are that page's, whatever a message claims. Nothing else (`trust_staff`,
   `full_text`) can be set by a browser. A client's `message_id` is scoped to its conversation: a retry of the same
   message is recognised (a concern is never recorded twice) but no client can reuse another conversation's ids.

Origins: browsers send `Origin` on the socket.io handshake and on the WebSocket upgrade. The server's own origin is
always allowed, other origins only when configured. A request without `Origin` is not from a web page and is let
through: such a client can send any header it likes, which is why rules 1-5 do not rely on the origin at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

TOKEN_VERSION = "w1"
#: Rasa's conversation id for a web conversation is this prefix and the token's nonce.
SENDER_PREFIX = "web-"
MIN_SECRET_BYTES = 32
#: A token issued this far in the future is refused (clocks of a restarted server may differ a little).
CLOCK_SKEW_S = 300
#: Same bound as the REST channel's message ids.
MAX_CLIENT_MESSAGE_ID_CHARS = 128

_TOKEN = re.compile(r"^w1\.([0-9a-f]{32})\.([0-9]{1,12})\.([0-9a-f]{64})$")
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class Conversation:
    """One web conversation: the token only its browser holds, and the school and role it was opened for."""

    nonce: str
    issued: int
    school: str | None
    role: str | None
    token: str = field(repr=False)

    @property
    def sender_id(self) -> str:
        """Rasa's conversation id: names the conversation without being able to continue it."""
        return SENDER_PREFIX + self.nonce


class ConversationSigner:
    """Mints conversation tokens and checks the ones browsers bring back (HMAC-SHA256 with a server secret)."""

    def __init__(self, secret: bytes, max_age_s: float, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the web chat secret must be at least {MIN_SECRET_BYTES} bytes; got {len(secret)}")
        if max_age_s <= 0:
            raise ValueError(f"a conversation's maximum age must be positive; got {max_age_s!r} seconds")
        self._secret = secret
        self._max_age_s = max_age_s
        self._clock = clock

    def mint(self, school: str | None, role: str | None) -> Conversation:
        """A new conversation for a page of `school` opened as `role` (both None for a client with no page)."""
        nonce, issued = secrets.token_hex(16), int(self._clock())
        token = f"{TOKEN_VERSION}.{nonce}.{issued}.{self._mac(nonce, issued, school, role)}"
        return Conversation(nonce, issued, school, role, token)

    def verify(self, token: object, school: str | None, role: str | None) -> Conversation | None:
        """The conversation `token` continues, if this server signed it for this school and role and it is not
        too old; None otherwise (the caller then starts a fresh one)."""
        match = _TOKEN.match(token) if isinstance(token, str) else None
        if not match:
            return None
        nonce, issued_text, mac = match.groups()
        issued = int(issued_text)
        if not hmac.compare_digest(mac, self._mac(nonce, issued, school, role)):
            return None
        now = self._clock()
        if issued > now + CLOCK_SKEW_S or now - issued > self._max_age_s:
            return None
        return Conversation(nonce, issued, school, role, token)

    def _mac(self, nonce: str, issued: int, school: str | None, role: str | None) -> str:
        signed = "|".join((TOKEN_VERSION, nonce, str(issued), school or "", role or ""))
        return hmac.new(self._secret, signed.encode(), hashlib.sha256).hexdigest()


def load_secret(path: Path, given: str | None = None) -> bytes:
    """The secret that signs conversation tokens: `given` (from the environment) if set, else the file at `path`,
    created on first use with 32 random bytes and mode 0600 so that a restart keeps every open conversation."""
    if given:
        if len(given.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the web chat secret must be at least {MIN_SECRET_BYTES} characters; "
                             f"got {len(given.encode())}")
        return given.encode()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago; read theirs
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ValueError(f"{path} can be read by other accounts (mode {mode:04o}); run: chmod 600 {path}")
    secret = path.read_text(encoding="ascii").strip().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"{path} holds {len(secret)} characters; a web chat secret needs at least "
                         f"{MIN_SECRET_BYTES} (delete the file and a new one is made)")
    return secret


class BindingsUnavailable(Exception):
    """The shared store of bindings (cluster mode's Redis) could not be reached. The channel fails closed: the
    message is not passed on, the person gets the kind reply (or the safety signposting), and an ALERT is logged."""

    def __init__(self, cause: BaseException) -> None:
        #: The underlying error's class name: all that is logged (never a message, never the store's address).
        self.kind = type(cause).__name__
        super().__init__(f"the web chat's bindings are unavailable ({self.kind})")


class SocketBindings(Protocol):
    """Which socket each conversation is bound to (one at a time) and which conversation each socket speaks for.

    Async in every implementation: the Redis one (`channels.webchat.cluster.RedisBindings`, cluster mode) does I/O,
    and giving the in-memory one the same coroutines lets the channel await one interface without knowing which it
    has. Any implementation may raise `BindingsUnavailable`; the in-memory one never does."""

    async def bind(self, sid: str, conversation: Conversation) -> str | None:
        """Bind `sid` to `conversation`; returns the other socket that held it until now (to be disconnected)."""

    async def unbind(self, sid: str) -> None:
        """Forget `sid` (it disconnected); its conversation then has no socket until a browser proves the token."""

    async def conversation(self, sid: str) -> Conversation | None:
        """The conversation `sid` speaks for, if any."""

    async def socket_for(self, sender_id: str) -> str | None:
        """The one socket that may receive this conversation's replies now, if any."""


class Bindings:
    """`SocketBindings` in this process's memory: the embedded default (one Rasa server, no Redis)."""

    def __init__(self) -> None:
        self._by_sid: dict[str, Conversation] = {}
        self._sid_by_sender: dict[str, str] = {}

    async def bind(self, sid: str, conversation: Conversation) -> str | None:
        await self.unbind(sid)
        previous = self._sid_by_sender.get(conversation.sender_id)
        if previous is not None:
            self._by_sid.pop(previous, None)
        self._by_sid[sid] = conversation
        self._sid_by_sender[conversation.sender_id] = sid
        return previous

    async def unbind(self, sid: str) -> None:
        conversation = self._by_sid.pop(sid, None)
        if conversation is not None and self._sid_by_sender.get(conversation.sender_id) == sid:
            del self._sid_by_sender[conversation.sender_id]

    async def conversation(self, sid: str) -> Conversation | None:
        return self._by_sid.get(sid)

    async def socket_for(self, sender_id: str) -> str | None:
        return self._sid_by_sender.get(sender_id)

    def __len__(self) -> int:
        return len(self._by_sid)


def normalise_origin(value: str) -> str:
    """'HTTPS://www.School.example:443/' -> 'https://www.school.example', the form browsers send in `Origin`."""
    text = str(value).strip().rstrip("/").lower()
    if text == "*":
        raise ValueError("'*' would let any website use the chat; list the schools' websites instead, "
                         "e.g. https://www.school.example")
    match = _ORIGIN.match(text)
    if not match:
        raise ValueError(f"allowed origin {value!r} must be a scheme and host like https://www.school.example "
                         "(optionally :port, no path)")
    scheme, host, port = match.groups()
    if port is None or _DEFAULT_PORTS[scheme] == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def server_origins(environ: Mapping[str, Any], request_scheme: str | None = None) -> set[str]:
    """The server's own origin(s) as a browser sees them: the Host header with the request's scheme, and what a
    reverse proxy says in X-Forwarded-Proto / X-Forwarded-Host (a browser page cannot set those headers)."""
    hosts = [environ.get("HTTP_HOST"), _first(environ.get("HTTP_X_FORWARDED_HOST"))]
    schemes = [environ.get("wsgi.url_scheme"), _first(environ.get("HTTP_X_FORWARDED_PROTO")), request_scheme]
    origins = set()
    for host in filter(None, hosts):
        for scheme in filter(None, schemes):
            scheme = {"ws": "http", "wss": "https"}.get(scheme.lower(), scheme.lower())
            try:
                origins.add(normalise_origin(f"{scheme}://{host}"))
            except ValueError:
                continue
    return origins


def _first(header: object) -> str | None:
    return header.split(",")[0].strip() if isinstance(header, str) and header.strip() else None


@dataclass(frozen=True)
class OriginPolicy:
    """Which web pages may use the chat: the server's own pages, plus configured origins (schools' websites)."""

    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", tuple(dict.fromkeys(normalise_origin(o) for o in self.extra)))

    def allows(self, origin: str | None, own_origins: Collection[str]) -> bool:
        """True for no Origin (not a browser page), the server's own origin and a configured one; False for any
        other, including 'null' (sandboxed frames, local files)."""
        if origin is None or origin == "":
            return True
        try:
            origin = normalise_origin(origin)
        except ValueError:
            return False
        return origin in self.extra or origin in own_origins

    def frame_ancestors(self) -> str:
        """The CSP `frame-ancestors` value: the chat pages may be framed by the same pages that may use the chat."""
        return " ".join(("'self'", *self.extra))


def page_binding(query_string: str, known_schools: Collection[str],
                 roles: Sequence[str]) -> tuple[str | None, str | None]:
    """The school and role a socket's handshake names (`?school=<slug>&role=<role>`, set by the chat page); an
    unknown school counts as none, and a page's socket without a known role gets the first offered role."""
    query = parse_qs(query_string or "")
    school = (query.get("school") or [None])[0]
    if school not in known_schools:
        return None, None
    role = (query.get("role") or [None])[0]
    return school, role if role in roles else roles[0]


@dataclass(frozen=True)
class IncomingMessage:
    """A browser's message as Rasa will get it: the text, the metadata allowed through, a scoped message id."""

    text: str = field(repr=False)
    metadata: dict[str, str]
    message_id: str | None

    def too_long(self, limit: int) -> bool:
        return len(self.text) > limit


@dataclass(frozen=True)
class Refusal:
    """Why a `user_uttered` payload is not a message (sent back to the client as the `message_refused` event)."""

    reason: str


def read_message(data: object, conversation: Conversation, known_schools: Collection[str],
                 roles: Sequence[str]) -> IncomingMessage | Refusal:
    """The message in a `user_uttered` payload ({"message", "customData" or "metadata", optional "message_id"});
    its `session_id` is ignored (see the module docstring, rule 4)."""
    if not isinstance(data, Mapping):
        return Refusal("not_a_message")
    text = data.get("message")
    if not isinstance(text, str):
        return Refusal("not_a_message")
    if not text.strip():
        return Refusal("empty")
    claimed = data.get("customData", data.get("metadata"))
    if isinstance(claimed, str):
        try:
            claimed = json.loads(claimed)
        except ValueError:
            claimed = None
    return IncomingMessage(text, browser_metadata(claimed, conversation, known_schools, roles),
                           scoped_message_id(conversation.sender_id, data.get("message_id")))


def browser_metadata(claimed: object, conversation: Conversation, known_schools: Collection[str],
                     roles: Sequence[str]) -> dict[str, str]:
    """Rasa's metadata for a browser's message: the page's school and role when the socket came from a school's
    page; otherwise a known school slug and an offered role from the message itself; never anything else."""
    claimed = claimed if isinstance(claimed, Mapping) else {}
    school, role = conversation.school, conversation.role
    if school is None:
        candidate = claimed.get("school")
        school = candidate if isinstance(candidate, str) and candidate in known_schools else None
    if role is None:
        candidate = claimed.get("role")
        role = candidate if isinstance(candidate, str) and candidate in roles else None
    return {key: value for key, value in (("school", school), ("role", role)) if value}


def scoped_message_id(sender_id: str, client_id: object) -> str | None:
    """The id Rasa records a client's message under: stable for the same conversation and client id (so a retry
    is the same message), different for every other conversation. None when the client gave no usable id."""
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_MESSAGE_ID_CHARS:
        return None
    return "web-" + hashlib.sha256(f"{sender_id}|{client_id}".encode()).hexdigest()[:40]
