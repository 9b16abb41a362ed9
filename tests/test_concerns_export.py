"""`policybot concerns export --school SLUG --as NAME [--out FILE] [--force]`: a school's records as JSON lines,
only those NAME may read, each audited as exported, in a file only this account can read, never written over an
existing file unasked. In-process through inbox_cli's parser, against the tiny schools and a tmp SQLite store."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from bot.safeguarding import inbox_cli
from bot.safeguarding.records import ConcernStore
from test_concern_records import (CANARY, EXCERPT_CANARY, NAME_CANARY, SAFEGUARDING_YML, Clock, assert_no_canary,
                                  record)
from test_concern_records import concerns_env  # noqa: F401 - fixture


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = inbox_cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli_store(concerns_env: Path) -> ConcernStore:  # noqa: F811 - concerns_env is imported above
    """The store the CLI opens, with a fixed clock: two alder concerns a minute apart and one at birch."""
    clock = Clock()
    store = ConcernStore(clock=clock)
    record(store, "a-1", urgency="standard", kind="concern")
    clock.advance(60)
    record(store, "a-2", urgency="immediate", words="a second one")
    record(store, "b-1", school="birch")
    return store


def exported_actions(store: ConcernStore) -> list[tuple[str, str | None]]:
    return [(entry.actor, entry.reference) for entry in store.audit_entries() if entry.action == "exported"]


def test_export_writes_every_readable_record_oldest_first_in_a_private_file(cli_store: ConcernStore,
                                                                           tmp_path: Path) -> None:
    target = tmp_path / "alder.jsonl"
    code, out, err = run("concerns", "export", "--school", "alder", "--as", "mary.oak", "--out", str(target))
    assert (code, err) == (0, "")
    assert out == (f"Exported 2 concerns of Alder Primary School that mary.oak may read to {target} (readable by "
                   f"this account only); each is audited as exported.\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    lines = target.read_text(encoding="utf-8").splitlines()
    first, second = (json.loads(line) for line in lines)
    assert [first["reference"], second["reference"]] == ["APS-2026-0001", "APS-2026-0002"]
    assert (first["words"], first["excerpt"][-1], first["reporter_name"]) == (CANARY, EXCERPT_CANARY, NAME_CANARY)
    assert second["words"] == "a second one" and second["urgency"] == "immediate"
    assert [h["action"] for h in first["history"]] == ["created", "exported"]
    assert exported_actions(cli_store) == [("mary.oak", "APS-2026-0001"), ("mary.oak", "APS-2026-0002")]
    assert cli_store.verify_audit().ok
    assert list(tmp_path.glob(".alder.jsonl.partial-*")) == []


def test_export_to_standard_output_is_the_same_lines(cli_store: ConcernStore) -> None:
    code, out, err = run("concerns", "export", "--school", "birch", "--as", "tom.reed")
    assert (code, err) == (0, "")
    (line,) = out.splitlines()
    assert json.loads(line)["reference"] == "BA-2026-0001"


def test_export_leaves_out_what_the_reader_may_not_read(concerns_env: Path, tmp_path: Path,  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An allegation about staff is the headteacher's at a school that names one (KCSIE part 4), not the DSL's."""
    config = tmp_path / "allegations.yml"
    config.write_text(SAFEGUARDING_YML.replace("    dsl_readers: [mary.oak, deputy.dsl]\n",
                                               "    dsl_readers: [mary.oak, deputy.dsl]\n"
                                               "    allegation_readers: [head.alder]\n", 1), encoding="utf-8")
    monkeypatch.setenv("POLICYBOT_SAFEGUARDING_CONFIG", str(config))
    store = ConcernStore(clock=Clock())
    record(store, "a-1")
    record(store, "a-staff", category="staff_conduct")
    code, out, _ = run("concerns", "export", "--school", "alder", "--as", "mary.oak")
    assert code == 0
    assert [json.loads(line)["category"] for line in out.splitlines()] == ["grooming"]
    assert exported_actions(store) == [("mary.oak", "APS-2026-0001")]


def test_export_never_writes_over_an_existing_file_unasked(cli_store: ConcernStore, tmp_path: Path) -> None:
    target = tmp_path / "alder.jsonl"
    target.write_text("an earlier export\n", encoding="utf-8")
    assert run("concerns", "export", "--school", "alder", "--as", "mary.oak", "--out", str(target)) == (
        2, "", f"policybot concerns: {target} already exists; pass --force to replace it\n")
    assert target.read_text(encoding="utf-8") == "an earlier export\n"
    assert exported_actions(cli_store) == []


def test_force_replaces_the_file_and_makes_it_private(cli_store: ConcernStore, tmp_path: Path) -> None:
    target = tmp_path / "alder.jsonl"
    target.write_text("an earlier export\n", encoding="utf-8")
    target.chmod(0o644)
    code, _, err = run("concerns", "export", "--school", "alder", "--as", "mary.oak", "--out", str(target),
                       "--force")
    assert (code, err) == (0, "")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2


def test_a_non_reader_gets_nothing_and_no_file(cli_store: ConcernStore, tmp_path: Path) -> None:
    target = tmp_path / "alder.jsonl"
    code, out, err = run("concerns", "export", "--school", "alder", "--as", "tom.reed", "--out", str(target))
    assert (code, out) == (2, "")
    assert err.startswith("policybot concerns: 'tom.reed' is not a DSL reader for school 'alder'.")
    assert_no_canary(err)
    assert list(tmp_path.glob("alder.jsonl*")) == [] and list(tmp_path.glob(".alder.jsonl*")) == []
    assert exported_actions(cli_store) == []


def test_an_unwritable_place_is_one_line_without_content(cli_store: ConcernStore, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "alder.jsonl"
    assert run("concerns", "export", "--school", "alder", "--as", "mary.oak", "--out", str(target)) == (
        2, "", f"policybot concerns: cannot write {target}: No such file or directory\n")
