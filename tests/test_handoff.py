"""The DSL hand-off reply: a checklist over every school x role x urgency x category x recorded, plus the safe
signposting fallback and the report-a-concern form wording."""

from __future__ import annotations

import itertools
import re

import pytest

from bot import settings
from bot.safeguarding.handoff import (
    CHILDLINE_NUMBER,
    OPEN_INVITATION,
    REPORT_FORM_KEYS,
    SAFE_SIGNPOSTING,
    SAFE_SIGNPOSTING_MESSAGES,
    Handoff,
    compose_handoff,
    report_form_prompts,
    safe_signposting,
    staff_steps_for,
)
from bot.safeguarding.types import CEOP_CATEGORIES, ScreenResult
from bot.schools import SchoolDirectory, SchoolProfile

# Read from the repository, not from POLICYBOT_DATA_DIR, so the checklist always covers the real schools.
SCHOOLS = SchoolDirectory.load(settings.PROJECT_ROOT / "data" / "schools.yml")
ROLES = ("pupil", "parent", "staff", "governor", "visitor", None)
#: (label, urgency): the three disclosure urgencies and a concern.
SCENARIOS = (("disclosure", "immediate"), ("disclosure", "high"), ("disclosure", "standard"),
             ("concern", "standard"))
#: One CEOP category, one that isn't, self-harm (its own helplines), and the two whose general steps for adults
#: change who to tell (domestic abuse: Operation Encompass; honour-based abuse: the FGM reporting duty).
CATEGORIES = ("online_sexual", "bullying", "self_harm", "domestic_abuse", "honour_based_abuse")

#: Any of these is a promise of secrecy, which KCSIE says never to make; the reply never uses the words at all.
SECRECY = [re.compile(p, re.I) for p in (
    r"\bsecrets?\b", r"confidential", r"between (?:you and me|us)\b", r"\bwon'?t tell\b", r"\bwill not tell\b",
    r"\b(?:nobody|no one|no-one) (?:else )?will (?:know|find out)\b", r"\bpromis", r"\bonly (?:you and (?:I|me))\b",
    r"\bkeep (?:it|this) (?:to myself|private)\b", r"\bI won'?t (?:share|pass)\b",
)]
#: Words that claim the message reached someone. Never said when nothing was stored (policy quotes aside).
CLAIMS = re.compile(r"\b(?:recorded|passed|logged|saved|forwarded|stored|reference)\b|\bI(?: have|'ve) sent\b|"
                    r"\bwill (?:read|look at) it\b", re.I)
#: Leading questions: they suggest who or what, which can taint a child's account.
LEADING = [re.compile(p, re.I) for p in (
    r"\bdid (?:he|she|they|someone|somebody|anyone|your)\b", r"\bwas it (?:your|a|the|him|her)\b",
    r"\b(?:touch|hit|hurt|kiss)(?:ed)? you\b.*\?", r"\bhas (?:he|she|someone) (?:ever )?\w+ you\b",
    r"\bwas (?:he|she|it) \w+ing\b",
)]
#: The only questions any reply or form may ask: open, neutral, or the yes/no safety check.
OPEN_QUESTIONS = frozenset({
    "What happened?", "Who is involved?", "Who is it about?", "When and where did it happen?",
    "Is anyone in danger right now?", "Do you want to give your name?", "Do you want to tell me your name?",
    "Would you like to give your name and how the school can contact you?",
})
#: Words a 7-9 year old won't know; primary (and special school) pupils' replies use none of them.
JARGON = ("Designated Safeguarding Lead", "DSL", "safeguarding", "National Crime Agency", "confidential",
          "procedure", "disclosure", "signpost", "LADO")
MAX_SIMPLE_WORDS = 20

CASES = list(itertools.product(SCHOOLS.slugs, ROLES, SCENARIOS, CATEGORIES, (True, False)))


def _case_id(case) -> str:
    slug, role, (label, urgency), category, recorded = case
    scenario = "concern" if label == "concern" else urgency
    return f"{slug}-{role or 'none'}-{scenario}-{category}-{'recorded' if recorded else 'unrecorded'}"


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?:])\s+|\n+", text)
    return [p.strip(" •") for p in parts if p.strip(" •")]


def _without_policy_quotes(text: str) -> str:
    """The reply minus the verbatim policy quotes (in curly quotes), which may use words like 'recorded'."""
    return re.sub(r"“[^”]*”", "“…”", text)


def _is_simple(profile: SchoolProfile, role: str | None) -> bool:
    return role in ("pupil", None) and profile.phase in ("primary", "special")


def _reference(profile: SchoolProfile) -> str:
    return f"{profile.reference_prefix}-2026-0007"


def _checklist(profile: SchoolProfile, role: str | None, label: str, urgency: str, category: str,
               recorded: bool) -> list[str]:
    """Every rule the hand-off must keep; returns the broken ones, each saying what and where."""
    reference = _reference(profile)
    handoff = compose_handoff(profile, role, ScreenResult(label, urgency, category, 0.9),
                              reference if recorded else None, recorded=recorded)
    text = handoff.text
    own_words = _without_policy_quotes(text)
    pupil = role in ("pupil", None)
    adult_staff = role in ("staff", "governor", "visitor")
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)

    check(2 <= len(handoff.messages) <= 5, f"{len(handoff.messages)} bubbles")
    for pattern in SECRECY:
        check(not pattern.search(text), f"secrecy wording {pattern.pattern!r}")
    for name in profile.dsl:
        check(name in text, f"DSL {name} not named")
    if urgency == "immediate":
        first = _sentences(handoff.messages[0])[0]
        check("999" in first and "danger right now" in first, f"first sentence is not 999: {first!r}")
    if label == "disclosure" or not recorded:
        check("999" in text, "no 999")
    if pupil:
        check("Childline" in text and CHILDLINE_NUMBER in text, "pupil without Childline")
    if category in CEOP_CATEGORIES:
        check("ceop.police.uk" in text and "Report to CEOP" in text, "CEOP category without CEOP")
    else:
        check("ceop.police.uk" not in text, "CEOP signposted for a non-CEOP category")
    if category == "self_harm":
        older = not pupil or profile.phase != "primary"
        check(("116 123" in text) == older, "Samaritans for older pupils and adults only")
    if recorded:
        check(reference in text and handoff.reference == reference, "reference missing")
        check(re.search(r"\b(?:passed|sent your message)\b", own_words) is not None, "doesn't say it was passed on")
    else:
        check(handoff.reference is None and reference not in text, "reference given although nothing was stored")
        match = CLAIMS.search(own_words)
        check(match is None, f"claims it was stored or passed on: {match and match.group(0)!r}")
        check("today" in own_words, "doesn't ask them to tell someone today")
        if pupil:
            check("trust at school" in own_words, "doesn't say to tell a trusted adult at school")
        elif adult_staff:
            check("in person today" in own_words, "doesn't say to tell the DSL in person today")
        else:
            check(f"contact {profile.name} directly today" in own_words, "doesn't say to contact the school today")
    if pupil and label == "disclosure":
        check("not your fault" in text, "pupil disclosure without 'not your fault'")
    for sentence in _sentences(own_words):
        if "?" in sentence:
            check(sentence in OPEN_QUESTIONS, f"question not on the open list: {sentence!r}")
    for pattern in LEADING:
        check(not pattern.search(own_words), f"leading question {pattern.pattern!r}")
    if _is_simple(profile, role):
        for sentence in _sentences(text):
            check(len(sentence.split()) <= MAX_SIMPLE_WORDS, f"sentence too long for a young pupil: {sentence!r}")
        for word in JARGON:
            check(word.lower() not in text.lower(), f"jargon {word!r} for a young pupil")
    if role == "parent":
        check(profile.name in text, "parent reply doesn't name the school")
    if adult_staff:
        for step in staff_steps_for(profile, category):
            check(f"“{step.quote}”" in text, f"school step missing: {step.quote[:40]!r}")
        check("not from" in text and "General safeguarding guidance" in text,
              "general guidance not labelled as not the school's")
    markers = {"999": "999", "Childline": CHILDLINE_NUMBER, "Samaritans": "116 123", "CEOP": "ceop.police.uk"}
    for name, marker in markers.items():
        check((name in handoff.signposts) == (marker in text), f"signposts {handoff.signposts} vs text for {name}")
    if recorded and label == "disclosure" and pupil:
        check(OPEN_INVITATION in text, "no open invitation to say more")
    if not recorded:
        check(OPEN_INVITATION not in text, "invites more detail although nothing is being stored")
    return failures


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_handoff_checklist(case) -> None:
    slug, role, (label, urgency), category, recorded = case
    failures = _checklist(SCHOOLS.get(slug), role, label, urgency, category, recorded)
    assert not failures, "\n".join(failures)


def _handoff(slug: str, role: str | None, label: str, urgency: str, category: str, recorded: bool = True) -> Handoff:
    profile = SCHOOLS.get(slug)
    return compose_handoff(profile, role, ScreenResult(label, urgency, category, 0.9),
                           _reference(profile) if recorded else None, recorded=recorded)


def test_checker_catches_a_secrecy_promise_and_a_leading_question() -> None:
    """The checklist's own patterns must fire on the things they exist to stop."""
    assert any(p.search("I won't tell anyone, it's just between us.") for p in SECRECY)
    assert any(p.search("Did he touch you?") for p in LEADING)
    assert CLAIMS.search("I have passed this to the DSL.")
    assert not CLAIMS.search("Your message has not reached anyone at school yet.")


def test_named_dsl_reads_as_the_brief_asks() -> None:
    text = _handoff("kingsmeadow", "parent", "disclosure", "high", "bullying").text
    assert "Claire Richardson, the Designated Safeguarding Lead" in text


def test_unnamed_dsl_is_the_schools_dsl() -> None:
    text = _handoff("ken-stimpson", "parent", "disclosure", "high", "bullying").text
    assert "the school's Designated Safeguarding Lead" in text


def test_primary_pupils_get_the_role_explained_not_named() -> None:
    text = _handoff("ouston", "pupil", "disclosure", "high", "bullying").text
    assert "the person at school whose job is to keep children safe" in text


@pytest.mark.parametrize("slug, expected", [
    ("kingsmeadow", "Lewis Thompson, the school's online safety lead"),
    ("ken-stimpson", "the school's online safety lead"),
])
def test_online_safety_concern_also_goes_to_the_online_safety_lead(slug: str, expected: str) -> None:
    text = _handoff(slug, "parent", "concern", "standard", "online_safety").text
    assert expected in text


@pytest.mark.parametrize("slug", ["rolvenden", "wyre-forest", "ouston"])
def test_online_safety_lead_who_is_the_dsl_is_not_named_twice(slug: str) -> None:
    text = _handoff(slug, "parent", "concern", "standard", "online_safety").text
    assert "online safety lead" not in text


def test_unknown_role_is_an_exact_error() -> None:
    with pytest.raises(ValueError, match=r"unknown role 'x'; known: pupil, staff"):
        _handoff("kingsmeadow", "x", "disclosure", "high", "bullying")


def test_everyday_role_words_work() -> None:
    assert "Childline" in _handoff("kingsmeadow", "student", "disclosure", "high", "bullying").text


@pytest.mark.parametrize("label", ["question", "other"])
def test_only_disclosures_and_concerns_are_handed_off(label: str) -> None:
    with pytest.raises(ValueError, match=f"only disclosures and concerns are handed off; got label '{label}'"):
        _handoff("kingsmeadow", "pupil", label, "none", "other")


def test_a_disclosure_without_urgency_is_still_handed_off() -> None:
    handoff = _handoff("kingsmeadow", "pupil", "disclosure", "none", "bullying")
    assert "not your fault" in handoff.text and handoff.reference == "KMS-2026-0007"


def test_reference_is_ignored_when_nothing_was_stored() -> None:
    profile = SCHOOLS.get("kingsmeadow")
    handoff = compose_handoff(profile, "pupil", ScreenResult("disclosure", "high", "bullying", 0.9), "KMS-2026-0001",
                              recorded=False)
    assert handoff.reference is None and "KMS-2026-0001" not in handoff.text


def test_handoff_needs_two_to_five_bubbles() -> None:
    with pytest.raises(ValueError, match="2 to 5 messages"):
        Handoff(messages=("only one",), reference=None, signposts=())


def test_staff_get_their_schools_steps_with_section_and_quote() -> None:
    text = _handoff("rolvenden", "staff", "disclosure", "high", "online_sexual").text
    assert "What Rolvenden Primary School's Online Safety Policy" in text
    assert "9.1 Responding to concerns regarding Youth Produced Sexual Imagery" in text
    assert "“Store the device securely”" in text


def test_staff_are_told_when_the_policy_is_silent() -> None:
    text = _handoff("kingsmeadow", "staff", "disclosure", "high", "physical_abuse").text
    assert "doesn't set out steps for this kind of concern" in text and "Claire Richardson" in text


def test_staff_conduct_concerns_point_to_the_headteacher() -> None:
    text = _handoff("ouston", "staff", "disclosure", "high", "staff_conduct").text
    assert "referred directly to the Head teacher" in text
    assert "chair of governors" in text and "0800 028 0285" in text


def _general_guidance(text: str) -> str:
    """The general-guidance bubble of a staff reply (the school's own steps come before it)."""
    return text[text.index("General safeguarding guidance"):]


def test_staff_are_told_of_the_fgm_reporting_duty_as_general_guidance() -> None:
    text = _handoff("rolvenden", "staff", "disclosure", "high", "honour_based_abuse").text
    general = _general_guidance(text)
    assert "report it to the police yourself by calling 101" in general and "Never examine a child" in general
    assert "Don't speak to the family" in general
    # Rolvenden's one step for every category is quoted as the school's, apart from the general guidance.
    assert "“Identifying individuals of concern" in text.split("General safeguarding guidance")[0]


@pytest.mark.parametrize("role", ["governor", "visitor"])
def test_only_staff_get_the_teachers_fgm_duty(role: str) -> None:
    general = _general_guidance(_handoff("kingsmeadow", role, "concern", "standard", "honour_based_abuse").text)
    assert "101" not in general and "forced marriage" in general


def test_staff_hear_of_operation_encompass_for_domestic_abuse() -> None:
    general = _general_guidance(_handoff("ouston", "staff", "disclosure", "high", "domestic_abuse").text)
    assert "victim of it in their own right" in general and "Operation Encompass" in general
    assert "Operation Encompass" not in _handoff("ouston", "staff", "disclosure", "high", "neglect").text


def test_every_role_has_an_audience() -> None:
    """The hand-off speaks to every role in the one vocabulary (bot/core/roles.py), so none can fall through."""
    from bot.core.roles import ROLES as ALL_ROLES
    from bot.safeguarding.handoff.wording import _AUDIENCE
    assert set(_AUDIENCE) == set(ALL_ROLES)


# --- safe signposting -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [*ROLES, "any"])
def test_safe_signposting_is_safe_for_everyone(role: str | None) -> None:
    messages = safe_signposting(role)
    text = " ".join(messages)
    assert messages[0].startswith("If") and "999" in _sentences(messages[0])[0]
    assert "today" in text and "school" in text
    assert "Childline" in text and CHILDLINE_NUMBER in text
    assert not CLAIMS.search(text)
    assert not any(p.search(text) for p in SECRECY)
    assert "?" not in text


def test_safe_signposting_for_children_tells_them_to_tell_a_trusted_adult() -> None:
    assert "adult you trust at school today" in " ".join(safe_signposting("pupil"))
    assert safe_signposting(None) == SAFE_SIGNPOSTING_MESSAGES


def test_safe_signposting_text_needs_no_profiles() -> None:
    assert SAFE_SIGNPOSTING.startswith("If you are in danger right now, call 999.")
    assert CHILDLINE_NUMBER in SAFE_SIGNPOSTING and not CLAIMS.search(SAFE_SIGNPOSTING)


def test_safe_signposting_rejects_unknown_roles() -> None:
    with pytest.raises(ValueError, match="unknown role 'alien'"):
        safe_signposting("alien")


# --- report-a-concern form ------------------------------------------------------------------------------------

FORM_CASES = list(itertools.product(SCHOOLS.slugs, ROLES))


@pytest.mark.parametrize("slug, role", FORM_CASES, ids=[f"{s}-{r or 'none'}" for s, r in FORM_CASES])
def test_report_form_prompts(slug: str, role: str | None) -> None:
    profile = SCHOOLS.get(slug)
    prompts = report_form_prompts(profile, role)
    assert tuple(prompts) == REPORT_FORM_KEYS
    text = " ".join(prompts.values())
    for sentence in _sentences(text):
        if "?" in sentence:
            assert sentence in OPEN_QUESTIONS, sentence
    assert not any(p.search(text) for p in LEADING)
    assert not any(p.search(text) for p in SECRECY)
    assert "own words" in prompts["what_happened"]
    assert "skip" in prompts["who_involved"]
    assert "yes or no" in prompts["danger_now"] and "999" in prompts["danger_now_yes"]
    assert "'stop'" in prompts["cancel_hint"] and "'stop'" in prompts["intro"]
    for name in profile.dsl:
        assert name in prompts["intro"]
    # Honest before they write: who reads it, and that it may be shared.
    assert re.search(r"\b(?:share|tell other)\b", prompts["intro"])
    if role in ("pupil", None):
        assert "don't have to" in prompts["give_name"]
        assert "may still need to act" in prompts["give_name"] and re.search(r"\b(?:share|tell)\b",
                                                                            prompts["give_name"])
    if _is_simple(profile, role):
        for sentence in _sentences(text):
            assert len(sentence.split()) <= MAX_SIMPLE_WORDS, sentence
        assert not any(word.lower() in text.lower() for word in JARGON)


# ------------------------------------------------------------------------------------------------ allegations
@pytest.mark.parametrize("profile", list(SCHOOLS), ids=lambda p: p.slug)
@pytest.mark.parametrize("role", ("pupil", "parent", "staff"))
def test_a_routed_allegation_about_staff_names_the_headteacher_not_the_dsl(profile: SchoolProfile,
                                                                          role: str) -> None:
    """KCSIE part 4: where the school sends allegations about adults to its headteacher, the reply says so, and
    says nothing that suggests the DSL list got it."""
    result = ScreenResult("disclosure", "high", "staff_conduct", 0.9)
    reply = compose_handoff(profile, role, result, "KMS-2026-0009", recorded=True, allegation_route=True)
    text = "\n".join(reply.messages)
    passed = next(line for line in re.split(r"(?<=[.!?])\s+", text) if re.search(r"passed|sent your", line))
    assert (profile.headteacher or "head") in passed.replace("Headteacher", "head").replace("headteacher", "head")
    for name in set(profile.dsl) - {profile.headteacher}:  # at a small school the head may be a DSL too
        assert name not in passed
    assert not any(pattern.search(text) for pattern in SECRECY + LEADING)
    if role == "staff":
        assert "part 4" in text and "chair of governors" in text and "LADO" in text
        assert "Don't discuss it with the person it is about" in text
    if role == "pupil" and profile.phase == "primary":
        assert not [word for word in JARGON if word in text]


def test_an_unrouted_allegation_still_tells_staff_to_go_to_the_headteacher() -> None:
    profile = SCHOOLS.get("kingsmeadow")
    result = ScreenResult("concern", "standard", "staff_conduct", 0.9)
    text = "\n".join(compose_handoff(profile, "staff", result, "KMS-2026-0010", recorded=True).messages)
    assert "I have passed it to" in text and "also tell the headteacher today" in text
    assert "don't discuss it with the person concerned" in text


def test_the_routing_flag_changes_nothing_for_other_categories() -> None:
    profile = SCHOOLS.get("kingsmeadow")
    result = ScreenResult("disclosure", "high", "physical_abuse", 0.9)
    assert compose_handoff(profile, "staff", result, "R-1", recorded=True, allegation_route=True) == \
        compose_handoff(profile, "staff", result, "R-1", recorded=True)
