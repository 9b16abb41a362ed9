"""`policybot concerns|outbox|mailcatcher`, run in-process through `inbox_cli.build_parser` (and once through
bot.cli's own parser, the way it will be wired), against the tiny schools and a tmp SQLite store."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.safeguarding import inbox_cli
from bot.safeguarding.records import ConcernStore
from test_concern_records import (CANARY, EXCERPT_CANARY, NAME_CANARY, NOTE_CANARY, Clock, assert_no_canary,
                                  record)
from test_concern_records import concerns_env  # noqa: F401 - fixture
from test_notify import free_port, start_smtp

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str) -> tuple[int, str, str]:
    """Run `policybot argv...` through inbox_cli's parser; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = inbox_cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli_store(concerns_env: Path) -> ConcernStore:  # noqa: F811 - concerns_env is imported above
    """The store the CLI opens (same URL, settings and schools from the environment), with a fixed clock."""
    return ConcernStore(clock=Clock())


def test_list_shows_the_schools_open_concerns_most_urgent_first(cli_store: ConcernStore) -> None:
    """A tidy table: immediate before high before standard, no words, and how to read one."""
    record(cli_store, "s", urgency="standard", category="bullying", kind="concern")
    record(cli_store, "i", urgency="immediate", category="self_harm")
    record(cli_store, "h", urgency="high")
    code, out, err = run("concerns", "list", "--school", "alder", "--as", "mary.oak")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Alder Primary School: 3 open concerns (new or acknowledged), most urgent first"
    assert lines[2].split() == ["REFERENCE", "URGENCY", "STATUS", "RECORDED", "(UK)", "KIND", "ABOUT", "FROM"]
    assert [line.split()[:3] for line in lines[3:6]] == [["APS-2026-0002", "IMMEDIATE", "new"],
                                                         ["APS-2026-0003", "HIGH", "new"],
                                                         ["APS-2026-0001", "STANDARD", "new"]]
    assert "Mon 02 Mar 2026 09:30" in lines[3] and "self harm" in lines[3] and "pupil via rest" in lines[3]
    assert lines[-1] == "Read one:  policybot concerns show REFERENCE --school alder --as mary.oak"
    assert_no_canary(out)


def test_list_with_nothing_to_show_says_so(cli_store: ConcernStore) -> None:
    """An empty list is one sentence naming the filter and the school."""
    assert run("concerns", "list", "--school", "birch", "--as", "tom.reed") == (
        0, "No open concerns (new or acknowledged) for Birch Academy.\n", "")
    assert run("concerns", "list", "--school", "birch", "--as", "tom.reed", "--status", "closed") == (
        0, "No closed concerns for Birch Academy.\n", "")


def test_list_json_is_one_array_of_summaries(cli_store: ConcernStore) -> None:
    """--json prints the summaries (never the words) as one JSON array."""
    ref = record(cli_store).reference
    code, out, _ = run("concerns", "list", "--school", "alder", "--as", "mary.oak", "--json", "--status", "all")
    assert code == 0
    (item,) = json.loads(out)
    assert item["reference"] == ref and item["urgency"] == "high" and item["created_at"] == "2026-03-02T09:30:00+00:00"
    assert "words" not in item


def test_show_prints_the_words_verbatim_the_excerpt_and_the_history(cli_store: ConcernStore) -> None:
    """The DSL sees exactly what was said, the turns before it, the name given and who did what when."""
    ref = record(cli_store, words=f"{CANARY}\nand it happened again").reference
    code, out, err = run("concerns", "show", ref.lower(), "--school", "alder", "--as", "mary.oak")
    assert (code, err) == (0, "")
    assert out.startswith(f"{ref} · Alder Primary School\n")
    assert f"In their own words:\n  | {CANARY}\n  | and it happened again\n" in out
    assert f"  | bot: hi, what can I help with?\n  | {EXCERPT_CANARY}\n" in out
    assert f"  Name given: {NAME_CANARY}\n" in out
    assert f"  Status:     NEW. Acknowledge it: policybot concerns ack {ref} --school alder --as mary.oak" in out
    history = out.split("History:\n")[1].splitlines()
    assert [line.split()[5:7] for line in history] == [["created", "policybot"], ["read", "mary.oak"]]


def test_show_escapes_terminal_control_characters_in_the_words(cli_store: ConcernStore) -> None:
    """An escape sequence typed into the chat cannot repaint the DSL's terminal; the JSON keeps it verbatim."""
    ref = record(cli_store, words="look\x1b[2J here\u202e").reference
    out = run("concerns", "show", ref, "--school", "alder", "--as", "mary.oak")[1]
    assert "  | look\\x1b[2J here\\u202e\n" in out and "\x1b" not in out
    exported = json.loads(run("concerns", "show", ref, "--school", "alder", "--as", "mary.oak", "--json")[1])
    assert exported["words"] == "look\x1b[2J here\u202e"


def test_show_json_is_audited_as_an_export(cli_store: ConcernStore) -> None:
    """show --json carries the words verbatim and is audited as "exported", not "read"."""
    ref = record(cli_store).reference
    code, out, _ = run("concerns", "show", ref, "--school", "alder", "--as", "deputy.dsl", "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["words"], shown["reporter_name"], shown["status"]) == (CANARY, NAME_CANARY, "new")
    assert [h["action"] for h in shown["history"]] == ["created", "exported"]


def test_ack_then_close_with_a_note(cli_store: ConcernStore) -> None:
    """Each step prints one confirmation line and the next step; the note is kept on the record only."""
    ref = record(cli_store).reference
    code, out, err = run("concerns", "ack", ref, "--school", "alder", "--as", "mary.oak")
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith(f"Acknowledged {ref} as mary.oak, ")
    assert f"policybot concerns close {ref} --school alder --as mary.oak --note TEXT" in out
    code, out, err = run("concerns", "close", ref, "--school", "alder", "--as", "mary.oak", "--note", NOTE_CANARY)
    assert (code, err) == (0, "") and out.startswith(f"Closed {ref} as mary.oak, ")
    shown = run("concerns", "show", ref, "--school", "alder", "--as", "mary.oak")[1]
    assert f"Close note:\n  | {NOTE_CANARY}\n" in shown and "Status:     closed by mary.oak" in shown


@pytest.mark.parametrize("argv, message", [
    (("concerns", "list", "--school", "oak", "--as", "mary.oak"),
     "policybot concerns: unknown school 'oak'; known: alder, birch\n"),
    (("concerns", "list", "--school", "alder", "--as", "tom.reed"),
     "policybot concerns: 'tom.reed' is not a DSL reader for school 'alder'. The school's IT admin lists DSL "
     "readers under dsl_readers in {config}.\n"),
    (("concerns", "show", "APS-2026-0099", "--school", "alder", "--as", "mary.oak"),
     "policybot concerns: no concern APS-2026-0099 at school 'alder'. `policybot concerns list --school SLUG "
     "--as NAME --status all` lists the school's references.\n"),
    (("concerns", "show", "APS-2026-0001", "--school", "birch", "--as", "tom.reed"),
     "policybot concerns: no concern APS-2026-0001 at school 'birch'. `policybot concerns list --school SLUG "
     "--as NAME --status all` lists the school's references.\n"),
    (("concerns", "close", "APS-2026-0001", "--school", "alder", "--as", "mary.oak"),
     "policybot concerns: cannot close APS-2026-0001: its status is 'new' and only an 'acknowledged' concern "
     "can be closed; acknowledge it first\n"),
])
def test_usage_errors_exit_2_with_one_kind_line(cli_store: ConcernStore, argv: tuple[str, ...], message: str) -> None:
    """Unknown school, not a reader, unknown or other school's reference, a step the status does not allow."""
    record(cli_store)
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    assert err == message.format(config=os.environ["POLICYBOT_SAFEGUARDING_CONFIG"])
    assert_no_canary(err)


def test_a_store_that_is_down_exits_1_without_content(concerns_env: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """An unusable database is exit 1 with the error class only."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("POLICYBOT_CONCERNS_DATABASE_URL", f"sqlite:///{blocker / 'c.db'}")
    code, out, err = run("concerns", "list", "--school", "alder", "--as", "mary.oak")
    assert (code, out, err) == (1, "", "policybot concerns: the concern store is unavailable (FileExistsError); "
                                       "check POLICYBOT_CONCERNS_DATABASE_URL and the disk.\n")


def test_verify_audit_reports_an_intact_chain_then_a_tampered_row(cli_store: ConcernStore, concerns_env: Path) -> None:
    """Exit 0 with the row count and head hash; after a raw UPDATE, exit 1 naming the row."""
    ref = record(cli_store).reference
    run("concerns", "show", ref, "--school", "alder", "--as", "mary.oak")
    code, out, err = run("concerns", "verify-audit")
    assert (code, err) == (0, "") and out.startswith("Audit chain intact: 2 row(s); head hash ")
    with sqlite3.connect(concerns_env) as raw:
        raw.execute("UPDATE concern_audit SET action = 'listed' WHERE seq = 2")
    code, out, err = run("concerns", "verify-audit")
    assert (code, out) == (1, "")
    assert err.startswith("policybot concerns: the audit chain is BROKEN at row 2: row 2 was changed after it was "
                          "written (2 row(s) checked).")


def test_outbox_status_and_deliver(cli_store: ConcernStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts only; a pass against a dead port exits 1 and keeps the row; against a live server it sends."""
    record(cli_store)
    assert run("outbox", "status") == (0, "Outbox: 1 pending (1 due now, 0 failing and waiting to retry), "
                                          "0 sent.\n", "")
    port = free_port()
    monkeypatch.setenv("POLICYBOT_SMTP_PORT", str(port))
    assert run("outbox", "deliver") == (1, "Outbox: sent 0, failed 1, still pending 1.\n", "")
    assert json.loads(run("outbox", "status", "--json")[1]) == {"pending": 1, "due": 0, "failing": 1, "sent": 0}
    with sqlite3.connect(cli_store.engine.url.database) as raw:  # bring the retry forward instead of waiting 30 s
        raw.execute("UPDATE concern_outbox SET next_attempt_at = '2000-01-01 00:00:00.000000'")
    controller, inbox = start_smtp(port)
    try:
        assert run("outbox", "deliver") == (0, "Outbox: sent 1, failed 0, still pending 0.\n", "")
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_nothing_of_a_record_reaches_the_logs_or_stderr_from_the_cli(
        cli_store: ConcernStore, caplog: pytest.LogCaptureFixture) -> None:
    """Every sub-command at DEBUG: the words show only on stdout of `show`, never in a log line or on stderr."""
    caplog.set_level(logging.DEBUG)
    ref = record(cli_store).reference
    errs = []
    for argv in (("concerns", "list", "--school", "alder", "--as", "mary.oak"),
                 ("concerns", "show", ref, "--school", "alder", "--as", "mary.oak"),
                 ("concerns", "show", ref, "--school", "alder", "--as", "tom.reed"),
                 ("concerns", "ack", ref, "--school", "alder", "--as", "mary.oak"),
                 ("concerns", "close", ref, "--school", "alder", "--as", "mary.oak", "--note", NOTE_CANARY),
                 ("concerns", "verify-audit"), ("outbox", "status")):
        errs.append(run(*argv)[2])
    assert_no_canary(caplog.text, *errs)


def test_bot_cli_parses_the_inbox_commands() -> None:
    """Registered on bot.cli's parser, the commands parse and carry a bot.cli-style handler."""
    from bot.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["concerns", "ack", "APS-2026-0001", "--school", "alder", "--as", "mary.oak"])
    assert (args.command, args.action, args.reference, args.school, args.actor) == (
        "concerns", "ack", "APS-2026-0001", "alder", "mary.oak")
    assert callable(args.func)
    assert parser.parse_args(["ask", "--school", "alder", "hi"]).command == "ask"  # the others still work
    assert parser.parse_args(["mailcatcher", "--port", "2525"]).port == 2525


def test_building_the_parser_stays_light_and_its_status_choices_match_the_store() -> None:
    """`policybot --help` must not pay for SQLAlchemy; the --status choices are the store's filters."""
    from bot.safeguarding.records import STATUS_FILTERS

    assert inbox_cli.STATUS_FILTERS == STATUS_FILTERS
    probe = subprocess.run([sys.executable, "-c", "import sys; from bot.safeguarding import inbox_cli; "
                            "inbox_cli.build_parser(); print('sqlalchemy' in sys.modules)"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert probe.stdout == "False\n"


def test_a_missing_action_or_reader_is_an_argparse_usage_error() -> None:
    """Leaving out --as is caught by argparse (exit 2) before anything is opened."""
    with pytest.raises(SystemExit) as caught:
        inbox_cli.build_parser().parse_args(["concerns", "list", "--school", "alder"])
    assert caught.value.code == 2


def test_the_mailcatcher_command_saves_mail_until_sigterm(tmp_path: Path) -> None:
    """`policybot mailcatcher --port P --dir D` in its own process: a mail sent to it lands in D as .eml."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bot.safeguarding.inbox_cli", "mailcatcher", "--port",
                                str(port), "--dir", str(tmp_path / "mail")], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        assert banner == (f"mailcatcher: listening on 127.0.0.1:{port}; each mail is saved in {tmp_path / 'mail'}/ "
                          "(Ctrl-C stops)\n")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@x.example", "b@x.example", "hello"
        message.set_content("body")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(message)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert (process.returncode, out, err) == (0, "mailcatcher: stopped\n", "")
    saved, = (tmp_path / "mail").glob("*.eml")
    assert b"Subject: hello" in saved.read_bytes()


def test_the_mailcatcher_says_when_the_port_is_taken(tmp_path: Path) -> None:
    """A taken port is exit 1 with one line, at once (not after aiosmtpd's 5 s timeout)."""
    port = free_port()
    controller, _ = start_smtp(port)
    try:
        code, out, err = run("mailcatcher", "--port", str(port), "--dir", str(tmp_path / "mail"))
    finally:
        controller.stop()
    assert (code, out) == (1, "")
    assert err.startswith(f"policybot mailcatcher: cannot listen on 127.0.0.1:{port}: ")

