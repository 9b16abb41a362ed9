"""Staff steps (data/safeguarding/staff_steps.yml): every quote is really in that school's policy, under the
heading it cites, and the loader rejects malformed entries with exact errors."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml

from bot import settings
from bot.safeguarding.handoff import (
    general_steps_for,
    load_staff_steps,
    staff_steps_file,
    staff_steps_for,
)
from bot.safeguarding.types import CATEGORIES
from bot.schools import SchoolDirectory

DATA = settings.PROJECT_ROOT / "data"
SCHOOLS = SchoolDirectory.load(DATA / "schools.yml")
STEPS = load_staff_steps(DATA / "safeguarding" / "staff_steps.yml")
STEP_CASES = [(slug, i) for slug, steps in sorted(STEPS.items()) for i in range(len(steps))]
#: How far (normalised characters) a quote may sit below its heading; the furthest today is Rolvenden 1.3 (~4,900).
MAX_SECTION_CHARS = 5500

#: Step texts appear in every staff reply, including the one sent when nothing could be stored, so they never
#: claim a report was made; neither they nor the quotes promise secrecy.
CLAIMS = re.compile(r"\b(?:recorded|passed|logged|saved|forwarded|stored)\b", re.I)
SECRECY = re.compile(r"\b(?:secrets?|confidential\w*|promis\w*)\b|\bjust between\b", re.I)


def normalise(text: str) -> str:
    """Whitespace collapsed and formatting markup removed (**bold**, <i>tags</i>, &amp;); the words untouched."""
    text = html.unescape(re.sub(r"<[^>]+>", "", text)).replace("**", "")
    return re.sub(r"\s+", " ", text).strip()


def policy_text(slug: str) -> str:
    return (DATA / "policies" / SCHOOLS.get(slug).policy_file).read_text(encoding="utf-8")


def lines_of(source: str) -> set[str]:
    """Every line, normalised and with markdown heading marks removed, so a heading can be matched exactly."""
    return {normalise(line.lstrip("#")) for line in source.splitlines()}


def test_the_repository_file_is_the_default() -> None:
    assert staff_steps_file() == DATA / "safeguarding" / "staff_steps.yml"


def test_every_school_has_steps_and_every_entry_is_a_school() -> None:
    assert set(STEPS) == set(SCHOOLS.slugs)
    assert all(STEPS[slug] for slug in SCHOOLS.slugs)


@pytest.mark.parametrize("slug, index", STEP_CASES, ids=[f"{s}-{i + 1}" for s, i in STEP_CASES])
def test_quote_is_verbatim_in_that_schools_policy(slug: str, index: int) -> None:
    step = STEPS[slug][index]
    assert normalise(step.quote) in normalise(policy_text(slug)), (
        f"{slug} step {index + 1}: quote not found verbatim in {SCHOOLS.get(slug).policy_file}: {step.quote!r}")


@pytest.mark.parametrize("slug, index", STEP_CASES, ids=[f"{s}-{i + 1}" for s, i in STEP_CASES])
def test_quote_sits_under_the_section_it_cites(slug: str, index: int) -> None:
    step = STEPS[slug][index]
    source = policy_text(slug)
    assert normalise(step.section) in lines_of(source), f"{slug} step {index + 1}: no line reads {step.section!r}"
    # Measured in the normalised text, where both the heading and the quote can be found.
    flat = normalise(source)
    quote_at = [m.start() for m in re.finditer(re.escape(normalise(step.quote)), flat)]
    heading_at = [m.start() for m in re.finditer(re.escape(normalise(step.section)), flat)]
    assert any(0 < q - h <= MAX_SECTION_CHARS for q in quote_at for h in heading_at), (
        f"{slug} step {index + 1}: quote is not within {MAX_SECTION_CHARS} characters below {step.section!r}")


def test_checker_rejects_a_quote_that_is_not_there() -> None:
    """The verbatim check must fail on a paraphrase, or it would pass anything."""
    real = "Any suspected online risk or infringement is reported to Online Safety Coordinator that day."
    paraphrase = "Any suspected online risk is reported to the Online Safety Coordinator the same day."
    assert normalise(real) in normalise(policy_text("ouston"))
    assert normalise(paraphrase) not in normalise(policy_text("ouston"))


@pytest.mark.parametrize("slug", sorted(STEPS))
def test_step_texts_render_and_claim_nothing(slug: str) -> None:
    profile = SCHOOLS.get(slug)
    for step in STEPS[slug]:
        text = step.render(profile)
        assert "{" not in text and "}" not in text, text
        assert not CLAIMS.search(text) and not SECRECY.search(text), text
        assert not SECRECY.search(step.quote), step.quote
        assert step.categories <= set(CATEGORIES)


def test_steps_are_chosen_by_category() -> None:
    rolvenden = SCHOOLS.get("rolvenden")
    sexting = {s.quote for s in staff_steps_for(rolvenden, "online_sexual")}
    assert "Store the device securely" in sexting
    assert "Store the device securely" not in {s.quote for s in staff_steps_for(rolvenden, "bullying")}
    assert staff_steps_for(SCHOOLS.get("kingsmeadow"), "neglect") == ()


def test_placeholders_come_from_the_profile() -> None:
    step = STEPS["kingsmeadow"][0]
    assert "Lewis Thompson" in step.render(SCHOOLS.get("kingsmeadow"))


def test_unknown_category_is_an_exact_error() -> None:
    with pytest.raises(ValueError, match="unknown category 'hacking'; known: self_harm"):
        staff_steps_for(SCHOOLS.get("kingsmeadow"), "hacking")


def test_general_steps_for_visitors_and_categories() -> None:
    visitor = general_steps_for("visitor", "bullying")
    assert visitor[0].startswith("As a visitor")
    assert not any(s.startswith("As a visitor") for s in general_steps_for("staff", "bullying"))
    assert any("0800 028 0285" in s for s in general_steps_for("staff", "staff_conduct"))
    assert not any("0800 028 0285" in s for s in general_steps_for("staff", "bullying"))


def test_the_all_group_names_every_category() -> None:
    """A category added to bot/safeguarding/types.py must not silently miss the steps every concern gets."""
    raw = yaml.safe_load((DATA / "safeguarding" / "staff_steps.yml").read_text(encoding="utf-8"))
    assert set(raw["groups"]["all"]) == set(CATEGORIES)


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("role", ["staff", "governor", "visitor"])
def test_general_steps_claim_nothing_and_promise_no_secrecy(role: str, category: str) -> None:
    steps = general_steps_for(role, category)
    assert steps
    for step in steps:
        assert not CLAIMS.search(step) and not SECRECY.search(step) and "?" not in step, step


def test_teachers_report_fgm_to_the_police_themselves() -> None:
    """The FGM mandatory reporting duty (FGM Act 2003 s.5B, KCSIE) is personal to teachers: it comes first for
    staff, and only for staff and honour-based abuse."""
    staff = general_steps_for("staff", "honour_based_abuse")
    assert "police yourself by calling 101" in staff[0] and "Never examine a child" in staff[0]
    assert any("forced marriage" in s and "Don't speak to the family" in s for s in staff)
    for role in ("governor", "visitor"):
        steps = general_steps_for(role, "honour_based_abuse")
        assert not any("101" in s for s in steps) and any("forced marriage" in s for s in steps)
    assert not any("FGM" in s for s in general_steps_for("staff", "sexual_abuse"))


def test_domestic_abuse_steps_name_the_child_a_victim_and_operation_encompass_for_staff() -> None:
    staff = general_steps_for("staff", "domestic_abuse")
    assert "victim of it in their own right" in staff[0]
    assert any("Operation Encompass" in s for s in staff)
    assert not any("Operation Encompass" in s for s in general_steps_for("governor", "domestic_abuse"))
    assert not any("domestic abuse" in s for s in general_steps_for("staff", "emotional_abuse"))


# --- loader errors ----------------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "staff_steps.yml"
    path.write_text(text, encoding="utf-8")
    return path


STEP = '    - {text: "Tell {dsl}.", quote: "q", section: "s", categories: [%s]}\n'


def test_missing_file_means_no_school_steps(tmp_path: Path) -> None:
    assert load_staff_steps(tmp_path / "absent.yml") == {}


def test_groups_expand(tmp_path: Path) -> None:
    path = _write(tmp_path, "groups:\n  g: [bullying, neglect]\nschools:\n  a:\n" + STEP % "g, self_harm")
    assert load_staff_steps(path)["a"][0].categories == {"bullying", "neglect", "self_harm"}


@pytest.mark.parametrize("text, message", [
    ("schools: [1, 2]\n", "must contain a 'schools:' mapping"),
    ("schools:\n  a:\n    - text: x\n", "school 'a' step 1 is missing quote, section, categories"),
    ("schools:\n  a:\n" + STEP % "hacking", "unknown category or group 'hacking'"),
    ("groups:\n  g: [hacking]\nschools: {}\n", "group 'g' has unknown categories"),
    ('schools:\n  a:\n    - {text: "Tell {head}.", quote: q, section: s, categories: [bullying]}\n',
     r"unknown placeholders \['head'\]"),
    ("schools:\n  a: [\n", "is not valid YAML"),
])
def test_malformed_files_are_exact_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_staff_steps(_write(tmp_path, text))
