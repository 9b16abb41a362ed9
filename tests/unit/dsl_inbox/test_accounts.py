"""Inbox accounts: enrolment only for listed readers, password then code, lock-out, one-time codes, sessions that
time out. A real SQLite file and an injected clock; pyotp computes the codes an authenticator app would show."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyotp
import pytest

from bot.dsl_inbox.accounts import (ABSOLUTE_TIMEOUT, CODE_STEP_TIMEOUT, IDLE_TIMEOUT, LOCKOUT, MAX_FAILURES,
                                    AccountLocked, InboxAccounts, SignInRefused, csrf_matches)
from bot.schools import SchoolDirectory
from test_concern_records import TINY_CONFIG, Clock, sqlite_url

PASSWORD = "correct horse battery"


@pytest.fixture
def events() -> list[tuple]:
    return []


@pytest.fixture
def accounts(data_dir: Path, tmp_path: Path, events: list[tuple]) -> tuple[InboxAccounts, Clock]:
    clock = Clock()
    store = InboxAccounts(sqlite_url(tmp_path / "concerns.db"), schools=SchoolDirectory.load(),
                          config=TINY_CONFIG, clock=clock, access_log=lambda *event: events.append(event))
    return store, clock


def code_for(secret: str, clock: Clock, steps_ahead: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(clock.now.timestamp()) // totp.interval + steps_ahead)


def sign_in(accounts: InboxAccounts, clock: Clock, secret: str, name: str = "mary.oak", steps_ahead: int = 0):
    pending = accounts.check_password(name, PASSWORD)
    return accounts.check_code(pending.token, code_for(secret, clock, steps_ahead))


def test_only_a_listed_reader_can_be_enrolled(accounts) -> None:
    store, _ = accounts
    with pytest.raises(PermissionError, match=r"'someone.else' is not a DSL reader for school 'alder'; add the name"):
        store.enrol("alder", "someone.else", PASSWORD)
    with pytest.raises(PermissionError, match="is not a DSL reader for school 'birch'"):
        store.enrol("birch", "mary.oak", PASSWORD)  # alder's reader, not birch's
    with pytest.raises(ValueError, match="unknown school 'nowhere'"):
        store.enrol("nowhere", "mary.oak", PASSWORD)


def test_a_short_password_or_the_account_name_is_refused(accounts) -> None:
    store, _ = accounts
    with pytest.raises(ValueError, match="at least 12 characters"):
        store.enrol("alder", "mary.oak", "short")
    with pytest.raises(ValueError, match="must not be the account name"):
        store.enrol("alder", "deputy.dsl", "Deputy.DSL  ")


def test_enrolling_twice_needs_reset_which_gives_a_new_secret_and_ends_sessions(accounts) -> None:
    store, clock = accounts
    first = store.enrol("alder", "Mary.Oak", PASSWORD)
    assert first.username == "mary.oak" and first.uri.startswith("otpauth://totp/")
    session = sign_in(store, clock, first.secret)
    with pytest.raises(ValueError, match="already has an inbox account; use --reset"):
        store.enrol("alder", "mary.oak", PASSWORD)
    second = store.enrol("alder", "mary.oak", PASSWORD, replace=True)
    assert second.secret != first.secret
    assert store.session(session.token) is None


def test_password_then_code_signs_in_under_a_new_token(accounts, events) -> None:
    store, clock = accounts
    secret = store.enrol("alder", "mary.oak", PASSWORD).secret
    pending = store.check_password("MARY.OAK ", PASSWORD)
    assert not pending.signed_in and store.session(pending.token).stage == "code"
    session = store.check_code(pending.token, code_for(secret, clock))
    assert session.signed_in and session.token != pending.token and session.school == "alder"
    assert store.session(pending.token) is None  # the pre-sign-in token is void
    assert events[-1] == ("alder", "mary.oak", "signed_in", "")


def test_wrong_password_and_unknown_name_are_refused_alike_and_the_name_typed_is_not_logged(accounts, events) -> None:
    store, _ = accounts
    store.enrol("alder", "mary.oak", PASSWORD)
    with pytest.raises(SignInRefused, match="^the name or password is not right$"):
        store.check_password("mary.oak", "wrong password here")
    with pytest.raises(SignInRefused, match="^the name or password is not right$"):
        store.check_password("my secret password typed here", PASSWORD)
    assert events[-1] == (None, "-", "sign_in_failed", "step=password account=unknown")
    assert all("my secret password" not in str(event) for event in events)


def test_the_fifth_failure_locks_the_account_until_the_lockout_ends(accounts, events) -> None:
    store, clock = accounts
    secret = store.enrol("alder", "mary.oak", PASSWORD).secret
    for attempt in range(MAX_FAILURES - 1):
        with pytest.raises(SignInRefused):
            store.check_password("mary.oak", f"wrong {attempt}")
    with pytest.raises(AccountLocked):
        store.check_password("mary.oak", "wrong again")
    assert events[-1][2] == "locked_out"
    with pytest.raises(AccountLocked):  # even the right password, while locked
        store.check_password("mary.oak", PASSWORD)
    clock.advance(LOCKOUT.total_seconds() + 1)
    assert sign_in(store, clock, secret).signed_in


def test_wrong_codes_count_towards_the_lockout_too(accounts) -> None:
    store, clock = accounts
    store.enrol("alder", "mary.oak", PASSWORD)
    pending = store.check_password("mary.oak", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(SignInRefused, match="that code is not right"):
            store.check_code(pending.token, "000000")
    with pytest.raises(AccountLocked):
        store.check_code(pending.token, "000000")
    assert store.session(pending.token) is None  # a lock-out ends the pending sign-in


def test_a_code_is_accepted_once_and_one_step_of_clock_drift_is_allowed(accounts) -> None:
    store, clock = accounts
    secret = store.enrol("alder", "mary.oak", PASSWORD).secret
    used = code_for(secret, clock)
    store.check_code(store.check_password("mary.oak", PASSWORD).token, used)
    with pytest.raises(SignInRefused, match="that code is not right"):
        store.check_code(store.check_password("mary.oak", PASSWORD).token, used)
    assert sign_in(store, clock, secret, steps_ahead=1).signed_in  # the phone's clock a little fast
    with pytest.raises(SignInRefused, match="that code is not right"):
        sign_in(store, clock, secret, steps_ahead=3)


def test_sessions_end_after_idle_time_and_after_the_absolute_limit(accounts) -> None:
    store, clock = accounts
    secret = store.enrol("alder", "mary.oak", PASSWORD).secret
    idle = sign_in(store, clock, secret)
    clock.advance(IDLE_TIMEOUT.total_seconds() + 1)
    assert store.session(idle.token) is None
    busy = sign_in(store, clock, secret)
    for _ in range(int(ABSOLUTE_TIMEOUT / (IDLE_TIMEOUT / 2))):
        assert store.session(busy.token) is not None  # each request restarts the idle clock
        clock.advance((IDLE_TIMEOUT / 2).total_seconds())
    clock.advance(1)  # now just past the absolute limit, though never idle
    assert store.session(busy.token) is None


def test_the_code_step_must_follow_the_password_within_minutes(accounts) -> None:
    store, clock = accounts
    secret = store.enrol("alder", "mary.oak", PASSWORD).secret
    pending = store.check_password("mary.oak", PASSWORD)
    clock.advance(CODE_STEP_TIMEOUT.total_seconds() + 1)
    with pytest.raises(SignInRefused, match="the sign-in has expired; start again"):
        store.check_code(pending.token, code_for(secret, clock))


def test_sign_out_remove_and_unlock(accounts, events) -> None:
    store, clock = accounts
    secret = store.enrol("alder", "mary.oak", PASSWORD).secret
    session = sign_in(store, clock, secret)
    store.sign_out(session.token)
    assert store.session(session.token) is None and events[-1][2] == "signed_out"
    again = sign_in(store, clock, secret, steps_ahead=1)
    assert store.remove("mary.oak") and store.session(again.token) is None
    assert not store.remove("mary.oak") and not store.unlock("mary.oak")


def test_the_database_holds_digests_of_session_tokens_and_no_plain_password(accounts, tmp_path: Path) -> None:
    store, clock = accounts
    secret = store.enrol("alder", "mary.oak", PASSWORD).secret
    session = sign_in(store, clock, secret)
    raw = (tmp_path / "concerns.db").read_bytes()
    assert session.token.encode() not in raw and PASSWORD.encode() not in raw


def test_csrf_tokens_compare_exactly(accounts) -> None:
    store, clock = accounts
    session = sign_in(store, clock, store.enrol("alder", "mary.oak", PASSWORD).secret)
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, None) and not csrf_matches(session, "") \
        and not csrf_matches(session, session.csrf[:-1])


def test_repr_shows_no_token_or_secret(accounts) -> None:
    store, clock = accounts
    enrolment = store.enrol("alder", "mary.oak", PASSWORD)
    session = sign_in(store, clock, enrolment.secret)
    assert enrolment.secret not in repr(enrolment) and session.token not in repr(session) \
        and session.csrf not in repr(session)
