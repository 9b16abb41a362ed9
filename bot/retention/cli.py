"""`policybot retention [--dry-run]`: delete conversations, feedback questions, logs and caught mail older than
their limits (bot/retention/sweep.py); never concern records. Prints one count line per kind, never content.

`register(subparsers)` adds the sub-command to bot.cli's parser, as bot/induction/cli.py does; the handler has
bot.cli's signature. A bad limit or endpoints file exits 2 (cli_support); a database that cannot be swept exits 1
naming the kind, and the other kinds are still swept.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence, TextIO

from bot import cli_support

EXIT_FAILED = 1


def cmd_retention(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.retention.sweep import KINDS, RetentionLimits, RetentionTargets, Swept, apply_kind

    limits = RetentionLimits.from_settings()
    targets = RetentionTargets.from_settings(Path(args.endpoints) if args.endpoints else None)
    now = datetime.now(timezone.utc)
    note = " (dry run: nothing deleted)" if args.dry_run else ""
    out.write(f"policybot retention at {now:%Y-%m-%d %H:%M} UTC{note}; concern records are never deleted\n")
    failed = 0
    for kind in KINDS:
        try:
            swept: Swept = apply_kind(kind, targets, limits, now, args.dry_run)
        except (SQLAlchemyError, OSError) as problem:
            # The type only: a database error's text can quote a row.
            err.write(f"policybot retention: the {kind} could not be swept ({type(problem).__name__}); "
                      f"the next run tries again\n")
            failed += 1
            continue
        out.write(f"  {swept.line(args.dry_run)}\n")
    return EXIT_FAILED if failed else 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `retention` to policybot's sub-commands (argparse `add_subparsers()`)."""
    retention = subparsers.add_parser(
        "retention", help="delete conversations, questions, logs and caught mail older than their limits",
        description="Storage limitation: delete Rasa conversations, feedback questions, log files and caught mail "
                    "older than POLICYBOT_RETAIN_{CONVERSATIONS,QUESTIONS,LOGS,MAIL}_DAYS. Concern records are "
                    "never deleted. Prints counts only.")
    retention.add_argument("--dry-run", action="store_true", help="count what is due; delete nothing")
    retention.add_argument("--endpoints", help="Rasa's endpoints file naming the tracker store (default: "
                                               "endpoints.yml in the repository)")
    retention.set_defaults(func=cmd_retention)


def build_parser() -> argparse.ArgumentParser:
    """A parser with only this sub-command (tests, and `python -m bot.retention.cli`)."""
    return cli_support.build_parser(__doc__, register)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Dispatch like bot.cli.main."""
    return cli_support.run(build_parser(), argv, out, err)


if __name__ == "__main__":
    raise SystemExit(main())
