"""Induction plans (bot/induction/plans.py, roles.py): quote matching with offsets, the loader's exact errors on the
tiny alder school, and role words. Also holds the tiny induction file the other test_induction_* modules use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.induction.plans import (MAX_STEPS, PolicyText, heading_key, induction_file, load_plan,
                                 load_school_induction, normalise)
from bot.induction.roles import ROLES, parse_role, role_label
from bot.schools import SchoolDirectory

#: Steps over the tiny ALDER_POLICY in conftest.py: teacher 3 steps, support_staff 2, everyone else 1.
ALDER_INDUCTION = """\
school: alder
version: 1
steps:
  - id: phones
    roles: [staff]
    title: Pupils' phones
    lead_in: "Pupils hand their phones in at the start of the day."
    quote: "Pupils must hand their mobile phones to the class teacher at the start of the school day."
    section: "1.1 Pupils' use of phones"
    check:
      question: "When do pupils hand in their phones?"
      options:
        - text: "At the start of the day"
          correct: true
        - text: "Never"
  - id: drawer
    roles: [teacher]
    title: A locked drawer
    lead_in: "Handed-in phones are locked away."
    quote: "phones are kept in a locked drawer"
    section: "1.1 Pupils' use of phones"
    check:
      question: "Where are handed-in phones kept?"
      options:
        - text: "On the teacher's desk"
        - text: "In a locked drawer"
          correct: true
        - text: "In the pupils' bags"
  - id: passwords
    roles: [everyone]
    title: Passwords at {school}
    lead_in: "Keep your password private; {dsl} is the DSL."
    quote: "Passwords must be kept private and changed every term."
    section: "2. Passwords"
    check:
      question: "How often are passwords changed?"
      options:
        - text: "Every year"
        - text: "Every term"
          correct: true
"""


def write_induction(data_dir: Path, text: str = ALDER_INDUCTION, school: str = "alder") -> Path:
    """Write data/induction/<school>.yml under the tiny data folder; returns its path."""
    path = data_dir / "induction" / f"{school}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def induction_data(data_dir: Path) -> Path:
    """The tiny data folder (POLICYBOT_DATA_DIR) with alder's induction file; returns the data folder."""
    write_induction(data_dir)
    return data_dir


def load(schools: SchoolDirectory, data_dir: Path, text: str):  # type: ignore[no-untyped-def]
    return load_school_induction("alder", schools=schools, path=write_induction(data_dir, text))


# ------------------------------------------------------------------------------------------- quote matching


def test_normalise_drops_markup_and_collapses_whitespace_only() -> None:
    assert normalise("All incidents **MUST** be\n  recorded &amp; <i>logged</i>.") == \
        "All incidents MUST be recorded & logged."
    assert normalise("Keep  *this*\tword") == "Keep this word"
    assert normalise("Case, and punctuation; stay") == "Case, and punctuation; stay"


def test_policy_text_finds_quotes_and_maps_them_to_file_offsets() -> None:
    source = "## 9. Recording\n\n**9.1** All incidents **MUST** be\nrecorded.\n\nAll incidents again."
    text = PolicyText(source)
    [(start, end)] = text.find_all("All incidents MUST be recorded.")
    assert source[start:end] == "All incidents **MUST** be\nrecorded."
    assert len(text.find_all("All incidents")) == 2
    assert text.find_all("All incidents must be recorded.") == []  # case matters: it is a quote
    assert text.find_all("   ") == []


def test_headings_are_matched_as_the_passages_name_them() -> None:
    text = PolicyText("## **8. Filtering of Content**\n\nGovernors:\n\n## 1. Introduction.\n")
    assert heading_key("## **8. Filtering of Content**") == "8. Filtering of Content"
    assert text.heading_offsets("8. Filtering of Content") == [0]
    assert text.heading_offsets("Governors") == text.heading_offsets("Governors:") != []
    assert text.heading_offsets("1. Introduction") != []
    assert text.heading_offsets("Filtering") == []


# ------------------------------------------------------------------------------------------- loading


def test_a_valid_file_loads_each_roles_steps_with_offsets_and_profile_names(schools: SchoolDirectory,
                                                                             induction_data: Path) -> None:
    induction = load_school_induction("alder", schools=schools)
    assert induction.version == 1
    assert [s.id for s in induction.plan("teacher").steps] == ["phones", "drawer", "passwords"]
    assert [s.id for s in induction.plan("support_staff").steps] == ["phones", "passwords"]
    assert [s.id for s in induction.plan("governor").steps] == ["passwords"]
    passwords = induction.plan("volunteer").steps[0]
    assert passwords.title == "Passwords at Alder Primary School"
    assert passwords.lead_in == "Keep your password private; Mary Oak is the DSL."
    source = (induction_data / "policies" / "alder.txt").read_text(encoding="utf-8")
    assert source[passwords.start:passwords.end] == passwords.quote
    assert passwords.check.correct.key == "b" and passwords.check.option("a").text == "Every year"
    assert induction.acknowledgement == ("I have read and understood the online-safety duties from Alder Primary "
                                         "School's Online Safety Policy shown in this induction, and I will follow "
                                         "them.")


def test_load_plan_reads_data_induction_under_the_data_dir(schools: SchoolDirectory, induction_data: Path) -> None:
    assert induction_file("alder") == induction_data / "induction" / "alder.yml"
    plan = load_plan("alder", "teacher", schools=schools)
    assert (plan.school, plan.role, plan.role_label, len(plan)) == ("alder", "teacher", "Teacher", 3)


def test_the_default_loader_rereads_an_edited_file(induction_data: Path) -> None:
    first = load_plan("alder", "governor")
    path = induction_data / "induction" / "alder.yml"
    path.write_text(ALDER_INDUCTION.replace("title: Passwords at {school}", "title: Your password"),
                    encoding="utf-8")
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))
    assert first.steps[0].title == "Passwords at Alder Primary School"
    assert load_plan("alder", "governor").steps[0].title == "Your password"


def test_unknown_school_and_role_name_the_known_ones(schools: SchoolDirectory, induction_data: Path) -> None:
    with pytest.raises(ValueError, match=r"^unknown school 'aldr'; known: alder, birch$"):
        load_school_induction("aldr", schools=schools)
    with pytest.raises(ValueError, match=r"^unknown induction role 'pupil'; known: teacher, support_staff, "
                                         r"volunteer, governor, contractor$"):
        load_plan("alder", "pupil", schools=schools)


def test_a_school_without_a_file_is_an_exact_error(schools: SchoolDirectory, induction_data: Path) -> None:
    with pytest.raises(ValueError, match=r"^school 'birch' has no induction steps: .*birch\.yml not found$"):
        load_school_induction("birch", schools=schools)


def _edit(old: str, new: str) -> str:
    assert old in ALDER_INDUCTION, old
    return ALDER_INDUCTION.replace(old, new, 1)


PASSWORDS_OPTIONS = """\
        - text: "Every year"
        - text: "Every term"
          correct: true
"""

BAD_FILES = [
    pytest.param(_edit("roles: [staff]", "roles: [staff, parent]"),
                 r"^alder\.yml: school 'alder' step 'phones': unknown role 'parent'; known: teacher, support_staff, "
                 r"volunteer, governor, contractor or a group: staff, everyone$", id="unknown-role"),
    pytest.param(_edit('    quote: "phones are kept in a locked drawer"\n    section: "1.1 Pupils\' use of phones"\n',
                       ""),
                 r"^alder\.yml: school 'alder' step 'drawer' is missing quote, section$", id="missing-keys"),
    pytest.param(_edit('quote: "phones are kept in a locked drawer"', 'quote: "phones are kept in a locked cupboard"'),
                 r"^alder\.yml: school 'alder' step 'drawer': quote not found verbatim in alder\.txt \(line breaks, "
                 r"tabs and \*\*bold\*\*/\*italic\*/HTML markup are ignored; every other character must match\): "
                 r"'phones are kept in a locked cupboard'$", id="quote-not-verbatim"),
    pytest.param(_edit('quote: "phones are kept in a locked drawer"', 'quote: "Phones are kept in a locked drawer"'),
                 r"step 'drawer': quote not found verbatim in alder\.txt", id="quote-case-differs"),
    pytest.param(_edit('section: "2. Passwords"', 'section: "Passwords"'),
                 r"^alder\.yml: school 'alder' step 'passwords': section 'Passwords' is not a heading line in "
                 r"alder\.txt$", id="section-not-a-heading"),
    pytest.param(_edit('section: "1.1 Pupils\' use of phones"', 'section: "2. Passwords"'),
                 r"^alder\.yml: school 'alder' step 'phones': the quote is not below the heading '2\. Passwords' in "
                 r"alder\.txt$", id="quote-above-its-section"),
    pytest.param(_edit(PASSWORDS_OPTIONS, PASSWORDS_OPTIONS.replace('"Every year"', '"Every year"\n          correct: true')),
                 r"^alder\.yml: school 'alder' step 'passwords': check needs exactly one option marked correct: "
                 r"true; got 2 \(a, b\)$", id="two-correct"),
    pytest.param(_edit(PASSWORDS_OPTIONS, PASSWORDS_OPTIONS.replace("\n          correct: true", "")),
                 r"step 'passwords': check needs exactly one option marked correct: true; got 0$", id="none-correct"),
    pytest.param(_edit(PASSWORDS_OPTIONS, '        - text: "Every term"\n          correct: true\n'),
                 r"^alder\.yml: school 'alder' step 'passwords': check needs 2 or 3 options; got 1$", id="one-option"),
    pytest.param(_edit("          correct: true\n        - text: \"Never\"", "          corect: true\n        - text: \"Never\""),
                 r"step 'phones' check option a: unknown keys corect; known: text, correct$", id="typo-in-option"),
    pytest.param(_edit('"Every year"', '"' + "Every single year, " * 4 + '"'),
                 r"step 'passwords' check option a: text is 75 characters; keep it to 60 at most$",
                 id="option-too-long"),
    pytest.param(_edit("{dsl} is the DSL", "{head} is the DSL"),
                 r"step 'passwords': lead_in: unknown placeholders \{head\}; known: \{dsl\}, \{online_safety_lead\}, "
                 r"\{governor\}, \{school\}$", id="unknown-placeholder"),
    pytest.param(_edit("roles: [everyone]", "roles: [staff, volunteer, contractor]"),
                 r"^alder\.yml: school 'alder': role 'governor' has no steps; give it at least one "
                 r"\(roles: \[governor\] or a group: staff, everyone\)$", id="role-without-steps"),
    pytest.param(_edit("id: drawer", "id: phones"),
                 r"^alder\.yml: school 'alder' step 'phones': the id is used twice; ids must be unique$",
                 id="duplicate-id"),
    pytest.param(_edit("id: drawer", "id: Locked_Drawer"),
                 r"step 'Locked_Drawer': id must be lower-case letters, digits and hyphens", id="bad-id"),
    pytest.param(_edit("    title: A locked drawer\n", "    title: A locked drawer\n    note: hi\n"),
                 r"step 'drawer': unknown keys note; known: check, id, lead_in, quote, roles, section, title$",
                 id="unknown-step-key"),
    pytest.param(_edit("school: alder", "school: birch"),
                 r"^alder\.yml: school 'alder': the file says school 'birch'; it must say 'alder' \(the file name\)$",
                 id="wrong-school"),
    pytest.param(_edit("version: 1\n", ""),
                 r"^alder\.yml: school 'alder': version must be a whole number from 1 \(bump it when the steps "
                 r"change\); got None$", id="no-version"),
    pytest.param(_edit("steps:\n", "steps:\n  - oops\n"),
                 r"^alder\.yml: school 'alder' step 1: each step must be a mapping", id="step-not-a-mapping"),
    pytest.param(_edit("roles: [teacher]", "roles: [teacher"),
                 r"alder\.yml is not valid YAML at line \d+", id="bad-yaml"),
]


@pytest.mark.parametrize("text, message", BAD_FILES)
def test_a_bad_file_is_refused_with_an_exact_error(schools: SchoolDirectory, data_dir: Path, text: str,
                                                   message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load(schools, data_dir, text)


def test_more_than_max_steps_for_a_role_is_refused(schools: SchoolDirectory, data_dir: Path) -> None:
    block = ALDER_INDUCTION[ALDER_INDUCTION.index("  - id: passwords"):]
    extra = "".join(block.replace("id: passwords", f"id: passwords-{n}") for n in range(MAX_STEPS))
    with pytest.raises(ValueError, match=rf"^alder\.yml: school 'alder': role 'teacher' has {MAX_STEPS + 3} steps; "
                                         rf"at most {MAX_STEPS}, so the induction stays short$"):
        load(schools, data_dir, ALDER_INDUCTION + extra)


# ------------------------------------------------------------------------------------------- roles


@pytest.mark.parametrize("words, role", [
    ("I'm a new TA", "support_staff"),
    ("what do I need to know as a new TA?", "support_staff"),
    ("teaching assistant", "support_staff"),
    ("Teaching assistant or support staff", "support_staff"),
    ("support_staff", "support_staff"),
    ("IT technician", "support_staff"),
    ("I'm the new lunchtime supervisor", "support_staff"),
    ("supply teacher", "teacher"),
    ("I'm an ECT starting in September", "teacher"),
    ("Teachers", "teacher"),
    ("volunteer", "volunteer"),
    ("I'm a parent helper on Tuesdays", "volunteer"),
    ("governor", "governor"),
    ("new parent governor", "governor"),
    ("trustee", "governor"),
    ("contractor", "contractor"),
    ("visitor", "contractor"),
    ("Contractor or visitor", "contractor"),
    ("external IT technician", "contractor"),
    ("sports coach", "contractor"),
])
def test_everyday_role_words_map_to_a_canonical_role(words: str, role: str) -> None:
    assert parse_role(words) == role


@pytest.mark.parametrize("words", ["I'm new", "start my induction", "staff", "pupil", "parent", "", "   ", None,
                                   "I'm a teacher and a governor"])
def test_no_role_or_several_roles_is_none(words: str | None) -> None:
    assert parse_role(words) is None


def test_ta_is_not_found_inside_other_words() -> None:
    assert parse_role("data") is None and parse_role("I'm in the data team") is None


def test_every_role_has_a_label_and_unknown_roles_are_exact_errors() -> None:
    assert [role_label(r) for r in ROLES] == ["Teacher", "Teaching assistant or support staff", "Volunteer",
                                              "Governor", "Contractor or visitor"]
    with pytest.raises(ValueError, match=r"^unknown induction role 'staff'; known: teacher, support_staff"):
        role_label("staff")
