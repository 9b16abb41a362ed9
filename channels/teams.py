"""The Microsoft Teams channel for staff: Rasa glue around channels/teams_*.py, at /webhooks/teams/webhook.

Registered in credentials.yml as `channels.teams.TeamsInput`. It replaces Rasa's `botframework` channel, which
fetches Microsoft's keys in its constructor (so the server cannot start offline), lets the token choose its own
algorithm and checks neither issuer nor serviceUrl. Here: nothing is fetched until the first request; each request
is checked by channels/teams_auth.py (401 if it fails); only Teams is served: the activity's channelId must be
exactly "msteams" and the token's signing key endorsed for "msteams" (403 otherwise: the Connector is genuine but
the activity is not from Teams); the tenant (and team) must be mapped to a school in config/teams.yml, or the person
gets a polite refusal and nothing reaches Rasa; then the message goes to Rasa as
{"school", "role": "staff", "channel": "teams", "message_id", ...} and every reply is posted back to the activity's
serviceUrl. Without an app id and password the server starts anyway and the webhook answers 503.

In a team channel or a group chat everyone there reads the bot's replies, so a message the safeguarding screen
flags (anything it would hand to the DSL, check in about or signpost, or a screen that failed) is not discussed
there: the school is decided from the channel activity (team -> school), the bot says in the channel only that it
will carry on in a private chat, starts a personal chat with the person through the Bot Connector and hands the
message to Rasa with an output that posts into that chat (same Rasa conversation id: tenant + user + school). If
the personal chat cannot be started, the channel gets a signposting line asking the person to message the bot
directly, and the message still goes to Rasa -- its replies discarded -- so a concern is recorded and the DSL told.

With POLICYBOT_REDIS_URL set (cluster mode: replicas behind a load balancer) the retry de-duplication and the moved
chats are kept in Redis, so any replica sees them (channels/teams_activity.py, `shared_state`). If Redis fails the
channel fails closed: an ALERT is logged (the error's class only), the person gets the kind reply -- the safety
signposting when the message may carry risk, never discussed in a team channel -- and nothing reaches Rasa, rather
than a message being guessed new (answered twice) or a repeat (dropped).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Iterable

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.safeguarding.handoff import safe_signposting
from bot.settings import redis_url
from channels.guard import guarded_turn, screen_verdict
from channels.teams_activity import (Activity, ActivityError, StateUnavailable, message_id, sender_id,
                                     shared_state)
from channels.teams_auth import (AuthError, KeysUnavailable, NotEndorsed, SigningKeys, TokenValidator,
                                 check_service_url)
from channels.teams_cards import image_activity, reply_activity
from channels.teams_config import Placement, TeamsSettings, TenantMap
from channels.teams_connector import AppTokens, ConnectorClient, ConnectorError

logger = logging.getLogger(__name__)

ROLE = "staff"
CHANNEL = "teams"
#: The only Bot Framework channel served: the activity's channelId, and what the signing key must be endorsed for.
TEAMS_CHANNEL_ID = "msteams"
#: Conversation types where others read the bot's replies (Teams' other type is "personal").
SHARED_CONVERSATIONS = ("channel", "groupChat")

UNKNOWN_TENANT_TEXT = (
    "Sorry, this policy assistant hasn't been set up for your organisation yet, so I can't answer here. "
    "Please ask your school's IT administrator to connect your Microsoft 365 tenant to it.\n"
    "If you have a safeguarding concern, don't wait: follow your school's procedure and speak to your Designated "
    "Safeguarding Lead today. If anyone is in immediate danger, call 999.")
UNMAPPED_TEAM_TEXT = (
    "Sorry, I don't know which school this team belongs to, so I can't answer here. Please ask me in a chat with "
    "me directly, or ask your IT administrator to link this team to its school.\n"
    "If you have a safeguarding concern, don't wait: follow your school's procedure and speak to your Designated "
    "Safeguarding Lead today. If anyone is in immediate danger, call 999.")
#: When the assistant sent nothing back (the action server is down): staff words, unlike the REST channel's.
NO_REPLY_TEXT = ("I can't look that up right now, sorry. Please check the policy itself or ask your Designated "
                 "Safeguarding Lead. If you have a safeguarding concern, follow your school's procedure today.")
#: In a team channel or group chat, instead of anything about a message the screen flagged (the team sees it).
MOVED_TO_PRIVATE_TEXT = "Thanks — I'll carry on with you in a private chat so this isn't shared with the team."
#: The same, when Teams would not let the bot start that private chat.
PRIVATE_CHAT_FAILED_TEXT = (
    "Thanks — I'd rather carry on with you in a private chat, so this isn't shared with the team, but I couldn't "
    "start one. Please message me directly (in Teams: Chat, then find me by name).\n"
    "If you're worried about a child, speak to your Designated Safeguarding Lead today. If anyone is in immediate "
    "danger, call 999. Children and young people can call Childline on 0800 1111.")
NOT_CONFIGURED_TEXT = ("The Microsoft Teams channel is not configured on this server: set {missing} "
                       "(see the README, Microsoft Teams section).")


class TeamsOutput(OutputChannel):
    """Posts the assistant's replies to one Teams conversation: as replies to the activity being answered, or, with
    `conversation_id` (the personal chat a turn was moved to), as new messages in that conversation."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, connector: ConnectorClient, activity: Activity, conversation_id: str | None = None) -> None:
        self._connector = connector
        self._activity = activity
        self._conversation_id = conversation_id or activity.conversation_id or ""
        self._reply_to_id = None if conversation_id else activity.id
        #: Replies the Connector accepted, and replies it refused.
        self.sent = 0
        self.failed = 0

    async def _post(self, activity: dict[str, Any]) -> None:
        inbound = self._activity
        activity = {**activity, "from": {"id": inbound.bot_id}, "recipient": {"id": inbound.user_id},
                    "conversation": {"id": self._conversation_id}}
        if self._reply_to_id:
            activity["replyToId"] = self._reply_to_id
        try:
            await self._connector.reply(inbound.service_url or "", self._conversation_id, self._reply_to_id,
                                        activity)
        except ConnectorError as error:
            self.failed += 1
            logger.error("teams: a reply was not delivered (%s)", error)
            return
        self.sent += 1

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._post(reply_activity(text))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        await self._post(reply_activity(text, buttons))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._post(image_activity(image))

    async def send_elements(self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any) -> None:
        for element in elements:
            title = "\n".join(str(element.get(key)) for key in ("title", "subtitle") if element.get(key))
            await self._post(reply_activity(title, element.get("buttons") or ()))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        # A custom payload is taken to be (part of) a Bot Framework activity, e.g. {"attachments": [...]}.
        await self._post({"type": "message", **json_message})


class DiscardingOutput(OutputChannel):
    """Where the replies to a turn go when there is nowhere private to send them: counted, then dropped."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self) -> None:
        self.discarded = 0

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.discarded += 1

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.discarded += 1

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        self.discarded += 1

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]],
                                 **kwargs: Any) -> None:
        self.discarded += 1

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        self.discarded += 1

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        self.discarded += 1

    async def send_elements(self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any) -> None:
        self.discarded += 1

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        self.discarded += 1


class TeamsInput(InputChannel):
    """Microsoft Teams (Bot Framework) input channel for staff; see the module docstring."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "TeamsInput":
        return cls(TeamsSettings.from_sources(credentials))

    def __init__(self, settings: TeamsSettings, tenants: TenantMap | None = None) -> None:
        self.settings = settings
        self.tenants: TenantMap | None = None
        self.validator: TokenValidator | None = None
        self.connector: ConnectorClient | None = None
        # In memory, or in Redis when replicas share it (cluster mode); nothing is connected yet either way.
        shared = redis_url()
        self.recent, self.private = shared_state(shared)
        if not settings.configured:
            # Once, at start-up: a laptop without Teams settings still runs everything else.
            logger.info("teams: not configured (%s unset); /webhooks/teams/webhook will answer 503",
                        " and ".join(settings.missing()))
            return
        # Checked now, so a typo in the mapping stops the server with a clear message instead of refusing staff.
        self.tenants = tenants if tenants is not None else TenantMap.load(settings.config_path)
        if not len(self.tenants):
            logger.warning("teams: %s maps no tenants; everyone on Teams will be politely refused",
                           settings.config_path)
        if shared:
            logger.info("teams: retry de-duplication and moved chats are kept in Redis, shared by every replica")
        # Nothing is fetched here: the keys on the first request, the app token on the first reply.
        self.validator = TokenValidator(settings.app_id or "", SigningKeys(settings.openid_url))
        self.connector = ConnectorClient(AppTokens(settings.app_id or "", settings.app_password or "",
                                                   settings.token_url))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        teams_webhook = Blueprint("teams_webhook", __name__)

        @teams_webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.settings.configured})

        @teams_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            return await self.handle(request.headers.get("Authorization"), request.body, on_new_message)

        return teams_webhook

    async def handle(self, authorization: str | None, body: bytes,
                     on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """Authenticate, place and hand on one activity; the HTTP answer for the Connector."""
        if self.validator is None or self.connector is None or self.tenants is None:
            return response.text(NOT_CONFIGURED_TEXT.format(missing=" and ".join(self.settings.missing())),
                                  status=503)
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        try:
            # The key must be endorsed for Teams, whatever channel the activity claims (checked next).
            claims = await self.validator.validate(authorization, TEAMS_CHANNEL_ID)
        except NotEndorsed as error:
            logger.warning("teams: refused an activity (%s)", error.reason)
            return response.text("Forbidden", status=403)
        except AuthError as error:
            logger.warning("teams: refused an unauthenticated request (%s)", error.reason)
            return response.text("Unauthorized", status=401)
        except KeysUnavailable:
            return response.text("Bot Framework signing keys are unavailable; try again later", status=503)
        # A genuine Connector request for another channel (Web Chat, Direct Line, the emulator...) or for none.
        if isinstance(payload, dict) and payload.get("channelId") != TEAMS_CHANNEL_ID:
            logger.warning("teams: refused an activity (not_msteams)")
            return response.text("Forbidden", status=403)
        try:
            activity = Activity.parse(payload)
        except ActivityError as error:
            return response.text(f"Bad activity: {error}", status=400)
        try:
            check_service_url(claims, activity.service_url)
        except AuthError as error:
            logger.warning("teams: refused an activity (%s)", error.reason)
            return response.text("Unauthorized", status=401)
        if activity.type != "message":
            return response.empty(status=200)  # conversationUpdate, typing, ...: nothing to answer
        key = message_id(activity)
        try:
            if key and not self.recent.first_time(key):
                logger.info("teams: a retried activity was already handled; not answering it twice")
                return response.empty(status=200)
            # Every use of the shared state in a turn comes before anything is posted or handed to Rasa.
            await self._answer(activity, key, on_new_message)
        except StateUnavailable as error:
            await self._answer_without_state(activity, error)
        return response.empty(status=200)

    async def _answer_without_state(self, activity: Activity, error: StateUnavailable) -> None:
        """Redis failed: the kind reply the guard gives when nothing came back, and nothing handed to Rasa. In a team
        channel or group chat a message that may carry risk gets the content-free line with the signposting."""
        assert self.connector is not None
        logger.error("ALERT: teams: the shared state in Redis failed (%s); replied kindly, nothing passed to the "
                     "assistant", error.cause)
        verdict = screen_verdict(activity.text, ROLE)
        risky = verdict is not None and (verdict.hand_off or verdict.check_in or verdict.signpost)
        if risky and activity.conversation_type in SHARED_CONVERSATIONS:
            texts: tuple[str, ...] = (PRIVATE_CHAT_FAILED_TEXT,)
        else:
            texts = tuple(safe_signposting(ROLE)) if risky else (NO_REPLY_TEXT,)
        output = TeamsOutput(self.connector, activity)
        for text in texts:
            await output.send_text_message("", text)

    def _place(self, activity: Activity) -> Placement:
        """The school: a personal chat someone was moved to keeps the school the channel was placed at (for a
        while); otherwise the tenant, or in a team channel the team."""
        assert self.tenants is not None
        if activity.conversation_type not in SHARED_CONVERSATIONS:
            moved_to = self.private.school_for(activity.conversation_id, activity.tenant_id, activity.user_id)
            if moved_to:
                return Placement(moved_to, "moved")
        return self.tenants.place(activity.tenant_id, activity.team_ids)

    def _not_for_the_team(self, activity: Activity, school: str, text: str) -> bool:
        """True when a message in a shared conversation must be answered privately: the screen flags it (hand-off,
        check-in, signposting, or the screen failed), or the person's conversation at this school is already
        carried on in a personal chat."""
        if self.private.moved(activity.tenant_id, activity.user_id, school):
            return True
        verdict = screen_verdict(text, ROLE)  # cached: the guard's screen of the same message costs nothing more
        return verdict is not None and (verdict.hand_off or verdict.check_in or verdict.signpost)

    async def _answer(self, activity: Activity, key: str | None,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        assert self.tenants is not None and self.connector is not None
        output = TeamsOutput(self.connector, activity)
        placement = self._place(activity)
        if placement.school is None:
            # The tenant id is an organisation's, not a person's: the admin needs it to map the tenant.
            logger.warning("teams: %s (tenant %s); sent the polite refusal, nothing passed to the assistant",
                           placement.reason.replace("_", " "), activity.tenant_id or "missing")
            await output.send_text_message("", UNMAPPED_TEAM_TEXT if placement.reason == "unmapped_team"
                                           else UNKNOWN_TENANT_TEXT)
            return
        assert activity.tenant_id and activity.user_id
        metadata: dict[str, Any] = {"school": placement.school, "role": ROLE, "channel": CHANNEL,
                                    "teams_tenant": activity.tenant_id.lower(),
                                    "teams_conversation_type": activity.conversation_type or "personal"}
        if key:
            metadata["message_id"] = key
        message = UserMessage(text=activity.text, output_channel=output,
                              sender_id=sender_id(self.settings.app_password or "", activity.tenant_id,
                                                  activity.user_id, placement.school),
                              input_channel=CHANNEL, message_id=key, metadata=metadata)
        if (activity.conversation_type in SHARED_CONVERSATIONS
                and self._not_for_the_team(activity, placement.school, activity.text)):
            await self._answer_privately(activity, placement.school, message, on_new_message)
            return
        # The channel guard: a huge message refused kindly unless it may be a disclosure, a reply to every message,
        # the signposting whenever the message carries risk (channels/guard.py).
        await guarded_turn(message, on_new_message, "teams", NO_REPLY_TEXT)

    async def _answer_privately(self, activity: Activity, school: str, message: UserMessage,
                                on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """A flagged message from a team channel or group chat: a content-free line there, the turn in a personal
        chat (see the module docstring)."""
        assert self.connector is not None and activity.tenant_id and activity.user_id
        in_shared = TeamsOutput(self.connector, activity)
        metadata = {**(message.metadata or {}), "teams_moved_from": activity.conversation_type}
        try:
            conversation_id = await self.connector.create_personal_conversation(
                activity.service_url or "", activity.bot_id or "", activity.user_id, activity.tenant_id)
        except ConnectorError as error:
            # Nowhere private to answer: signpost in the channel, and still hand the message on (replies
            # discarded) so whatever the assistant records -- a concern for the DSL -- is recorded.
            logger.error("teams: could not start a personal chat (%s); signposted in the channel, replies to this "
                         "turn discarded", error)
            await in_shared.send_text_message("", PRIVATE_CHAT_FAILED_TEXT)
            message.metadata = {**metadata, "teams_private_chat": "failed"}
            message.output_channel = DiscardingOutput()
            await guarded_turn(message, on_new_message, "teams", NO_REPLY_TEXT)
            return
        self.private.remember(activity.tenant_id, activity.user_id, school, conversation_id)
        await in_shared.send_text_message("", MOVED_TO_PRIVATE_TEXT)
        logger.info("teams: a message in a %s is answered in a personal chat", activity.conversation_type)
        message.metadata = {**metadata, "teams_conversation_type": "personal"}
        message.output_channel = TeamsOutput(self.connector, activity, conversation_id=conversation_id)
        await guarded_turn(message, on_new_message, "teams", NO_REPLY_TEXT)
