"""The `policybot` command line, run in-process against the tiny schools with the fake embedder."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from bot.cli import main
from conftest import ALDER_POLICY, BIRCH_POLICY

pytestmark = pytest.mark.usefixtures("cli_env")

SOURCES = {"alder": ALDER_POLICY, "birch": BIRCH_POLICY}


def run(*argv: str) -> tuple[int, str, str]:
    """Run `policybot argv...`; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_ask_for_an_unknown_school_exits_2_and_lists_the_valid_slugs() -> None:
    """An unknown --school is a usage error whose message lists alder and birch."""
    code, out, err = run("ask", "--school", "oak", "are", "phones", "allowed?")
    assert code == 2
    assert out == ""
    assert err == "policybot ask: unknown school 'oak'; known: alder, birch\n"


def test_ask_without_a_school_exits_2_and_lists_the_valid_slugs() -> None:
    """Leaving out --school is a usage error that says which slugs exist."""
    code, out, err = run("ask", "are", "phones", "allowed?")
    assert code == 2
    assert out == ""
    assert err == "policybot ask: --school is required (one of: alder, birch)\n"


def test_ask_with_an_empty_question_exits_2_with_a_clear_message() -> None:
    """No question words is a usage error that asks for a question."""
    code, out, err = run("ask", "--school", "alder")
    assert code == 2
    assert out == ""
    assert err == "policybot ask: the question is empty; please type a question about the school's policy\n"


def test_ask_prints_the_answer_text() -> None:
    """A plain `ask` prints the quoted lead sentence and the citation line."""
    code, out, err = run("ask", "--school", "alder", "--role", "pupil", "must pupils hand in their mobile phones?")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Pupils must hand their mobile phones to the class teacher at the start of the school day."
    assert lines[1].startswith("— Alder Primary School, Online Safety Policy, section ")
    assert lines[1].endswith("(March 2021)")


def test_ask_json_prints_one_answer_object() -> None:
    """`ask --json` prints one JSON object with the answer and its citations."""
    code, out, _ = run("ask", "--school", "birch", "--json", "can", "students", "use", "phones", "at", "lunchtime?")
    assert code == 0
    [line] = out.splitlines()
    data = json.loads(line)
    assert list(data) == ["school", "answer", "abstained", "citations"]
    assert data["school"] == "birch" and data["abstained"] is False
    assert all(c["school"] == "birch" for c in data["citations"])


def test_ask_batch_answers_each_line_in_order_and_reports_bad_lines(tmp_path: Path) -> None:
    """One JSON line per non-empty input line, in order; bad lines become error lines naming their number."""
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        '{"id": "q1", "school": "alder", "role": "pupil", "question": "must pupils hand in their mobile phones?"}\n'
        '{"id": "q2", "school": "alder", "question": "phones?"\n'
        '{"id": "q3", "school": "birch"}\n'
        "\n"
        '{"id": "q5", "school": "birch", "question": "when is the school trip to the zoo"}\n'
        '{"id": "q6", "school": "oak", "question": "phones?"}\n'
        "[1, 2]\n",
        encoding="utf-8",
    )
    code, out, err = run("ask", "--batch", str(batch))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 6

    assert rows[1] == {"id": None, "line": 2, "error": "line 2: not valid JSON"}
    assert rows[2] == {"id": "q3", "line": 3, "error": "line 3: missing question"}
    assert rows[4] == {"id": "q6", "line": 6, "error": "line 6: unknown school 'oak'; known: alder, birch"}
    assert rows[5] == {"id": None, "line": 7, "error": "line 7: expected a JSON object"}

    for row, (item_id, school) in zip((rows[0], rows[3]), (("q1", "alder"), ("q5", "birch"))):
        assert list(row) == ["id", "school", "answer", "abstained", "citations"]
        assert (row["id"], row["school"]) == (item_id, school)
        for citation in row["citations"]:
            assert set(citation) == {"school", "section", "text", "score", "start", "end"}
            assert citation["school"] == school
            assert 0 <= citation["start"] < citation["end"] <= len(SOURCES[school])
    assert rows[0]["abstained"] is False and rows[0]["citations"]
    assert rows[0]["answer"].splitlines()[0] == (
        "Pupils must hand their mobile phones to the class teacher at the start of the school day.")
    assert rows[3]["abstained"] is True and rows[3]["citations"] == []
    assert err == "policybot ask: 4 line(s) could not be answered; see their error lines\n"


def test_ask_batch_line_with_a_non_string_role_gets_an_error_line(tmp_path: Path) -> None:
    """A line with "role": 5 is reported on its own error line; the lines after it are still answered."""
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"id": "q1", "school": "alder", "role": 5, "question": "are phones allowed?"}\n'
                     '{"id": "q2", "school": "alder", "question": "are phones allowed?"}\n', encoding="utf-8")
    code, out, _ = run("ask", "--batch", str(batch))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(row["id"], row.get("line")) for row in rows] == [("q1", 1), ("q2", None)]
    assert rows[0]["error"].startswith("line 1: ")


def test_ask_batch_with_a_missing_file_exits_2(tmp_path: Path) -> None:
    """A batch file that cannot be opened is a usage error naming the file."""
    missing = tmp_path / "nope.jsonl"
    code, out, err = run("ask", "--batch", str(missing))
    assert code == 2
    assert out == ""
    assert err.startswith(f"policybot ask: cannot read batch file {missing}: ")


def test_schools_lists_every_slug() -> None:
    """`schools` prints one line per school, starting with its slug, in slug order."""
    code, out, _ = run("schools")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["alder", "birch"]
    assert "Alder Primary School — primary; Online Safety Policy, Approved March 2021" in lines[0]
    assert lines[1].endswith("DSL: Tom Reed")


def test_schools_json_lists_slugs_and_dates() -> None:
    """`schools --json` gives slug, name, phase and dates for each school."""
    code, out, _ = run("schools", "--json")
    assert code == 0
    data = json.loads(out)
    assert [(s["slug"], s["phase"], s["policy_date"], s["next_review"]) for s in data] == [
        ("alder", "primary", "2021-03", "2022-03"), ("birch", "secondary", "2023-09-01", "2024")]


def test_build_index_check_fails_while_missing_and_passes_after_a_build(cli_env: Path) -> None:
    """`build-index --check` exits 1 with 'missing' before a build and 0 with 'ok' after."""
    code, out, _ = run("build-index", "--check")
    assert code == 1
    # The tiny data folder has no safeguarding corpus and no tuning questions: no screen or answer model to
    # build, and nothing missing.
    assert [line.split() for line in out.splitlines()] == [["alder", "missing"], ["birch", "missing"],
                                                           ["screen", "no", "corpus"], ["answer", "model", "no", "corpus"]]

    code, out, _ = run("build-index", "--quiet")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()] == [["alder", "built"], ["birch", "built"],
                                                               ["screen", "no"], ["answer", "model"]]
    assert out.splitlines()[-1].split() == ["answer", "model", "no", "corpus"]
    assert (cli_env / "index" / "alder" / "manifest.json").exists()

    code, out, _ = run("build-index", "--check")
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [["alder", "ok"], ["birch", "ok"],
                                                           ["screen", "no", "corpus"], ["answer", "model", "no", "corpus"]]


def test_build_index_for_one_school_leaves_the_other_missing() -> None:
    """`--school alder` builds only Alder; the full check still fails for Birch."""
    code, out, _ = run("build-index", "--quiet", "--school", "alder")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["alder"]
    code, out, _ = run("build-index", "--check")
    assert code == 1
    assert [line.split() for line in out.splitlines()] == [["alder", "ok"], ["birch", "missing"],
                                                           ["screen", "no", "corpus"], ["answer", "model", "no", "corpus"]]


def test_build_index_check_reports_a_school_whose_policy_file_is_gone(data_dir: Path) -> None:
    """After a build, deleting Birch's policy makes the check fail (exit 1) with a line for Birch, not crash."""
    assert run("build-index", "--quiet")[0] == 0
    (data_dir / "policies" / "birch.txt").unlink()
    code, out, _ = run("build-index", "--check")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["alder", "ok"]
    assert lines[1].startswith("birch") and "ok" not in lines[1].split()


def test_build_index_for_an_unknown_school_exits_2() -> None:
    """An unknown --school for build-index is a usage error listing the slugs."""
    code, _, err = run("build-index", "--school", "oak")
    assert code == 2
    assert err == "policybot build-index: unknown school 'oak'; known: alder, birch\n"


@pytest.mark.usefixtures("fake_screen_artifacts")
def test_eval_prints_the_four_measures(tmp_path: Path) -> None:
    """`eval --questions FILE` reports evidence@1, evidence@3, abstention accuracy and wrong-school citations."""
    questions = tmp_path / "dev.jsonl"
    questions.write_text(
        '{"id": "a1", "school": "alder", "role": "pupil", "question": "must pupils hand in their mobile phones?",'
        ' "answerable": true, "evidence": ["hand their mobile phones to the class teacher"]}\n'
        "\n"
        '{"id": "b1", "school": "birch", "question": "when is the school trip to the zoo", "answerable": false}\n',
        encoding="utf-8",
    )
    code, out, err = run("eval", "--questions", str(questions))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"dev set: {questions}"
    assert lines[1] == "questions: 2 (1 answerable)"
    assert re.fullmatch(r"evidence@1: [01]\.\d{3}", lines[2])
    assert re.fullmatch(r"evidence@3: [01]\.\d{3}", lines[3])
    assert re.fullmatch(r"abstention accuracy: [01]\.\d{3}", lines[4])
    assert lines[5] == "wrong-school citations: 0"


def test_eval_with_a_missing_question_file_exits_2(tmp_path: Path) -> None:
    """A --questions path that does not exist is a usage error naming it."""
    missing = tmp_path / "none.jsonl"
    code, out, err = run("eval", "--questions", str(missing))
    assert code == 2
    assert out == ""
    assert err == f"policybot eval: question file not found: {missing} (pass --questions FILE)\n"


def test_eval_with_a_malformed_question_line_exits_2_naming_the_line(tmp_path: Path) -> None:
    """A question line without the required keys is reported as FILE:LINE."""
    questions = tmp_path / "dev.jsonl"
    questions.write_text('{"id": "a1", "school": "alder", "question": "phones?"}\n{"id": "a2"}\n', encoding="utf-8")
    code, _, err = run("eval", "--questions", str(questions))
    assert code == 2
    assert err.startswith(f"policybot eval: {questions}:2: not a valid question line")
