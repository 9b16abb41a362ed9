"""Who may sign in to the DSL inbox, and their sessions: a password (argon2id) plus a time-based code from an
authenticator app (TOTP, RFC 6238), with lock-out after repeated failures and server-side sessions that time out.

Authentication lives here; authorisation stays in config/safeguarding.yml: an account can only be enrolled for a
name the school lists as a DSL (or allegation) reader, and the concern store checks that list again on every read,
so taking a name off the list ends that person's access even while they are signed in.

The tables sit in the concern store's database by default (one database to back up, and PostgreSQL for a trust
as well). Session tokens are stored as sha256 digests, so a copy of the database does not let anyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, select
from sqlalchemy.engine import Connection, Engine

from bot import sqlstore
from bot.safeguarding.records.config import SafeguardingConfig
from bot.safeguarding.records.schema import _maybe_utc, _utc
from bot.schools import SchoolDirectory

#: Consecutive failures (password or code) before an account is locked, and for how long.
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
#: A signed-in session ends after this long without a request, and in any case after the absolute limit.
IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
#: Between the password and the code: long enough to open the authenticator app.
CODE_STEP_TIMEOUT = timedelta(minutes=5)
MIN_PASSWORD_CHARS = 12
#: Shown in the authenticator app beside the account name.
ISSUER = "Policybot DSL inbox"

metadata = MetaData()

dsl_accounts = Table(
    "dsl_accounts",
    metadata,
    Column("username", String(128), primary_key=True),  # casefolded, as safeguarding.yml names are compared
    Column("school", String(64), nullable=False, index=True),
    Column("password_hash", String(255), nullable=False),
    Column("totp_secret", String(64), nullable=False),
    Column("last_totp_step", Integer, nullable=True),  # a code is accepted once (no replay within its window)
    Column("failures", Integer, nullable=False),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_sign_in_at", DateTime(timezone=True), nullable=True),
)

dsl_sessions = Table(
    "dsl_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(128), nullable=False, index=True),
    Column("school", String(64), nullable=False),
    Column("stage", String(16), nullable=False),  # "code" (password accepted, code awaited) | "signed_in"
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
)

#: Called for each sign-in event: (school or None, actor, action, detail); the web inbox writes it to the audit.
AccessLog = Callable[[str | None, str, str, str], None]


class SignInRefused(PermissionError):
    """Wrong name, password or code; the message never says which (it would help a guesser)."""


class AccountLocked(PermissionError):
    """Too many failures: the account refuses every attempt until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many failed attempts; try again after {until.isoformat(timespec='minutes')}")
        self.until = until


@dataclass(frozen=True)
class Enrolment:
    """What the new reader needs once: the TOTP secret and its otpauth:// URI (shown as a QR code)."""

    username: str
    school: str
    secret: str = field(repr=False)
    uri: str = field(repr=False)


@dataclass(frozen=True)
class AccountInfo:
    """An account as the IT admin lists it: no hash, no secret."""

    username: str
    school: str
    created_at: datetime
    last_sign_in_at: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True)
class Session:
    """A browser's session; `token` is only known here and in the cookie (the database holds its digest)."""

    token: str = field(repr=False)
    username: str
    school: str
    stage: str
    csrf: str = field(repr=False)

    @property
    def signed_in(self) -> bool:
        return self.stage == "signed_in"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class InboxAccounts:
    """Enrolment, sign-in (password, then code), lock-out and sessions for the DSL inbox."""

    def __init__(self, url: str | None = None, *, schools: SchoolDirectory | None = None,
                 config: SafeguardingConfig | None = None, clock: Callable[[], datetime] | None = None,
                 access_log: AccessLog | None = None) -> None:
        from argon2 import PasswordHasher

        from bot.safeguarding.records.store import default_database_url

        self.url = url or default_database_url()
        parsed = sqlstore.parse_url(self.url, what="inbox accounts database", env_var="POLICYBOT_CONCERNS_DATABASE_URL")
        self.schools = schools if schools is not None else SchoolDirectory.load()
        self.config = config if config is not None else SafeguardingConfig.load(schools=self.schools)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._engine: Engine = sqlstore.open_engine(parsed, lock_timeout_s=15.0, what="inbox accounts database")
        self._schema = sqlstore.Once()
        self._hasher = PasswordHasher()  # argon2id with the library's current recommended costs
        # Checked against when the name is unknown, so a wrong name takes as long as a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._access_log = access_log

    def _now(self) -> datetime:
        return _utc(self._clock())

    def _begin(self) -> Any:
        self._schema.run(lambda: sqlstore.create_schema(self._engine, metadata))
        return self._engine.begin()

    def _log(self, school: str | None, actor: str, action: str, detail: str = "") -> None:
        if self._access_log is not None:
            self._access_log(school, actor, action, detail)

    # -- enrolment (the IT admin, on the server)

    def enrol(self, school: str, username: str, password: str, *, replace: bool = False) -> Enrolment:
        """Create (or with `replace`, reset) the account of a reader named in safeguarding.yml for `school`."""
        import pyotp

        self.schools.get(school)  # ValueError listing the known slugs
        name = username.strip().casefold()
        settings = self.config.for_school(school)
        if not name or not (settings.is_reader(name) or settings.is_allegation_reader(name)):
            raise PermissionError(f"{username!r} is not a DSL reader for school {school!r}; add the name under "
                                  f"dsl_readers (or allegation_readers) in the safeguarding settings first")
        if len(password) < MIN_PASSWORD_CHARS:
            raise ValueError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
        if password.strip().casefold() == name:
            raise ValueError("the password must not be the account name")
        secret = pyotp.random_base32()
        now = self._now()
        values = {"school": school, "password_hash": self._hasher.hash(password), "totp_secret": secret,
                  "last_totp_step": None, "failures": 0, "locked_until": None, "created_at": now,
                  "last_sign_in_at": None}
        with self._begin() as connection:
            existing = connection.execute(select(dsl_accounts.c.school)
                                          .where(dsl_accounts.c.username == name)).first()
            if existing is not None and not replace:
                raise ValueError(f"{name!r} already has an inbox account; use --reset to give them a new password "
                                 f"and authenticator code")
            if existing is not None:
                connection.execute(dsl_accounts.update().where(dsl_accounts.c.username == name).values(**values))
                connection.execute(delete(dsl_sessions).where(dsl_sessions.c.username == name))
            else:
                connection.execute(dsl_accounts.insert().values(username=name, **values))
        uri = pyotp.TOTP(secret).provisioning_uri(name=f"{name} ({school})", issuer_name=ISSUER)
        return Enrolment(name, school, secret, uri)

    def remove(self, username: str) -> bool:
        """Delete the account and end its sessions; False when there was none."""
        name = username.strip().casefold()
        with self._begin() as connection:
            connection.execute(delete(dsl_sessions).where(dsl_sessions.c.username == name))
            return connection.execute(delete(dsl_accounts).where(dsl_accounts.c.username == name)).rowcount > 0

    def unlock(self, username: str) -> bool:
        """Lift a lock-out now (after the IT admin has checked with the person); False when no such account."""
        name = username.strip().casefold()
        with self._begin() as connection:
            return connection.execute(dsl_accounts.update().where(dsl_accounts.c.username == name)
                                      .values(failures=0, locked_until=None)).rowcount > 0

    def accounts(self, school: str | None = None) -> list[AccountInfo]:
        query = select(dsl_accounts).order_by(dsl_accounts.c.school, dsl_accounts.c.username)
        if school is not None:
            query = query.where(dsl_accounts.c.school == school)
        with self._begin() as connection:
            return [AccountInfo(row.username, row.school, _utc(row.created_at), _maybe_utc(row.last_sign_in_at),
                                _maybe_utc(row.locked_until)) for row in connection.execute(query)]

    # -- signing in

    def check_password(self, username: str, password: str) -> Session:
        """First step: the password. Returns a session awaiting the code; raises SignInRefused or AccountLocked."""
        from argon2.exceptions import InvalidHashError, VerificationError

        name = username.strip().casefold()[:128]
        now = self._now()
        with self._begin() as connection:
            row = connection.execute(select(dsl_accounts).where(dsl_accounts.c.username == name)).first()
        if row is None:
            try:
                self._hasher.verify(self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                pass
            # The typed name is not written anywhere: it may be a password typed into the wrong box.
            self._log(None, "-", "sign_in_failed", "step=password account=unknown")
            raise SignInRefused("the name or password is not right")
        self._refuse_if_locked(row, now)
        try:
            self._hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            self._failed(row, now, "password")
        return self._new_session(name, row.school, "code", now)

    def check_code(self, token: str, code: str) -> Session:
        """Second step: the authenticator code, for a session that passed the password. Returns the signed-in
        session under a NEW token (the old one is void, so a token seen before sign-in is worth nothing)."""
        import pyotp

        now = self._now()
        pending = self._load(token, now)
        if pending is None or pending.stage != "code":
            raise SignInRefused("the sign-in has expired; start again")
        with self._begin() as connection:
            row = connection.execute(select(dsl_accounts)
                                     .where(dsl_accounts.c.username == pending.username)).first()
        if row is None:
            raise SignInRefused("the sign-in has expired; start again")
        self._refuse_if_locked(row, now)
        digits = "".join(code.split())
        totp = pyotp.TOTP(row.totp_secret)
        step = _matching_step(totp, digits, now)
        if step is None or (row.last_totp_step is not None and step <= row.last_totp_step):
            self._failed(row, now, "code")
        with self._begin() as connection:
            connection.execute(delete(dsl_sessions).where(dsl_sessions.c.token_hash == _digest(token)))
            connection.execute(dsl_accounts.update().where(dsl_accounts.c.username == row.username)
                               .values(failures=0, locked_until=None, last_totp_step=step, last_sign_in_at=now))
        session = self._new_session(row.username, row.school, "signed_in", now)
        self._log(row.school, row.username, "signed_in")
        return session

    def _refuse_if_locked(self, row: Any, now: datetime) -> None:
        locked_until = _maybe_utc(row.locked_until)
        if locked_until is not None and locked_until > now:
            self._log(row.school, row.username, "sign_in_failed", "locked=yes")
            raise AccountLocked(locked_until)

    def _failed(self, row: Any, now: datetime, step: str) -> None:
        """Count a failure; the MAX_FAILURES-th locks the account. Always raises."""
        failures = row.failures + 1
        locked_until = now + LOCKOUT if failures >= MAX_FAILURES else None
        with self._begin() as connection:
            connection.execute(dsl_accounts.update().where(dsl_accounts.c.username == row.username)
                               .values(failures=0 if locked_until else failures, locked_until=locked_until))
            if locked_until:
                connection.execute(delete(dsl_sessions).where(dsl_sessions.c.username == row.username))
        self._log(row.school, row.username, "sign_in_failed", f"step={step} failures={failures}")
        if locked_until:
            self._log(row.school, row.username, "locked_out", f"until={locked_until.isoformat(timespec='minutes')}")
            raise AccountLocked(locked_until)
        raise SignInRefused("the name or password is not right" if step == "password" else "that code is not right")

    # -- sessions

    def _new_session(self, username: str, school: str, stage: str, now: datetime) -> Session:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._begin() as connection:
            connection.execute(dsl_sessions.insert().values(token_hash=_digest(token), username=username,
                                                            school=school, stage=stage, csrf=csrf,
                                                            created_at=now, last_seen_at=now))
        return Session(token, username, school, stage, csrf)

    def _load(self, token: str, now: datetime) -> Session | None:
        if not token:
            return None
        with self._begin() as connection:
            row = connection.execute(select(dsl_sessions).where(dsl_sessions.c.token_hash == _digest(token))).first()
            if row is None:
                return None
            created, seen = _utc(row.created_at), _utc(row.last_seen_at)
            limit = CODE_STEP_TIMEOUT if row.stage == "code" else IDLE_TIMEOUT
            if now - seen > limit or now - created > ABSOLUTE_TIMEOUT:
                connection.execute(delete(dsl_sessions).where(dsl_sessions.c.token_hash == row.token_hash))
                return None
            return Session(token, row.username, row.school, row.stage, row.csrf)

    def session(self, token: str) -> Session | None:
        """The signed-in session for this token (its idle clock restarted), or None when absent or timed out."""
        now = self._now()
        found = self._load(token, now)
        if found is None or not found.signed_in:
            return found
        with self._begin() as connection:
            connection.execute(dsl_sessions.update().where(dsl_sessions.c.token_hash == _digest(token))
                               .values(last_seen_at=now))
        return found

    def sign_out(self, token: str) -> None:
        found = self._load(token, self._now())
        with self._begin() as connection:
            connection.execute(delete(dsl_sessions).where(dsl_sessions.c.token_hash == _digest(token)))
        if found is not None and found.signed_in:
            self._log(found.school, found.username, "signed_out")


def csrf_matches(session: Session, submitted: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    return bool(submitted) and hmac.compare_digest(session.csrf.encode(), str(submitted).encode())


def _matching_step(totp: Any, digits: str, now: datetime) -> int | None:
    """The 30-second step whose code `digits` is (now, or one step either side for clock drift), else None."""
    if not (digits.isdigit() and len(digits) == totp.digits):
        return None
    current = int(now.timestamp()) // totp.interval
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None
