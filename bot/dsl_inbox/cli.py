"""`policybot dsl ...`: the IT admin enrols DSL readers for the web inbox, on the server.

  policybot dsl add-user --school SLUG --user NAME [--reset] [--password-stdin] [--qr FILE.png]
  policybot dsl remove-user --user NAME
  policybot dsl unlock --user NAME
  policybot dsl users [--school SLUG]

add-user asks for the password twice (or reads one line from stdin with --password-stdin), then shows a QR code
for the reader's authenticator app (Microsoft Authenticator, Google Authenticator, ...) and the same secret as
text. The secret is shown once and never again; `--reset` gives a new password and a new secret.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Callable, TextIO

from bot.cli_support import EXIT_USAGE

Handler = Callable[[argparse.Namespace, TextIO, TextIO], int]


def _accounts():  # type: ignore[no-untyped-def]
    from bot.dsl_inbox.accounts import InboxAccounts

    return InboxAccounts()


def _password(args: argparse.Namespace, err: TextIO) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password for the inbox (12 characters or more): ")
    if first != getpass.getpass("The same password again: "):
        err.write("policybot dsl add-user: the two passwords differ; nothing was changed\n")
        return None
    return first


def cmd_add_user(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import segno

    from bot.settings import inbox_url

    password = _password(args, err)
    if password is None:
        return EXIT_USAGE
    enrolment = _accounts().enrol(args.school, args.user, password, replace=args.reset)
    code = segno.make(enrolment.uri, error="m")
    out.write(f"{'Reset' if args.reset else 'Enrolled'} {enrolment.username} for {enrolment.school}.\n\n"
              "Ask them to scan this with their authenticator app (on their own phone, here and now):\n\n")
    code.terminal(out=out, compact=True)
    out.write(f"\nOr type this secret into the app: {enrolment.secret}\n")
    if args.qr:
        path = Path(args.qr)
        # The QR code is as good as the secret: the file is for this user only.
        path.touch(mode=0o600, exist_ok=False)
        code.save(str(path), scale=6)
        out.write(f"The QR code is also in {path} (0600): delete it once it has been scanned.\n")
    out.write(f"\nThey sign in at {inbox_url()}/dsl/ with {enrolment.username}, the password and the app's code.\n"
              "This secret is not shown again; `--reset` makes a new one.\n")
    return 0


def cmd_remove_user(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not _accounts().remove(args.user):
        err.write(f"policybot dsl remove-user: no inbox account {args.user.strip().casefold()!r}\n")
        return EXIT_USAGE
    out.write(f"Removed {args.user.strip().casefold()} and ended their sessions. Take the name off the school's "
              f"dsl_readers too if they should no longer read concerns at all.\n")
    return 0


def cmd_unlock(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not _accounts().unlock(args.user):
        err.write(f"policybot dsl unlock: no inbox account {args.user.strip().casefold()!r}\n")
        return EXIT_USAGE
    out.write(f"Unlocked {args.user.strip().casefold()}.\n")
    return 0


def cmd_users(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bot.dsl_inbox.views import uk_time

    found = _accounts().accounts(args.school)
    if not found:
        out.write("No inbox accounts yet: `policybot dsl add-user --school SLUG --user NAME` enrols one.\n")
        return 0
    for account in found:
        locked = f"  LOCKED until {uk_time(account.locked_until)}" if account.locked_until else ""
        out.write(f"{account.school:<24} {account.username:<32} last sign-in {uk_time(account.last_sign_in_at)}"
                  f"{locked}\n")
    return 0


def _guarded(command: str, handler: Handler) -> Handler:
    def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        try:
            return handler(args, out, err)
        except (PermissionError, ValueError, FileExistsError) as problem:
            err.write(f"policybot dsl {command}: {problem}\n")
            return EXIT_USAGE

    return run


def register(sub: argparse._SubParsersAction) -> None:
    dsl = sub.add_parser("dsl", help="DSL web inbox accounts: add-user, remove-user, unlock, users")
    actions = dsl.add_subparsers(dest="dsl_command", required=True)
    add = actions.add_parser("add-user", help="enrol a DSL reader: password + authenticator app (QR code)")
    add.add_argument("--school", required=True)
    add.add_argument("--user", required=True, help="the name listed under dsl_readers in safeguarding.yml")
    add.add_argument("--reset", action="store_true", help="give an existing account a new password and secret")
    add.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    add.add_argument("--qr", help="also save the QR code as this PNG file (0600; must not exist)")
    add.set_defaults(func=_guarded("add-user", cmd_add_user))
    remove = actions.add_parser("remove-user", help="delete an inbox account and end its sessions")
    remove.add_argument("--user", required=True)
    remove.set_defaults(func=_guarded("remove-user", cmd_remove_user))
    unlock = actions.add_parser("unlock", help="lift a lock-out after too many failed sign-ins")
    unlock.add_argument("--user", required=True)
    unlock.set_defaults(func=_guarded("unlock", cmd_unlock))
    users = actions.add_parser("users", help="list inbox accounts (no secrets)")
    users.add_argument("--school")
    users.set_defaults(func=_guarded("users", cmd_users))
