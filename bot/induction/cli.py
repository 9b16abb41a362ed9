"""`policybot induction report --school SLUG [--csv]`: the induction lead's list of completed inductions.

`register(subparsers)` adds the `induction` sub-command to bot.cli's parser, as bot/safeguarding/inbox_cli.py does
for `concerns`; the handler has bot.cli's signature, `cmd_*(args, out, err) -> int`. An unknown school exits 2
with the known slugs; an unreachable store exits 1.
"""

from __future__ import annotations

import argparse
import csv
import unicodedata
from datetime import datetime
from typing import Sequence, TextIO
from zoneinfo import ZoneInfo

from bot import cli_support
from bot.cli_support import EXIT_USAGE

EXIT_FAILED = 1
UK = ZoneInfo("Europe/London")

CSV_COLUMNS = ("school", "completed_at", "completed_on", "role", "name_or_staff_id", "score", "steps_completed",
               "steps_total", "plan_version", "acknowledgement")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(text: str) -> str:
    """Typed text shown in a terminal: control and bidirectional-format characters escaped, not obeyed."""
    return "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will show, not run: text starting like a formula gets a leading quote."""
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _uk(moment: datetime) -> datetime:
    return moment.astimezone(UK)


def cmd_induction_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Completions for one school, oldest first: a table, or CSV with --csv."""
    from bot.induction.store import InductionStore, InductionStoreUnavailable
    from bot.schools import SchoolDirectory

    schools = SchoolDirectory.load()
    try:
        profile = schools.get(args.school)  # before the store opens, so a typo creates no database
    except ValueError as problem:
        err.write(f"policybot induction: {problem}\n")
        return EXIT_USAGE
    try:
        found = InductionStore(schools=schools).completions(profile.slug)
    except InductionStoreUnavailable as problem:
        err.write(f"policybot induction: {problem}; check POLICYBOT_INDUCTION_DATABASE_URL and the disk.\n")
        return EXIT_FAILED
    if args.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for c in found:
            writer.writerow([_cell(v) for v in (
                c.school, c.completed_at.isoformat(), _uk(c.completed_at).date().isoformat(), c.role,
                c.person or "", c.score, c.steps_completed, c.steps_total, c.plan_version, c.acknowledgement)])
        return 0
    if not found:
        out.write(f"No induction completions recorded for {profile.name} yet.\n")
        return 0
    noun = "completion" if len(found) == 1 else "completions"
    out.write(f"{profile.name}: {len(found)} induction {noun}, oldest first\n\n")
    rows = [("COMPLETED (UK)", "ROLE", "NAME OR STAFF ID", "SCORE", "STEPS", "VERSION")]
    rows += [(_uk(c.completed_at).strftime("%d %b %Y %H:%M"), c.role.replace("_", " "),
              _safe(c.person) if c.person else "-", f"{c.score}/{c.steps_total}",
              f"{c.steps_completed}/{c.steps_total}", str(c.plan_version)) for c in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
    out.write(f"\nSCORE is checks right first time. As CSV: policybot induction report --school {profile.slug} "
              f"--csv\n")
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `induction` to policybot's sub-commands (argparse `add_subparsers()`)."""
    induction = subparsers.add_parser("induction", help="induction for new staff: completion reports",
                                      description="Reports on the online-safety induction for new staff, "
                                                  "volunteers, governors and contractors.")
    actions = induction.add_subparsers(dest="action", required=True, metavar="ACTION")
    report = actions.add_parser("report", help="completed inductions for one school, oldest first")
    report.add_argument("--school", required=True, help="school slug (see `policybot schools`)")
    report.add_argument("--csv", action="store_true", help="print CSV (one row per completion) instead of a table")
    report.set_defaults(func=cmd_induction_report)


def build_parser() -> argparse.ArgumentParser:
    """A parser with only this sub-command (tests, and `python -m bot.induction.cli`)."""
    return cli_support.build_parser(__doc__, register)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Dispatch like bot.cli.main."""
    return cli_support.run(build_parser(), argv, out, err)


if __name__ == "__main__":
    raise SystemExit(main())
