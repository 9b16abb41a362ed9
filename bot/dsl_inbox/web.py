"""The DSL inbox web app: a small Sanic server of its own at /dsl/ (bot/dsl_inbox/__main__.py starts it).

Why its own process and not a blueprint in the Rasa server: the chat server faces children and the internet, the
inbox holds every record; a flaw in the one (or in the ~200 packages Rasa brings) should not reach the other. It
also starts in about a second, so it can be restarted or scaled without reloading a model.

Pages are plain server-rendered HTML with no script at all, which is what lets the Content-Security-Policy be
`default-src 'none'`; forms work on any phone. Every state change is a POST carrying the session's CSRF token, and
POSTs from another origin are refused. Sessions live server-side (accounts.py); the cookie is HttpOnly, Secure,
SameSite=Lax (so the link in a notification email still finds the session) and scoped to /dsl. No record content
is ever put in a URL (references are not content), a log line or a redirect.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot import settings
from bot.dsl_inbox import views
from bot.dsl_inbox.accounts import AccountLocked, InboxAccounts, Session, SignInRefused, csrf_matches
from bot.safeguarding.records import (ACTIONS, NOTIFICATION_OVERDUE_AFTER, RECORD_URGENCIES, ConcernNotFound,
                                      ConcernStore, RecordStoreUnavailable)
from bot.safeguarding.types import CATEGORIES

log = logging.getLogger(__name__)

TEMPLATES_DIR = settings.PROJECT_ROOT / "web" / "templates" / "dsl"
STATIC_DIR = settings.PROJECT_ROOT / "web" / "static"
SESSION_COOKIE = "dsl_session"
PRE_COOKIE = "dsl_pre"  # the sign-in form's own CSRF token (double submit), before there is a session
PAGE_SIZE = 100
_REFERENCE = re.compile(r"[A-Za-z]{2,6}-\d{4}-\d{4}")
_NEXT = re.compile(r"/dsl/concerns(/[A-Za-z]{2,6}-\d{4}-\d{4})?")

SECURITY_HEADERS: dict[str, str] = {
    # No script, no frames, no third party: only this server's stylesheet and forms posting back to it.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # "same-origin", not "no-referrer": under no-referrer Chromium sends `Origin: null` on the inbox's own form
    # posts, which the origin check would refuse; no page links to another site anyway.
    "Referrer-Policy": "same-origin",
    # A DSL may read on a shared phone or computer: nothing is kept in the browser's cache.
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class InboxSettings:
    """How the inbox runs: `secure_cookies` is off only for tests on plain-HTTP loopback browsers that need it."""

    secure_cookies: bool = True
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))


def _templates() -> Environment:
    environment = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)),
                              autoescape=select_autoescape(default=True, default_for_string=True))
    environment.filters["uk"] = views.uk_time
    environment.globals.update(urgency_labels=views.URGENCY_LABELS, status_labels=views.STATUS_LABELS,
                               category_labels=views.CATEGORY_LABELS, kind_labels=views.KIND_LABELS,
                               actions=ACTIONS)
    return environment


def build_app(store: ConcernStore, accounts: InboxAccounts, inbox: InboxSettings | None = None,
              name: str = "policybot_dsl_inbox") -> Any:
    """The Sanic app. `store` and `accounts` must share the safeguarding settings (who reads which school)."""
    from sanic import Sanic, response
    from sanic.exceptions import NotFound

    inbox = inbox or InboxSettings()
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 64 * 1024  # forms only
    app.config.FORWARDED_SECRET = None
    templates = _templates()

    def page(template: str, http_status: int = 200, **values: Any) -> Any:
        return response.html(templates.get_template(template).render(**values), status=http_status)

    def set_cookie(resp: Any, name_: str, value: str, same_site: str = "Lax") -> None:
        resp.cookies[name_] = value
        cookie = resp.cookies[name_]
        cookie["path"] = "/dsl"
        cookie["httponly"] = True
        cookie["samesite"] = same_site
        if inbox.secure_cookies:
            cookie["secure"] = True

    def clear_cookie(resp: Any, name_: str) -> None:
        set_cookie(resp, name_, "")
        resp.cookies[name_]["max-age"] = 0

    def signed_in(request: Any) -> Session | None:
        found = accounts.session(request.cookies.get(SESSION_COOKIE, ""))
        return found if found is not None and found.signed_in else None

    def same_origin(request: Any) -> bool:
        """A POST whose Origin (or Referer) names another site is refused; browsers send Origin on POSTs."""
        claimed = request.headers.get("origin") or request.headers.get("referer")
        if not claimed or claimed == "null":
            return claimed is None
        return urlsplit(claimed).netloc == request.headers.get("host", "")

    def sign_in_page(request: Any, error: str = "", http_status: int = 200, next_: str = "") -> Any:
        token = secrets.token_urlsafe(24)
        resp = page("sign_in.html", http_status, csrf=token, error=error, next=next_ or _safe_next(request.args.get("next")))
        set_cookie(resp, PRE_COOKIE, token, same_site="Strict")
        return resp

    def to_sign_in(request: Any) -> Any:
        target = request.path if _NEXT.fullmatch(request.path) else ""
        return response.redirect("/dsl/sign-in" + (f"?next={quote(target, safe='/')}" if target else ""))

    def refused(request: Any, who: Session) -> Any:
        resp = page("message.html", 403, title="No access",
                    message="Your account is no longer listed as a safeguarding reader for this school. "
                            "Ask your IT admin.", session=None)
        accounts.sign_out(request.cookies.get(SESSION_COOKIE, ""))
        clear_cookie(resp, SESSION_COOKIE)
        return resp

    def missing(session: Session, reference: str) -> Any:
        # Another school's reference, or one routed to other readers, reads exactly like one that does not exist.
        return page("message.html", 404, session=session, title="Not found",
                    message=f"There is no concern {reference.upper()} for your school.",
                    link=("/dsl/concerns", "Back to the inbox"))

    def school_name(slug: str) -> str:
        return store.schools.get(slug).name

    # -- middleware and errors

    @app.on_response
    async def security_headers(request: Any, resp: Any) -> None:
        for header, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(header, value)

    @app.exception(NotFound)
    async def not_found(request: Any, exception: Exception) -> Any:
        return page("message.html", 404, title="Not found", message="There is no page here.", session=None)

    @app.exception(RecordStoreUnavailable)
    async def store_down(request: Any, exception: Exception) -> Any:
        log.error("DSL inbox: the concern store is unavailable (%s)", type(exception).__name__)
        return page("message.html", 503, title="Records unavailable", session=None,
                    message="The safeguarding records cannot be reached just now. Try again in a minute; if it "
                            "goes on, tell your IT admin. Follow your school's safeguarding procedure meanwhile.")

    @app.exception(Exception)
    async def anything_else(request: Any, exception: Exception) -> Any:
        # The class name only: an exception's message could quote a record.
        log.error("DSL inbox: %s on %s %s", type(exception).__name__, request.method, request.path)
        return page("message.html", 500, title="Something went wrong", session=None,
                    message="The inbox could not do that. Nothing you had already saved is lost. Try again, "
                            "and tell your IT admin if it happens again.")

    # -- signing in

    @app.get("/dsl/health")
    async def health(request: Any) -> Any:
        return response.text("ok")

    @app.get("/dsl/")  # Sanic matches /dsl too (strict_slashes is off)
    async def root(request: Any) -> Any:
        return response.redirect("/dsl/concerns" if signed_in(request) else "/dsl/sign-in")

    @app.get("/dsl/static/dsl.css")
    async def stylesheet(request: Any) -> Any:
        return await response.file(STATIC_DIR / "dsl.css", mime_type="text/css",
                                   headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/dsl/sign-in")
    async def sign_in_form(request: Any) -> Any:
        if signed_in(request):
            return response.redirect(_safe_next(request.args.get("next")) or "/dsl/concerns")
        return sign_in_page(request)

    @app.post("/dsl/sign-in")
    async def sign_in(request: Any) -> Any:
        form = request.form
        next_ = _safe_next(form.get("next"))
        pre = request.cookies.get(PRE_COOKIE, "")
        if not same_origin(request) or not pre or not secrets.compare_digest(pre, form.get("csrf") or ""):
            return sign_in_page(request, "The sign-in form had expired. Please try again.", 403, next_)
        try:
            pending = accounts.check_password(form.get("username") or "", form.get("password") or "")
        except AccountLocked as locked:
            return sign_in_page(request, _locked_message(locked), 429, next_)
        except SignInRefused:
            return sign_in_page(request, "That name or password is not right.", 401, next_)
        resp = response.redirect("/dsl/sign-in/code" + (f"?next={quote(next_, safe='/')}" if next_ else ""))
        set_cookie(resp, SESSION_COOKIE, pending.token)
        clear_cookie(resp, PRE_COOKIE)
        return resp

    def code_page(request: Any, pending: Session, error: str = "", http_status: int = 200,
                  next_: str = "") -> Any:
        return page("code.html", http_status, csrf=pending.csrf, error=error,
                    next=next_ or _safe_next(request.args.get("next")))

    @app.get("/dsl/sign-in/code")
    async def code_form(request: Any) -> Any:
        pending = accounts.session(request.cookies.get(SESSION_COOKIE, ""))
        if pending is None or pending.signed_in:
            return response.redirect("/dsl/concerns" if pending else "/dsl/sign-in")
        return code_page(request, pending)

    @app.post("/dsl/sign-in/code")
    async def code(request: Any) -> Any:
        token = request.cookies.get(SESSION_COOKIE, "")
        pending = accounts.session(token)
        form = request.form
        next_ = _safe_next(form.get("next"))
        if pending is None or pending.signed_in:
            return sign_in_page(request, "The sign-in had expired. Please start again.", 401, next_)
        if not same_origin(request) or not csrf_matches(pending, form.get("csrf")):
            return code_page(request, pending, "The form had expired. Please enter the code again.", 403, next_)
        try:
            session = accounts.check_code(token, form.get("code") or "")
        except AccountLocked as locked:
            resp = sign_in_page(request, _locked_message(locked), 429)
            clear_cookie(resp, SESSION_COOKIE)
            return resp
        except SignInRefused as refusal:
            if "expired" in str(refusal):
                return sign_in_page(request, "The sign-in had expired. Please start again.", 401, next_)
            return code_page(request, pending, "That code is not right. Use the newest code in your "
                                               "authenticator app.", 401, next_)
        resp = response.redirect(next_ or "/dsl/concerns")
        set_cookie(resp, SESSION_COOKIE, session.token)
        return resp

    @app.post("/dsl/sign-out")
    async def sign_out(request: Any) -> Any:
        session = signed_in(request)
        if session is not None and same_origin(request) and csrf_matches(session, request.form.get("csrf")):
            accounts.sign_out(session.token)
        resp = page("message.html", title="Signed out", message="You have signed out.", session=None,
                    link=("/dsl/sign-in", "Sign in again"))
        clear_cookie(resp, SESSION_COOKIE)
        return resp

    # -- the inbox

    @app.get("/dsl/concerns")
    async def concern_list(request: Any) -> Any:
        session = signed_in(request)
        if session is None:
            return to_sign_in(request)
        status = _choice(request.args.get("status"), ("open", "all", "new", "acknowledged", "closed"), "open")
        urgency = _choice(request.args.get("urgency"), RECORD_URGENCIES, None)
        category = _choice(request.args.get("category"), CATEGORIES, None)
        number = _page_number(request.args.get("page"))
        try:
            found = store.list_concerns(session.school, session.username, status, urgency, category)
        except PermissionError:
            return refused(request, session)
        now = inbox.clock()
        overdue = store.overdue_notifications(session.school, now=now).get(session.school, 0)
        shown = found[(number - 1) * PAGE_SIZE: number * PAGE_SIZE]
        pages = max(1, -(-len(found) // PAGE_SIZE))
        filters = "&".join(f"{key}={value}" for key, value in
                           (("status", status), ("urgency", urgency), ("category", category)) if value)
        return page("list.html", session=session, school=school_name(session.school), concerns=shown,
                    total=len(found), status=status, urgency=urgency, category=category, page=number,
                    pages=pages, filters=filters, overdue=overdue, now=now, age=views.age,
                    overdue_after=NOTIFICATION_OVERDUE_AFTER, urgencies=RECORD_URGENCIES, categories=CATEGORIES)

    def detail_page(session: Session, reference: str, error: str = "", http_status: int = 200,
                    done: str = "") -> Any:
        record = store.show(reference, session.school, session.username)
        return page("concern.html", http_status, session=session, school=school_name(session.school), record=record,
                    chronology=views.chronology(record), access=views.access_log(record.history),
                    language=_language_name(record.language), error=error, done=_DONE.get(done, ""))

    @app.get("/dsl/concerns/<reference>")
    async def concern(request: Any, reference: str) -> Any:
        session = signed_in(request)
        if session is None:
            return to_sign_in(request)
        if not _REFERENCE.fullmatch(reference):
            raise NotFound("no such page")
        try:
            return detail_page(session, reference, done=request.args.get("done", ""))
        except ConcernNotFound:
            return missing(session, reference)
        except PermissionError:
            return refused(request, session)

    @app.post("/dsl/concerns/<reference>/<step>")
    async def change(request: Any, reference: str, step: str) -> Any:
        session = signed_in(request)
        if session is None:
            return to_sign_in(request)
        if not _REFERENCE.fullmatch(reference) or step not in _STEPS:
            raise NotFound("no such page")
        if not same_origin(request) or not csrf_matches(session, request.form.get("csrf")):
            return page("message.html", 403, session=session, title="Form expired",
                        message="That form had expired or did not come from this inbox, so nothing was changed. "
                                "Open the concern again and repeat the step.",
                        link=(f"/dsl/concerns/{reference.upper()}", "Open the concern"))
        form = request.form
        try:
            if step == "acknowledge":
                store.acknowledge(reference, session.school, session.username)
            elif step == "note":
                store.add_note(reference, session.school, session.username, form.get("text") or "")
            elif step == "action":
                store.add_note(reference, session.school, session.username, form.get("text") or "",
                               step=form.get("action") or "")
            else:
                if not form.get("outcome"):
                    raise ValueError("choose the outcome before closing")
                store.close(reference, session.school, session.username, form.get("text") or None,
                            outcome=form.get("outcome"))
        except ConcernNotFound:
            return missing(session, reference)
        except PermissionError:
            return refused(request, session)
        except ValueError as problem:
            # The store's messages name codes and statuses, never record content.
            return detail_page(session, reference, error=_sentence(str(problem)), http_status=400)
        return response.redirect(f"/dsl/concerns/{reference.upper()}?done={step}", status=303)

    return app


_STEPS = ("acknowledge", "note", "action", "close")
_DONE = {"acknowledge": "Acknowledged.", "note": "Note added.", "action": "Action recorded.", "close": "Closed."}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _locked_message(locked: AccountLocked) -> str:
    return (f"Too many attempts: this account is locked until {views.uk_time(locked.until)} (UK time). "
            f"Your IT admin can unlock it sooner.")


def _safe_next(value: str | None) -> str:
    """Only an inbox page may be the place to go after signing in (never another site)."""
    return value if value and _NEXT.fullmatch(value) else ""


def _choice(value: str | None, allowed: tuple[str, ...], default: str | None) -> str | None:
    return value if value in allowed else default


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 10_000 else 1


def _language_name(code: str | None) -> str:
    if not code:
        return ""
    try:
        from lingua import IsoCode639_1, Language

        return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())).name.title()
    except (ImportError, AttributeError, ValueError):
        return code


def build_default_app(inbox: InboxSettings | None = None) -> Any:
    """The app on the project's default store and settings (what `python -m bot.dsl_inbox` serves)."""
    store = ConcernStore()
    accounts = InboxAccounts(store.url, schools=store.schools, config=store.config, access_log=store.log_access)
    return build_app(store, accounts, inbox)


def static_path() -> Path:
    return STATIC_DIR / "dsl.css"
