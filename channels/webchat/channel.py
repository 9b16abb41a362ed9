"""The web chat channel (Rasa glue): socket.io for the rasa-webchat widget, with conversations the server signs and
binds to one socket, plus the pages it serves from the Rasa server itself, so `make run` needs no other process:

    /chat/<slug>            the chat page for a school (?role=parent for parents and carers; ?embed=1 in a frame)
    /chat/embed.js          the script a school pastes into its website: <script src=".../chat/embed.js"
                            data-school="<slug>" defer></script> adds a button that opens the chat in a frame
    /chat/assets/<file>     chat.js, chat.css and rasa-webchat.js (the widget's bundle, from web/node_modules)
    /socket.io/             the widget's socket (events session_request / session_confirm, user_uttered,
                            bot_uttered, and message_refused when a message is refused)

Why the rules are what they are is in `channels.webchat.security`; they are applied here in this order: the origin
at the handshake (engine.io calls `_origin_allowed`), the page's school and role at connect, the signed token at
session_request, then every message is read, screened for length and handed to Rasa under the bound conversation.
Registered in credentials.yml as `channels.webchat.channel.WebChatInput`; settings in config/webchat.yml.

Cluster mode (POLICYBOT_REDIS_URL set): the bindings and socket.io's emits and disconnects go through Redis
(`channels.webchat.cluster`). If Redis cannot be reached the channel fails closed: a message is not handed to Rasa
(its conversation cannot be known), the person gets the kind reply or, if it may be a disclosure, the safety
signposting, and an ALERT naming only the error's class is logged.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Iterable

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot import settings as bot_settings
from bot.qa.answer import MAX_QUESTION_CHARS
from bot.schools import SchoolDirectory
# One rule for both channels: an over-long or unanswered message is screened the same way as over REST.
from channels.guard import NO_REPLY_TEXT, guarded_turn
from channels.webchat import pages
from channels.webchat.cluster import bindings_for, client_manager_for
from channels.webchat.formatting import widget_markdown
from channels.webchat.security import (BindingsUnavailable, Conversation, ConversationSigner, IncomingMessage,
                                       SocketBindings, page_binding, read_message, server_origins)
from channels.webchat.settings import WebChatSettings, server_secret

logger = logging.getLogger(__name__)

#: Event telling the client a message was not passed on (its `reason`: too_long, empty, not_a_message, no_session).
REFUSED_EVENT = "message_refused"
#: Engine.IO's own cap on one packet; anything bigger closes that socket (the browser reconnects and goes on with
#: the same conversation). Messages between MAX_QUESTION_CHARS and this get the kind reply instead.
MAX_PACKET_BYTES = 256 * 1024
#: Long-polling only: Sanic 21.12's WebSocket code (Rasa 3.6's pin) passes coroutines to asyncio.wait, which Python
#: 3.11 forbids, so every upgrade to a WebSocket fails. Offering none, clients never try one; polling carries all.
TRANSPORTS = ("polling",)


def _alert_unavailable(error: BindingsUnavailable, consequence: str) -> None:
    logger.error("ALERT: web chat: the shared Redis is unreachable (%s); %s", error.kind, consequence)


class WebChatOutput(OutputChannel):
    """Sends replies to the one socket the conversation is bound to now, as markdown bubbles rasa-webchat shows.

    `turn_sid` is the socket whose message this turn answers (None outside a turn). If the bindings cannot be read
    mid-turn, the turn's replies go to that socket only: it proved the token and was the conversation's socket
    when its message arrived; a socket since displaced has been disconnected, so nothing reaches it."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    def __init__(self, sio: AsyncServer, event: str, bindings: SocketBindings, turn_sid: str | None = None) -> None:
        self.sio = sio
        self.event = event
        self.bindings = bindings
        self.turn_sid = turn_sid
        self.sent = 0
        self._alerted = False

    async def _emit(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent += 1
        try:
            sid = await self.bindings.socket_for(recipient_id)
        except BindingsUnavailable as error:
            if not self._alerted:
                self._alerted = True
                _alert_unavailable(error, "replies go only to the socket that sent the message, if any")
            sid = self.turn_sid
        if sid is not None:  # no socket: the browser has gone; the reply stays in the tracker only
            await self.sio.emit(self.event, message, room=sid)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"text": widget_markdown(text)})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        # Exactly these two keys: rasa-webchat shows quick replies only for a {text, quick_replies} message.
        await self._emit(recipient_id, {
            "text": widget_markdown(text),
            "quick_replies": [{"content_type": "text", "title": b["title"], "payload": b["payload"]}
                              for b in buttons]})

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]],
                                 **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"attachment": {"type": "image", "payload": {"src": image}}})

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await self._emit(recipient_id, {"attachment": attachment})

    async def send_elements(self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any) -> None:
        for element in elements:
            await self._emit(recipient_id, {"attachment": {
                "type": "template", "payload": {"template_type": "generic", "elements": element}}})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self._emit(recipient_id, dict(json_message))


class _SocketOutput(WebChatOutput):
    """Straight to one socket, no lookup: the kind reply to a message whose conversation cannot be read."""

    async def _emit(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent += 1
        await self.sio.emit(self.event, message, room=self.turn_sid)


class _PagesBlueprint(SocketBlueprint):
    """Attaches the socket.io server and adds the chat pages at the server's root (not under /webhooks/)."""

    def __init__(self, channel: "WebChatInput", sio: AsyncServer, socketio_path: str) -> None:
        super().__init__(sio, socketio_path, "webchat_webhook", __name__)
        self.ctx.channel = channel

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        super().register(app, options)
        channel: WebChatInput = self.ctx.channel
        app.add_route(channel.chat_page, "/chat/<slug:slug>", name="webchat_page")
        app.add_route(channel.no_school_page, "/chat", name="webchat_no_school")
        app.add_route(channel.embed_script, "/chat/embed.js", name="webchat_embed")
        app.add_route(channel.asset, "/chat/assets/<name:str>", name="webchat_asset")


class WebChatInput(InputChannel):
    """The rasa-webchat widget's channel: socket.io with signed, socket-bound conversations, and the chat pages."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(WebChatSettings.load(), server_secret(), SchoolDirectory.load(),
                   user_message_evt=credentials.get("user_message_evt", "user_uttered"),
                   bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
                   socketio_path=credentials.get("socketio_path", "/socket.io"),
                   redis_url=bot_settings.redis_url())

    def __init__(self, settings: WebChatSettings, secret: bytes, schools: SchoolDirectory,
                 user_message_evt: str = "user_uttered", bot_message_evt: str = "bot_uttered",
                 socketio_path: str = "/socket.io", redis_url: str | None = None) -> None:
        self.settings = settings
        self.signer = ConversationSigner(secret, settings.conversation_hours * 3600)
        self.schools = schools
        self.known_schools = frozenset(schools.slugs)
        self.user_message_evt = user_message_evt
        self.bot_message_evt = bot_message_evt
        self.socketio_path = socketio_path
        #: None in the embedded default: bindings in memory, socket.io's own client manager.
        self.redis_url = redis_url
        self.bindings = bindings_for(redis_url)
        self.policy = settings.origin_policy
        self.sio: AsyncServer | None = None
        if not pages.WIDGET_BUNDLE.is_file():
            logger.error("the web chat widget is not installed (%s is missing); run scripts/install-web.sh. "
                         "The chat pages say the chat is unavailable until then.", pages.WIDGET_BUNDLE)

    def get_output_channel(self) -> OutputChannel | None:
        """For replies Rasa sends outside a turn (e.g. reminders): still only to the conversation's own socket."""
        if self.sio is None:
            return None
        return WebChatOutput(self.sio, self.bot_message_evt, self.bindings)

    def _origin_allowed(self, origin: str | None, environ: dict[str, Any]) -> bool:
        request = environ.get("sanic.request")
        allowed = self.policy.allows(origin, server_origins(environ, getattr(request, "scheme", None)))
        if not allowed:
            logger.warning("refused a web chat connection from origin %r (not allowed in config/webchat.yml or "
                           "POLICYBOT_WEB_ALLOWED_ORIGINS)", origin)
        return allowed

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self._origin_allowed,
                          max_http_buffer_size=MAX_PACKET_BYTES, transports=list(TRANSPORTS),
                          allow_upgrades=False, client_manager=client_manager_for(self.redis_url))
        self.sio = sio
        webhook = _PagesBlueprint(self, sio, self.socketio_path)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect")
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            school, role = page_binding(environ.get("QUERY_STRING", ""), self.known_schools, self.settings.roles)
            await sio.save_session(sid, {"school": school, "role": role})
            return True

        @sio.on("disconnect")
        async def disconnect(sid: str, *_reason: Any) -> None:
            try:
                await self.bindings.unbind(sid)
            except BindingsUnavailable as error:
                _alert_unavailable(error, "a closed socket's binding stays until it expires")

        @sio.on("session_request")
        async def session_request(sid: str, data: Any = None) -> None:
            page = await sio.get_session(sid)
            claimed = data.get("session_id") if isinstance(data, dict) else None
            conversation = (self.signer.verify(claimed, page["school"], page["role"])
                            or self.signer.mint(page["school"], page["role"]))
            try:
                previous = await self.bindings.bind(sid, conversation)
            except BindingsUnavailable as error:
                # No session_confirm: the socket stays unbound, so its messages cannot reach any conversation.
                _alert_unavailable(error, "a browser's conversation could not start; it was told kindly")
                await sio.emit(self.bot_message_evt, {"text": widget_markdown(NO_REPLY_TEXT)}, room=sid)
                return
            if previous is not None and previous != sid:
                await sio.disconnect(previous)  # one reader per conversation: the latest to prove the token
            await sio.emit("session_confirm", conversation.token, room=sid)

        @sio.on(self.user_message_evt)
        async def handle_message(sid: str, data: Any = None) -> None:
            try:
                conversation = await self.bindings.conversation(sid)
            except BindingsUnavailable as error:
                await self._unavailable(sid, data, error)
                return
            if conversation is None:
                await sio.emit(REFUSED_EVENT, {"reason": "no_session"}, room=sid)
                return
            incoming = read_message(data, conversation, self.known_schools, self.settings.roles)
            if not isinstance(incoming, IncomingMessage):
                await sio.emit(REFUSED_EVENT, {"reason": incoming.reason}, room=sid)
                return
            await self._handle(incoming, conversation.sender_id, sid, on_new_message)

        return webhook

    async def _handle(self, incoming: IncomingMessage, sender_id: str, sid: str,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Pass one message to Rasa as REST does: a huge one is refused kindly unless it may be a disclosure, and
        every message gets a reply even when the action server is down."""
        assert self.sio is not None
        output = WebChatOutput(self.sio, self.bot_message_evt, self.bindings, turn_sid=sid)
        message = UserMessage(incoming.text, output, sender_id, input_channel=self.name(),
                              metadata=dict(incoming.metadata) or None, message_id=incoming.message_id)
        if await guarded_turn(message, on_new_message, "web chat") == "too_long":
            await self.sio.emit(REFUSED_EVENT, {"reason": "too_long", "max_chars": MAX_QUESTION_CHARS}, room=sid)

    async def _unavailable(self, sid: str, data: Any, error: BindingsUnavailable) -> None:
        """Fail closed when the bindings cannot be read: the message is not handed to Rasa, and the guard's own
        failure path answers the socket it came on (the kind reply, or the signposting if it may be a disclosure,
        screened with the page's school and role or those the message names)."""
        assert self.sio is not None
        _alert_unavailable(error, "a message was answered kindly and not passed to the assistant")
        page = await self.sio.get_session(sid)
        # A stand-in for the unknown conversation: only its school and role are read (the page's, if any).
        stand_in = Conversation("", 0, page.get("school"), page.get("role"), token="")
        incoming = read_message(data, stand_in, self.known_schools, self.settings.roles)
        if not isinstance(incoming, IncomingMessage):
            await self.sio.emit(REFUSED_EVENT, {"reason": incoming.reason}, room=sid)
            return

        async def unavailable(_: UserMessage) -> None:
            raise error

        output = _SocketOutput(self.sio, self.bot_message_evt, self.bindings, turn_sid=sid)
        message = UserMessage(incoming.text, output, stand_in.sender_id, input_channel=self.name(),
                              metadata=dict(incoming.metadata) or None)
        if await guarded_turn(message, unavailable, "web chat") == "too_long":
            await self.sio.emit(REFUSED_EVENT, {"reason": "too_long", "max_chars": MAX_QUESTION_CHARS}, room=sid)

    # ------------------------------------------------------------------------------------------------ pages
    async def chat_page(self, request: Request, slug: str) -> HTTPResponse:
        if slug not in self.known_schools:
            return self._message_page(404, pages.NOT_FOUND_HEADING, pages.NOT_FOUND_BODY)
        if not pages.WIDGET_BUNDLE.is_file():
            return self._message_page(503, pages.UNAVAILABLE_HEADING, pages.UNAVAILABLE_BODY)
        role = request.args.get("role")
        role = role if role in self.settings.roles else self.settings.roles[0]
        page = pages.render_chat_page(self.schools.get(slug), role, self.settings.roles,
                                      embedded=request.args.get("embed") == "1")
        return response.html(page, headers=pages.page_headers(self.policy))

    async def no_school_page(self, _: Request) -> HTTPResponse:
        return self._message_page(404, pages.NOT_FOUND_HEADING, pages.NOT_FOUND_BODY)

    async def embed_script(self, _: Request) -> HTTPResponse:
        return await response.file(pages.EMBED_SCRIPT, mime_type="text/javascript; charset=utf-8",
                                   headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    async def asset(self, _: Request, name: str) -> HTTPResponse:
        path, mime_type = pages.ASSETS.get(name, (None, ""))
        if path is None or not path.is_file():
            return response.text("not found", status=404)
        # The 700 KB bundle changes only with web/package-lock.json; the page's own files may change any time.
        cache = "public, max-age=86400" if path == pages.WIDGET_BUNDLE else "no-cache"
        return await response.file(path, mime_type=mime_type,
                                   headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})

    def _message_page(self, status: int, heading: str, body: str) -> HTTPResponse:
        return response.html(pages.render_message_page(heading, body), status=status,
                             headers=pages.page_headers(self.policy))
