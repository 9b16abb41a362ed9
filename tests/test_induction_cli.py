"""`policybot induction report --school SLUG [--csv]`, run in-process through bot.cli (the way it is wired) against
the tiny schools and a tmp SQLite store: the table, the CSV, an empty school, and exact usage errors."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot import cli
from bot.induction import cli as induction_cli
from bot.induction import flow
from bot.induction.plans import load_plan
from bot.induction.store import InductionStore
from bot.schools import SchoolDirectory
from test_induction_plans import induction_data  # noqa: F401 - fixture

JAN = datetime(2026, 1, 15, 16, 30, tzinfo=timezone.utc)  # 16:30 in London (GMT)
JUL = datetime(2026, 7, 1, 8, 5, tzinfo=timezone.utc)  # 09:05 in London (BST)


def run(*argv: str) -> tuple[int, str, str]:
    """`policybot argv...` through bot.cli.main; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def store(tmp_path: Path, induction_data: Path, monkeypatch: pytest.MonkeyPatch) -> InductionStore:  # noqa: F811
    """The store the CLI opens: the tiny schools (POLICYBOT_DATA_DIR) and a tmp database in the environment."""
    url = f"sqlite:///{tmp_path / 'db' / 'induction.db'}"
    monkeypatch.setenv("POLICYBOT_INDUCTION_DATABASE_URL", url)
    return InductionStore(url, schools=SchoolDirectory.load())


def complete(store: InductionStore, user: str, role: str, answers: list[str], at: datetime,
             person: str | None = None) -> None:
    plan = load_plan("alder", role, schools=store.schools)
    progress = flow.start("alder", role, plan=plan, now=at)
    for choice in answers:
        progress, _ = flow.answer(progress, choice, plan=plan)
    store.record_completion(user, flow.acknowledge(progress, plan=plan, now=at), person)


@pytest.fixture
def two_done(store: InductionStore) -> InductionStore:
    complete(store, "u-2", "governor", ["a"], JUL)
    complete(store, "u-1", "teacher", ["a", "b", "a"], JAN, person="Sam Smith")
    return store


def test_the_report_is_a_table_oldest_first_in_uk_time(two_done: InductionStore) -> None:
    code, out, err = run("induction", "report", "--school", "alder")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Alder Primary School: 2 induction completions, oldest first",
        "",
        "  COMPLETED (UK)     ROLE      NAME OR STAFF ID  SCORE  STEPS  VERSION",
        "  15 Jan 2026 16:30  teacher   Sam Smith         2/3    3/3    1",
        "  01 Jul 2026 09:05  governor  -                 0/1    1/1    1",
        "",
        "SCORE is checks right first time. As CSV: policybot induction report --school alder --csv",
    ]


def test_the_report_as_csv_has_one_row_per_completion(two_done: InductionStore) -> None:
    code, out, err = run("induction", "report", "--school", "alder", "--csv")
    assert (code, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(induction_cli.CSV_COLUMNS)
    assert [(r["completed_on"], r["role"], r["name_or_staff_id"], r["score"], r["steps_completed"],
             r["steps_total"], r["plan_version"]) for r in rows] == [
        ("2026-01-15", "teacher", "Sam Smith", "2", "3", "3", "1"),
        ("2026-07-01", "governor", "", "0", "1", "1", "1")]
    assert rows[0]["completed_at"] == "2026-01-15T16:30:00+00:00"
    assert rows[0]["school"] == "alder" and rows[0]["acknowledgement"].startswith("I have read and understood")


def test_typed_text_cannot_become_a_spreadsheet_formula_or_a_terminal_trick(store: InductionStore) -> None:
    complete(store, "u-1", "governor", ["b"], JAN, person="=HYPERLINK(\"http://x\")")
    complete(store, "u-2", "governor", ["b"], JUL, person="Ann\u202eeoJ")
    _, out, _ = run("induction", "report", "--school", "alder", "--csv")
    assert [r["name_or_staff_id"] for r in csv.DictReader(io.StringIO(out))] == ["'=HYPERLINK(\"http://x\")",
                                                                                 "Ann eoJ"]
    assert induction_cli._safe("Ann\u202eeoJ") == "Ann\\u202eeoJ"


def test_a_school_with_no_completions_says_so(store: InductionStore) -> None:
    assert run("induction", "report", "--school", "birch") == (
        0, "No induction completions recorded for Birch Academy yet.\n", "")
    code, out, _ = run("induction", "report", "--school", "birch", "--csv")
    assert (code, out) == (0, ",".join(induction_cli.CSV_COLUMNS) + "\n")


def test_an_unknown_school_names_the_known_ones_and_creates_nothing(store: InductionStore, tmp_path: Path) -> None:
    assert run("induction", "report", "--school", "kingsmead") == (
        2, "", "policybot induction: unknown school 'kingsmead'; known: alder, birch\n")
    assert not (tmp_path / "db").exists()


def test_usage_errors_exit_2(store: InductionStore, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["induction"], ["induction", "report"], ["induction", "list", "--school", "alder"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 2
    assert "--school" in capsys.readouterr().err


def test_an_unreachable_store_exits_1(tmp_path: Path, induction_data: Path,  # noqa: F811
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("POLICYBOT_INDUCTION_DATABASE_URL", f"sqlite:///{blocker / 'induction.db'}")
    code, out, err = run("induction", "report", "--school", "alder")
    assert (code, out) == (1, "")
    assert re.fullmatch(r"policybot induction: the induction store is unavailable \(\w+Error\); check "
                        r"POLICYBOT_INDUCTION_DATABASE_URL and the disk\.\n", err), err


def test_the_module_parser_matches_the_wired_one(two_done: InductionStore) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert induction_cli.main(["induction", "report", "--school", "alder"], out=out, err=err) == 0
    assert out.getvalue() == run("induction", "report", "--school", "alder")[1]


def test_building_the_parser_stays_light() -> None:
    """`policybot --help` must not pay for SQLAlchemy or YAML: the induction modules load only when a report runs."""
    root = Path(__file__).resolve().parents[1]
    probe = subprocess.run([sys.executable, "-c", "import sys; from bot.induction import cli; cli.build_parser(); "
                            "print(sorted(m for m in ('sqlalchemy', 'yaml', 'bot.induction.store') "
                            "if m in sys.modules))"], cwd=root, capture_output=True, text=True, timeout=60)
    assert probe.stdout == "[]\n", probe.stderr
