"""The HTML the web chat serves: a chat page per school and role, a kind not-found page, and the headers that keep
other websites from framing or scripting them. Templates live in web/templates; every value is HTML-escaped."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from bot import settings as bot_settings
from bot.safeguarding.handoff import CHILDLINE_NUMBER
from bot.schools import SchoolProfile
from channels.webchat.security import OriginPolicy

WEB_DIR = bot_settings.PROJECT_ROOT / "web"
TEMPLATES_DIR = WEB_DIR / "templates"
#: The standalone browser build of rasa-webchat, installed by scripts/install-web.sh (npm ci in web/).
WIDGET_BUNDLE = WEB_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
#: Files served under /chat/assets/ (a fixed list: nothing else on disk can be asked for).
ASSETS: dict[str, tuple[Path, str]] = {
    "chat.js": (WEB_DIR / "static" / "chat.js", "text/javascript; charset=utf-8"),
    "chat.css": (WEB_DIR / "static" / "chat.css", "text/css; charset=utf-8"),
    "rasa-webchat.js": (WIDGET_BUNDLE, "text/javascript; charset=utf-8"),
}
EMBED_SCRIPT = WEB_DIR / "static" / "embed.js"
#: Payload the "Worried about something?" button sends: intent report_concern starts the concern form.
REPORT_PAYLOAD = "/report_concern"

_ROLE_LABELS = {"pupil": "a pupil", "parent": "a parent or carer", "staff": "staff", "governor": "a governor",
                "visitor": "a visitor"}
_SIMPLE_PHASES = ("primary", "special")


def _template(name: str) -> Template:
    return Template((TEMPLATES_DIR / name).read_text(encoding="utf-8"))


def _escaped(values: dict[str, str], raw: tuple[str, ...] = ()) -> dict[str, str]:
    return {key: value if key in raw else html.escape(value, quote=True) for key, value in values.items()}


def render_chat_page(profile: SchoolProfile, role: str, roles: tuple[str, ...], embedded: bool = False) -> str:
    """The chat page for `profile`'s school asked as `role`: plainer, larger words for primary and special school
    pupils; a visible choice of role when more than one is offered; the report button always on screen."""
    simple = role == "pupil" and profile.phase in _SIMPLE_PHASES
    if role == "pupil":
        heading = f"Ask about staying safe online at {profile.short_name}"
        intro = (f"Ask me about the rules at {profile.short_name} for phones, tablets and the internet. "
                 "I use the school's own rules to answer." if simple else
                 f"Ask about {profile.name}'s rules on phones, social media, photos and staying safe online. "
                 "Answers quote the school's own online safety policy.")
        worried_help = (f"You can tell someone at {profile.short_name} who will help. If you are in danger now, "
                        f"call 999. You can talk to Childline any time on {CHILDLINE_NUMBER}. It is free.")
    else:
        heading = f"{profile.name}: online safety questions"
        intro = (f"Ask about {profile.name}'s online safety policy: phones, social media, photos, and who to "
                 "contact. Answers quote the school's own policy and say which section.")
        worried_help = (f"Report a worry about a child to {profile.short_name}'s safeguarding lead. If a child is in "
                        "danger right now, call 999.")
    values = _escaped({
        "page_title": f"{profile.short_name} online safety chat",
        "body_class": " ".join(filter(None, ("chat-page", "simple" if simple else "", "embedded" if embedded else ""))),
        "heading": heading,
        "intro": intro,
        "role_choice": _role_choice(profile.slug, role, roles, embedded),
        "worried_label": "Worried about something?",
        "worried_help": worried_help,
        "chat_label": f"Chat about {profile.short_name}'s online safety rules",
        "slug": profile.slug,
        "role": role,
        "widget_title": profile.short_name,
        "input_hint": "Type your question here" if role == "pupil" else "Type your question",
        "noscript_help": f"You can ask a teacher or the school office at {profile.short_name} instead.",
    }, raw=("role_choice",))
    return _template("chat.html").substitute(values)


def _role_choice(slug: str, role: str, roles: tuple[str, ...], embedded: bool) -> str:
    """Links to the same page as each offered role (a new conversation: answers depend on who is asking)."""
    if len(roles) < 2:
        return ""
    items = []
    for offered in roles:
        query = "&".join(filter(None, (f"role={offered}" if offered != roles[0] else "",
                                        "embed=1" if embedded else "")))
        href = html.escape(f"/chat/{slug}" + (f"?{query}" if query else ""), quote=True)
        label = html.escape(_ROLE_LABELS[offered])
        current = ' aria-current="page"' if offered == role else ""
        items.append(f'<li><a href="{href}"{current}>{label}</a></li>')
    return ('<nav class="roles" aria-label="Who is asking?"><span class="roles-label" aria-hidden="true">I am</span>'
            f'<ul>{"".join(items)}</ul></nav>')


def render_message_page(heading: str, body: str) -> str:
    """A plain page for a problem (unknown school, chat not installed) that names no school and still signposts."""
    return _template("message.html").substitute(_escaped({
        "page_title": heading,
        "heading": heading,
        "body": body,
        "signpost": ("If you are worried about something, talk to an adult you trust. If someone is in danger right "
                     f"now, call 999. Childline is free, any time: {CHILDLINE_NUMBER}."),
    }))


NOT_FOUND_HEADING = "We can't find that chat"
NOT_FOUND_BODY = "Please check the link your school gave you, or ask at the school office."
UNAVAILABLE_HEADING = "The chat isn't available right now"
UNAVAILABLE_BODY = "Please try again later, or ask a teacher or the school office."


def page_headers(policy: OriginPolicy) -> dict[str, str]:
    """Headers for the chat pages: scripts only from this server, sockets only to it, framing only by the origins
    allowed to use the chat, nothing cached or sent on as a referrer (a conversation may be personal)."""
    csp = "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # the widget's bundle injects its own <style> element
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        f"frame-ancestors {policy.frame_ancestors()}",
    ))
    return {"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"}
