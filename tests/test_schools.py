"""School profiles: loading data/schools.yml, exact validation errors, review dates and date wording."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.schools import Contact, SchoolDirectory, SchoolProfile, format_partial_date
from bot.settings import PROJECT_ROOT

REAL_SCHOOLS = PROJECT_ROOT / "data" / "schools.yml"

VALID_ENTRY = """\
schools:
  oak:
    name: Oak School
    phase: primary
    policy_file: oak.txt
    policy_title: Online Safety Policy
    policy_date: "2021-03"
"""


@pytest.fixture
def real() -> SchoolDirectory:
    """The real school directory from data/schools.yml."""
    return SchoolDirectory.load(REAL_SCHOOLS)


def load_yaml(tmp_path: Path, text: str) -> SchoolDirectory:
    """Load a directory from a literal schools.yml written under tmp_path."""
    path = tmp_path / "schools.yml"
    path.write_text(text, encoding="utf-8")
    return SchoolDirectory.load(path)


def oak(**changes: object) -> SchoolProfile:
    """A minimal valid profile with some fields replaced."""
    base = SchoolProfile(slug="oak", name="Oak School", short_name="Oak", phase="primary", policy_file="oak.txt",
                         policy_title="Online Safety Policy", policy_date="2021-03", policy_date_label="March 2021",
                         next_review="2022-03", reference_prefix="OAK")
    return replace(base, **changes)


def test_real_directory_loads_the_five_schools(real: SchoolDirectory) -> None:
    """data/schools.yml holds exactly the five schools, listed by slug in sorted order."""
    assert len(real) == 5
    assert real.slugs == ["ken-stimpson", "kingsmeadow", "ouston", "rolvenden", "wyre-forest"]
    assert {p.slug for p in real} == {"kingsmeadow", "ouston", "wyre-forest", "ken-stimpson", "rolvenden"}
    assert "ouston" in real and "ousten" not in real


def test_real_profiles_carry_their_policy_facts(real: SchoolDirectory) -> None:
    """Names, phases, titles and dates come through from the YAML as written."""
    ken = real.get("ken-stimpson")
    assert (ken.name, ken.phase, ken.policy_title, ken.policy_date, ken.next_review) == (
        "Ken Stimpson Community School", "secondary", "E-Safety Policy", "2021-03", "2022-03")
    assert ken.policy_date_text == "March 2021"
    assert real.get("rolvenden").dsl == ("Sarah O'Neill", "Ellen Jones")
    assert real.get("ouston").phase == "primary"
    assert real.get("wyre-forest").phase == "special"


def test_unknown_slug_error_lists_the_known_slugs(real: SchoolDirectory) -> None:
    """A misspelt slug raises ValueError naming it and listing the valid slugs in order."""
    with pytest.raises(ValueError, match=re.escape("unknown school 'kingsmead'; known: ken-stimpson, kingsmeadow")):
        real.get("kingsmead")


def test_unknown_slug_error_lists_every_known_slug(real: SchoolDirectory) -> None:
    """The whole list of slugs is given, comma separated."""
    with pytest.raises(ValueError) as problem:
        real.get("nowhere")
    assert str(problem.value) == (
        "unknown school 'nowhere'; known: ken-stimpson, kingsmeadow, ouston, rolvenden, wyre-forest")


def test_minimal_entry_fills_defaults(tmp_path: Path) -> None:
    """Optional fields default: short name = name, label = date, prefix from slug, ask the DSL first."""
    profile = load_yaml(tmp_path, VALID_ENTRY).get("oak")
    assert profile.short_name == "Oak School"
    assert profile.policy_date_label == "2021-03"
    assert profile.reference_prefix == "OAK"
    assert profile.next_review is None
    assert profile.ask_first == "dsl"
    assert profile.who_to_ask() == Contact(None, "Designated Safeguarding Lead")


def test_unknown_keys_are_kept_in_extra(tmp_path: Path) -> None:
    """Keys the profile does not model are kept under `extra`, not dropped or rejected."""
    profile = load_yaml(tmp_path, VALID_ENTRY + "    motto: Grow together\n").get("oak")
    assert profile.extra == {"motto": "Grow together"}


def test_bad_phase_is_rejected_with_the_allowed_phases(tmp_path: Path) -> None:
    """A phase outside primary/secondary/special names the school, the choices and the bad value."""
    with pytest.raises(ValueError, match=re.escape(
            "school 'oak': phase must be one of primary, secondary, special; got 'college'")):
        load_yaml(tmp_path, VALID_ENTRY.replace("phase: primary", "phase: college"))


def test_missing_required_fields_are_all_named(tmp_path: Path) -> None:
    """Every missing required field is listed in one error."""
    text = VALID_ENTRY.replace("    policy_title: Online Safety Policy\n", "").replace('    policy_date: "2021-03"\n', "")
    with pytest.raises(ValueError, match=re.escape(
            "school 'oak' is missing policy_title, policy_date in schools.yml")):
        load_yaml(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "bad"),
    [(VALID_ENTRY.replace('"2021-03"', '"March 2021"'), "March 2021"),
     (VALID_ENTRY + '    next_review: "2022/03"\n', "2022/03")],
    ids=["policy_date", "next_review"],
)
def test_malformed_date_is_rejected_with_the_expected_formats(tmp_path: Path, text: str, bad: str) -> None:
    """A date that is not YYYY, YYYY-MM or YYYY-MM-DD gives an error quoting it and the accepted forms."""
    with pytest.raises(ValueError, match=re.escape(f"bad date '{bad}'; expected YYYY, YYYY-MM or YYYY-MM-DD")):
        load_yaml(tmp_path, text)


def test_bad_slug_is_rejected(tmp_path: Path) -> None:
    """Slugs must be lower-case words joined by hyphens."""
    with pytest.raises(ValueError, match=re.escape(
            "school slug 'Oak_School' must be lower-case letters, digits and hyphens")):
        load_yaml(tmp_path, VALID_ENTRY.replace("  oak:", "  Oak_School:"))


def test_contact_of_the_wrong_shape_is_rejected(tmp_path: Path) -> None:
    """A contact that is neither a name nor {name, title} is refused with the field and value."""
    with pytest.raises(ValueError, match=re.escape(
            "school 'oak': governor must be null, a name, or {name, title}; got ['Ann', 'Bob']")):
        load_yaml(tmp_path, VALID_ENTRY + "    governor: [Ann, Bob]\n")


def test_missing_schools_file_is_reported(tmp_path: Path) -> None:
    """Loading a path that does not exist says which file was not found."""
    missing = tmp_path / "nope.yml"
    with pytest.raises(ValueError, match=re.escape(f"school profiles file not found: {missing}")):
        SchoolDirectory.load(missing)


def test_file_without_schools_mapping_is_rejected(tmp_path: Path) -> None:
    """A YAML file with no 'schools:' mapping is refused."""
    with pytest.raises(ValueError, match=re.escape("must contain a 'schools:' mapping of slug -> profile")):
        load_yaml(tmp_path, "schools:\n  - oak\n")


@pytest.mark.parametrize(
    ("next_review", "today", "overdue"),
    [
        ("2022-03", date(2022, 3, 31), False),  # due 'in March': not overdue until March is over
        ("2022-03", date(2022, 4, 1), True),
        ("2019", date(2019, 12, 31), False),
        ("2019", date(2020, 1, 1), True),
        ("2020-02", date(2020, 2, 29), False),  # leap year: end of February is the 29th
        ("2019-02", date(2019, 3, 1), True),
        ("2017-12", date(2017, 12, 31), False),
        ("2017-12", date(2018, 1, 1), True),
        ("2016-11-24", date(2016, 11, 24), False),
        ("2016-11-24", date(2016, 11, 25), True),
        (None, date(2100, 1, 1), False),  # no review date: never flagged
    ],
)
def test_review_overdue_only_after_the_whole_review_period(next_review: str | None, today: date,
                                                            overdue: bool) -> None:
    """A review due in a year/month/day is overdue only once that whole period has passed."""
    assert oak(next_review=next_review).review_overdue(today) is overdue


def test_real_review_dates_are_compared_with_the_given_day(real: SchoolDirectory) -> None:
    """Ken Stimpson's 'March 2022' review is not overdue on 31 March 2022 and is on 1 April 2022."""
    ken = real.get("ken-stimpson")
    assert ken.review_overdue(date(2022, 3, 31)) is False
    assert ken.review_overdue(date(2022, 4, 1)) is True


@pytest.mark.parametrize(
    ("value", "text"),
    [("2021-03", "March 2021"), ("2016-11-24", "24 November 2016"), ("2017", "2017"),
     ("2020-01-05", "5 January 2020"), ("2019-12", "December 2019"), ("Spring 2020", "Spring 2020")],
)
def test_partial_dates_are_written_as_people_write_them(value: str, text: str) -> None:
    """'2021-03' -> 'March 2021', '2016-11-24' -> '24 November 2016'; anything else is passed through."""
    assert format_partial_date(value) == text
    assert oak(policy_date=value).policy_date_text == text


def test_who_to_ask_follows_the_profile_choice(real: SchoolDirectory) -> None:
    """ask_first picks the named online safety lead, or falls back to the role title when nobody is named."""
    assert real.get("kingsmeadow").who_to_ask().describe() == (
        "Lewis Thompson (Online Safety Coordinator and Deputy Data Protection Officer)")
    assert real.get("ken-stimpson").who_to_ask().describe() == "the Assistant Principal (e-safety policy lead)"


def test_dsl_contact_joins_names_or_falls_back_to_the_role() -> None:
    """Two DSLs are joined with 'and'; with none the contact is the role itself."""
    assert oak(dsl=("Ann Lee", "Bo Chan")).dsl_contact().describe() == (
        "Ann Lee and Bo Chan (Designated Safeguarding Lead)")
    assert oak().dsl_contact().describe() == "the Designated Safeguarding Lead"


def test_policy_path_follows_the_data_dir_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """policy_path is <POLICYBOT_DATA_DIR>/policies/<policy_file>."""
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path))
    assert oak().policy_path == tmp_path / "policies" / "oak.txt"
