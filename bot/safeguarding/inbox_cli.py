"""The DSL inbox on the command line: `policybot concerns ...`, `policybot outbox ...`, `policybot mailcatcher`.

`register(subparsers)` adds the three sub-commands to `bot.cli`'s parser; each handler has bot.cli's signature,
`cmd_*(args, out, err) -> int`. Usage errors (unknown school, not a reader, unknown reference, a step the status
does not allow) exit 2 with one kind line on stderr; an unreachable store exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from bot import cli_support
from bot.cli_support import EXIT_USAGE

EXIT_FAILED = 1

#: records.STATUS_FILTERS, repeated so building the parser does not import SQLAlchemy (a test keeps them equal).
STATUS_FILTERS: tuple[str, ...] = ("open", "all", "new", "acknowledged", "closed")

Handler = Callable[[argparse.Namespace, TextIO, TextIO], int]

_URGENCY_LABELS = {"immediate": "IMMEDIATE", "high": "HIGH", "standard": "STANDARD", "concern": "LESS URGENT"}
#: Bidirectional-text controls can make a line display differently from what it holds, so they are shown escaped.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _store():  # type: ignore[no-untyped-def]
    from bot.safeguarding.records import ConcernStore

    return ConcernStore()


def _safe(text: str) -> str:
    """Text from a chat is printed verbatim except terminal control characters, which are shown escaped."""
    return "".join(f"\\x{ord(ch):02x}" if ch not in "\n\t" and unicodedata.category(ch) == "Cc"
                   else f"\\u{ord(ch):04x}" if ch in _BIDI_CONTROLS else ch for ch in text)


def _uk(value: datetime | str | None, with_year: bool = True) -> str:
    """A time as a UK reader expects it: 'Mon 05 Jan 2026 14:03'."""
    from bot.safeguarding.notify import UK

    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UK).strftime("%a %d %b %Y %H:%M" if with_year else "%a %d %b %H:%M")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _guarded(command: str, handler: Handler) -> Handler:
    """Turn the store's exact errors into one kind stderr line and exit 2 (exit 1 when the store is down)."""

    def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        from bot.safeguarding.records import ConcernNotFound, RecordStoreUnavailable, default_config_path

        try:
            return handler(args, out, err)
        except PermissionError as problem:
            err.write(f"policybot {command}: {problem}. The school's IT admin lists DSL readers under "
                      f"dsl_readers in {default_config_path()}.\n")
            return EXIT_USAGE
        except ConcernNotFound as problem:
            err.write(f"policybot {command}: {problem}. `policybot concerns list --school SLUG --as NAME "
                      f"--status all` lists the school's references.\n")
            return EXIT_USAGE
        except ValueError as problem:
            err.write(f"policybot {command}: {problem}\n")
            return EXIT_USAGE
        except RecordStoreUnavailable as problem:
            err.write(f"policybot {command}: {problem}; check POLICYBOT_CONCERNS_DATABASE_URL and the disk.\n")
            return EXIT_FAILED

    return run


# -------------------------------------------------------------------------------------------- concerns


def cmd_concerns_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The school's concerns, most urgent first (immediate, high, standard, concern), newest first within each."""
    store = _store()
    found = store.list_concerns(args.school, args.actor, args.status)
    if args.json:
        out.write(json.dumps([{
            "reference": c.reference, "school": c.school, "urgency": c.urgency, "category": c.category,
            "kind": c.kind, "role": c.role, "channel": c.channel, "created_at": _iso(c.created_at),
            "status": c.status, "acknowledged_by": c.acknowledged_by, "acknowledged_at": _iso(c.acknowledged_at),
            "closed_by": c.closed_by, "closed_at": _iso(c.closed_at)} for c in found], indent=2) + "\n")
        return 0
    name = store.schools.get(args.school).name
    which = "" if args.status == "all" else f"{args.status} "
    note = " (new or acknowledged)" if args.status == "open" else ""
    if not found:
        out.write(f"No {which}concerns{note} for {name}.\n")
        return 0
    noun = "concern" if len(found) == 1 else "concerns"
    out.write(f"{name}: {len(found)} {which}{noun}{note}, most urgent first\n\n")
    rows = [("REFERENCE", "URGENCY", "STATUS", "RECORDED (UK)", "KIND", "ABOUT", "FROM")]
    rows += [(c.reference, _URGENCY_LABELS.get(c.urgency, c.urgency), c.status, _uk(c.created_at), c.kind,
              c.category.replace("_", " "), f"{c.role} via {c.channel}") for c in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
    out.write(f"\nRead one:  policybot concerns show REFERENCE --school {args.school} --as {args.actor}\n")
    return 0


def _record_json(record: Any) -> dict[str, Any]:
    """A whole ConcernRecord as `show --json` and `export` write it (the words verbatim)."""
    return {
        "reference": record.reference, "school": record.school, "urgency": record.urgency,
        "category": record.category, "kind": record.kind, "role": record.role, "channel": record.channel,
        "created_at": _iso(record.created_at), "status": record.status, "words": record.words,
        "excerpt": list(record.excerpt), "reporter_name": record.reporter_name, "language": record.language,
        "acknowledged_by": record.acknowledged_by, "acknowledged_at": _iso(record.acknowledged_at),
        "closed_by": record.closed_by, "closed_at": _iso(record.closed_at), "close_note": record.close_note,
        "history": [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail}
                    for e in record.history]}


def cmd_concerns_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """One concern in full: the person's own words, the conversation before them, status and history."""
    store = _store()
    record = store.show(args.reference, args.school, args.actor, export=args.json)
    if args.json:
        out.write(json.dumps(_record_json(record), indent=2, ensure_ascii=False) + "\n")
        return 0
    name = store.schools.get(record.school).name
    lines = [f"{record.reference} · {name}", ""]
    lines.append(f"  Urgency:    {_URGENCY_LABELS.get(record.urgency, record.urgency)}")
    lines.append(f"  Kind:       {record.kind} (about: {record.category.replace('_', ' ')})")
    lines.append(f"  From:       {record.role}, via {record.channel}")
    if record.language:
        lines.append(f"  Language:   written in {_language_name(record.language)} — an interpreter may be needed")
    if record.reporter_name:
        lines.append(f"  Name given: {_safe(record.reporter_name)}")
    lines.append(f"  Recorded:   {_uk(record.created_at)} (UK time)")
    command = f"--school {record.school} --as {args.actor}"
    if record.status == "new":
        lines.append(f"  Status:     NEW. Acknowledge it: policybot concerns ack {record.reference} {command}")
    elif record.status == "acknowledged":
        lines.append(f"  Status:     acknowledged by {record.acknowledged_by}, {_uk(record.acknowledged_at)}. "
                     f"Close it: policybot concerns close {record.reference} {command} --note TEXT")
    else:
        lines.append(f"  Status:     closed by {record.closed_by}, {_uk(record.closed_at)}")
    lines += ["", "In their own words:"]
    lines += [f"  | {line}" for line in _safe(record.words).split("\n")]
    if record.excerpt:
        lines += ["", "The conversation before it (oldest first):"]
        for turn in record.excerpt:
            lines += [f"  | {line}" for line in _safe(turn).split("\n")]
    if record.close_note:
        lines += ["", "Close note:"] + [f"  | {line}" for line in _safe(record.close_note).split("\n")]
    lines += ["", "History:"]
    for entry in record.history:
        detail = f"  ({entry.detail})" if entry.detail else ""
        lines.append(f"  {_uk(entry.at)}  {entry.action:<13} {entry.actor}{detail}")
    out.write("\n".join(lines) + "\n")
    return 0


def cmd_concerns_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Every concern of the school this reader may read, oldest first, one JSON object a line (as `show --json`,
    each audited as 'exported'), to --out (made 0600, never over an existing file without --force) or stdout."""
    target = Path(args.out) if args.out else None
    if target is not None and (target.exists() or target.is_symlink()) and not args.force:
        raise ValueError(f"{target} already exists; pass --force to replace it")
    store = _store()
    summaries = store.list_concerns(args.school, args.actor, status="all")
    ordered = sorted(summaries, key=lambda c: (c.created_at, c.reference))
    if target is None:
        for summary in ordered:
            record = store.show(summary.reference, args.school, args.actor, export=True)
            out.write(json.dumps(_record_json(record), ensure_ascii=False) + "\n")
        return 0
    # Written beside the target, 0600 from the start, then moved into place: a failed export leaves no half file.
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as problem:
        raise ValueError(f"cannot write {target}: {problem.strerror}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            for summary in ordered:
                record = store.show(summary.reference, args.school, args.actor, export=True)
                handle.write(json.dumps(_record_json(record), ensure_ascii=False) + "\n")
        if args.force:
            os.replace(partial, target)
        else:
            os.link(partial, target)  # fails if the target appeared meanwhile: never overwritten unasked
    except FileExistsError:
        raise ValueError(f"{target} already exists; pass --force to replace it") from None
    except OSError as problem:
        if isinstance(problem, PermissionError) and problem.errno is None:
            raise  # the store's "not a reader" (an OSError too, with no errno): _guarded words it
        raise ValueError(f"cannot write {target}: {problem.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    name = store.schools.get(args.school).name
    noun = "concern" if len(ordered) == 1 else "concerns"
    out.write(f"Exported {len(ordered)} {noun} of {name} that {args.actor} may read to {target} (readable by "
              f"this account only); each is audited as exported.\n")
    return 0


def cmd_concerns_ack(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """new -> acknowledged: tells everyone the DSL has picked the concern up."""
    done = _store().acknowledge(args.reference, args.school, args.actor)
    out.write(f"Acknowledged {done.reference} as {done.acknowledged_by}, {_uk(done.acknowledged_at)}.\n"
              f"When it is dealt with: policybot concerns close {done.reference} --school {done.school} "
              f"--as {args.actor} --note TEXT\n")
    return 0


def cmd_concerns_close(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """acknowledged -> closed, with an optional note kept on the record."""
    done = _store().close(args.reference, args.school, args.actor, args.note)
    out.write(f"Closed {done.reference} as {done.closed_by}, {_uk(done.closed_at)}.\n")
    return 0


def cmd_concerns_verify_audit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Re-hash the audit chain: exit 0 when intact, 1 when a row was edited, inserted or deleted."""
    check = _store().verify_audit()
    if check.ok:
        out.write(f"Audit chain intact: {check.rows} row(s); head hash {check.head_hash}\n")
        return 0
    where = f" at row {check.first_bad_seq}" if check.first_bad_seq is not None else ""
    err.write(f"policybot concerns: the audit chain is BROKEN{where}: {check.problem} "
              f"({check.rows} row(s) checked). Keep a copy of the database and tell the school's IT admin.\n")
    return EXIT_FAILED


# -------------------------------------------------------------------------------------------- outbox


def cmd_outbox_deliver(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """One delivery pass over the due notifications; exit 1 if any failed (they stay queued for a retry)."""
    from bot.safeguarding.notify import OutboxDelivery

    report = OutboxDelivery(_store()).deliver_due()
    out.write(f"Outbox: sent {report.sent}, failed {report.failed}, still pending {report.pending}.\n")
    return EXIT_FAILED if report.failed else 0


def cmd_outbox_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Counts only: pending, due now, failing, sent."""
    counts = _store().outbox_counts()
    if args.json:
        out.write(json.dumps({"pending": counts.pending, "due": counts.due, "failing": counts.failing,
                              "sent": counts.sent}) + "\n")
        return 0
    out.write(f"Outbox: {counts.pending} pending ({counts.due} due now, {counts.failing} failing and waiting "
              f"to retry), {counts.sent} sent.\n")
    return 0


# -------------------------------------------------------------------------------------------- mailcatcher


def cmd_mailcatcher(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the local SMTP sink until Ctrl-C (or SIGTERM), saving each mail as an .eml file."""
    from bot import settings
    from bot.safeguarding.mailcatcher import MailCatcher

    directory = Path(args.dir) if args.dir else settings.artifacts_dir() / "mail"
    catcher = MailCatcher(directory, args.host, args.port)
    try:
        catcher.start()
    except OSError as problem:
        err.write(f"policybot mailcatcher: cannot listen on {args.host}:{args.port}: "
                  f"{problem.strerror or type(problem).__name__}\n")
        return EXIT_FAILED
    out.write(f"mailcatcher: listening on {args.host}:{args.port}; each mail is saved in {directory}/ "
              "(Ctrl-C stops)\n")
    out.flush()
    stop = threading.Event()
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        catcher.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    out.write("mailcatcher: stopped\n")
    return 0


# -------------------------------------------------------------------------------------------- wiring


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `concerns`, `outbox` and `mailcatcher` to policybot's sub-commands (argparse `add_subparsers()`)."""
    concerns = subparsers.add_parser("concerns", help="the DSL inbox: safeguarding concerns passed on by the bot",
                                     description="Read and act on safeguarding concerns (DSL readers only; every "
                                                 "read and change is audited).")
    actions = concerns.add_subparsers(dest="action", required=True, metavar="ACTION")

    def reader(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--school", required=True, help="school slug (see `policybot schools`)")
        parser.add_argument("--as", dest="actor", required=True, metavar="NAME",
                            help="your DSL reader account name (config/safeguarding.yml)")

    listing = actions.add_parser("list", help="the school's concerns, most urgent first")
    reader(listing)
    listing.add_argument("--status", choices=STATUS_FILTERS, default="open",
                         help="which concerns (default: open = new and acknowledged)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_guarded("concerns", cmd_concerns_list))

    show = actions.add_parser("show", help="one concern in full: words, conversation, status, history")
    show.add_argument("reference", help="e.g. KMS-2026-0007")
    reader(show)
    show.add_argument("--json", action="store_true", help="print it as JSON (audited as an export)")
    show.set_defaults(func=_guarded("concerns", cmd_concerns_show))

    export = actions.add_parser("export", help="all the school's concerns you may read, as JSON lines (audited)")
    reader(export)
    export.add_argument("--out", metavar="FILE", help="write to FILE, made readable by this account only "
                                                      "(default: standard output)")
    export.add_argument("--force", action="store_true", help="replace FILE if it exists")
    export.set_defaults(func=_guarded("concerns", cmd_concerns_export))

    ack = actions.add_parser("ack", help="mark a new concern acknowledged (you have picked it up)")
    ack.add_argument("reference")
    reader(ack)
    ack.set_defaults(func=_guarded("concerns", cmd_concerns_ack))

    close = actions.add_parser("close", help="close an acknowledged concern")
    close.add_argument("reference")
    reader(close)
    close.add_argument("--note", help="a closing note kept on the record (never in logs or the audit)")
    close.set_defaults(func=_guarded("concerns", cmd_concerns_close))

    verify = actions.add_parser("verify-audit", help="check the audit trail's hash chain is intact")
    verify.set_defaults(func=_guarded("concerns", cmd_concerns_verify_audit))

    outbox = subparsers.add_parser("outbox", help="DSL notifications waiting to be sent (counts only)")
    steps = outbox.add_subparsers(dest="action", required=True, metavar="ACTION")
    deliver = steps.add_parser("deliver", help="send the due notifications once")
    deliver.set_defaults(func=_guarded("outbox", cmd_outbox_deliver))
    status = steps.add_parser("status", help="how many notifications are pending, failing and sent")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_guarded("outbox", cmd_outbox_status))

    catcher = subparsers.add_parser("mailcatcher", help="a local SMTP sink that saves DSL notifications as .eml")
    catcher.add_argument("--host", default="127.0.0.1")
    catcher.add_argument("--port", type=int, default=8025)
    catcher.add_argument("--dir", help="where to save the mails (default: artifacts/mail)")
    catcher.set_defaults(func=cmd_mailcatcher)


def build_parser() -> argparse.ArgumentParser:
    """A parser with only these sub-commands (tests, and `python -m bot.safeguarding.inbox_cli`)."""
    return cli_support.build_parser(__doc__, register)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Dispatch like bot.cli.main."""
    return cli_support.run(build_parser(), argv, out, err)


if __name__ == "__main__":
    raise SystemExit(main())


def _language_name(code: str) -> str:
    """The English name of a language code the screen uses ("pl" -> Polish); the code itself if unknown."""
    from bot.safeguarding.language import SUPPORTED

    return SUPPORTED.get(code, code)
