"""The five schools' induction steps (data/induction/<slug>.yml): every quote is really in that school's own
policy, under the section the passages give it, and in no other school's; each role gets a short, right-sized plan;
the DSL step follows the profile and the policy. One named test per step, so a bad edit names the step it broke."""

from __future__ import annotations

import html
import re
from functools import lru_cache

import pytest

from bot import settings
from bot.induction import flow
from bot.induction.plans import MAX_STEPS, SchoolInduction, induction_dir, load_school_induction
from bot.induction.roles import ROLES
from bot.qa.ingest import PolicyPassage, ingest
from bot.schools import SchoolDirectory

DATA = settings.PROJECT_ROOT / "data"
SCHOOLS = SchoolDirectory.load(DATA / "schools.yml")
INDUCTIONS: dict[str, SchoolInduction] = {slug: load_school_induction(slug, schools=SCHOOLS,
                                                                      path=DATA / "induction" / f"{slug}.yml")
                                          for slug in SCHOOLS.slugs}
STEP_CASES = [(slug, step.id) for slug, induction in INDUCTIONS.items() for step in induction.steps]
STEP_IDS = [f"{slug}-{step_id}" for slug, step_id in STEP_CASES]
OTHER_ROLES = ("volunteer", "governor", "contractor")


def flat(text: str) -> str:
    """Written apart from the loader on purpose: tags, entities and * emphasis removed, whitespace collapsed."""
    text = html.unescape(re.sub(r"<[^>]+>", "", text)).replace("*", "")
    return re.sub(r"\s+", " ", text).strip()


def source(slug: str) -> str:
    return (DATA / "policies" / SCHOOLS.get(slug).policy_file).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def passages(slug: str) -> tuple[PolicyPassage, ...]:
    return tuple(ingest(slug, source(slug)))


def step(slug: str, step_id: str):  # type: ignore[no-untyped-def]
    return next(s for s in INDUCTIONS[slug].steps if s.id == step_id)


def test_the_repository_folder_is_the_default_and_holds_one_file_per_school() -> None:
    assert induction_dir() == DATA / "induction"
    assert sorted(p.stem for p in (DATA / "induction").glob("*.yml")) == SCHOOLS.slugs


@pytest.mark.parametrize("slug, step_id", STEP_CASES, ids=STEP_IDS)
def test_quote_is_verbatim_in_that_schools_policy(slug: str, step_id: str) -> None:
    quote = step(slug, step_id).quote
    assert flat(quote) in flat(source(slug)), (
        f"{slug} step '{step_id}': quote not found verbatim in {SCHOOLS.get(slug).policy_file}: {quote!r}")


@pytest.mark.parametrize("slug, step_id", STEP_CASES, ids=STEP_IDS)
def test_quote_offsets_point_at_the_quote_in_the_file(slug: str, step_id: str) -> None:
    found = step(slug, step_id)
    assert flat(source(slug)[found.start:found.end]) == flat(found.quote)


def passage_paths(slug: str, offset: int) -> list[tuple[str, ...]]:
    """The heading paths of the passages that hold character `offset` of the school's policy file."""
    return [p.section for p in passages(slug) if p.start <= offset < p.end]


@pytest.mark.parametrize("slug, step_id", STEP_CASES, ids=STEP_IDS)
def test_section_is_a_heading_the_passages_give_the_quote(slug: str, step_id: str) -> None:
    """The citation names the section the way answers do: a heading on the path of the passage holding the quote."""
    found = step(slug, step_id)
    paths = passage_paths(slug, found.start)
    assert paths, f"{slug} step '{step_id}': no passage holds the quote"
    assert any(found.section in path for path in paths), (
        f"{slug} step '{step_id}': section {found.section!r} is not on the passage's path {paths}")


def test_the_checks_reject_a_paraphrase_and_a_heading_the_passages_do_not_use() -> None:
    """Controls: the verbatim check fails on a paraphrase, and the section check fails on a line that looks like a
    heading (the loader accepts it) but that the passages fold into the section above it."""
    real = "The Online Safety Coordinator is the first point of contact in an online safety incident"
    assert flat(real) in flat(source("kingsmeadow"))
    assert flat(real.replace("first point", "main point")) not in flat(source("kingsmeadow"))
    dsl = step("kingsmeadow", "dsl")
    paths = passage_paths("kingsmeadow", dsl.start)
    assert not any("Reviewing and evaluating Online Safety and ensuring good practice" in path for path in paths)
    assert any("Online Safety Policy scope" in path for path in paths)


@pytest.mark.parametrize("slug, step_id", STEP_CASES, ids=STEP_IDS)
def test_quote_is_in_no_other_schools_policy(slug: str, step_id: str) -> None:
    """Each school's plan cites its own policy: a quote that some other policy also holds would not show it."""
    quote = flat(step(slug, step_id).quote)
    others = [other for other in SCHOOLS.slugs if other != slug and quote in flat(source(other))]
    assert not others, f"{slug} step '{step_id}': the quote is also in {others}; quote a span only {slug} has"


@pytest.mark.parametrize("slug", SCHOOLS.slugs)
def test_each_role_gets_a_right_sized_plan(slug: str) -> None:
    induction = INDUCTIONS[slug]
    sizes = {role: len(induction.plan(role)) for role in ROLES}
    for role in ("teacher", "support_staff"):
        assert 5 <= sizes[role] <= MAX_STEPS, sizes
    for role in OTHER_ROLES:
        assert 3 <= sizes[role] < min(sizes["teacher"], sizes["support_staff"]), sizes


@pytest.mark.parametrize("slug", SCHOOLS.slugs)
def test_texts_are_filled_short_and_one_sentence(slug: str) -> None:
    for found in INDUCTIONS[slug].steps:
        texts = [found.title, found.lead_in, found.check.question, *(o.text for o in found.check.options)]
        assert not any("{" in t or "}" in t for t in texts), texts
        assert not re.search(r"[.!?] +[A-Z]", found.lead_in), f"{found.id}: lead-in is more than one sentence"
        assert found.lead_in.endswith("."), found.id
        assert len(found.quote) <= 400, found.id


@pytest.mark.parametrize("slug", SCHOOLS.slugs)
def test_the_right_answer_is_not_always_in_the_same_place(slug: str) -> None:
    keys = {found.check.correct.key for found in INDUCTIONS[slug].steps}
    assert len(keys) >= 2, f"{slug}: every correct answer is option {keys}"


@pytest.mark.parametrize("slug", SCHOOLS.slugs)
def test_the_dsl_step_follows_the_profile_and_the_policy(slug: str) -> None:
    """A school whose policy names the DSL role gets a DSL step for every role, with the profile's names when it
    has them; a policy that never mentions a DSL gets no such step (nothing is invented)."""
    profile, policy = SCHOOLS.get(slug), flat(source(slug))
    mentions = "Designated Safeguarding Lead" in policy or "Designated Child Protection Lead" in policy
    for role in ROLES:
        dsl = [s for s in INDUCTIONS[slug].plan(role).steps if s.id == "dsl"]
        assert bool(dsl) == mentions, (slug, role)
        if dsl and profile.dsl:
            for name in profile.dsl:
                assert name in dsl[0].quote and name in dsl[0].lead_in and name in dsl[0].check.correct.text
        elif dsl:
            assert "not a name" in dsl[0].lead_in, "say the policy gives the role but no name"


@pytest.mark.parametrize("slug, role", [(s, r) for s in SCHOOLS.slugs for r in ROLES],
                         ids=[f"{s}-{r}" for s in SCHOOLS.slugs for r in ROLES])
def test_every_plan_runs_to_completion(slug: str, role: str) -> None:
    plan = INDUCTIONS[slug].plan(role)
    progress = flow.start(slug, role, plan=plan)
    while (current := flow.current_step(progress, plan)) is not None:
        progress, feedback = flow.answer(progress, current.check.correct.key, plan=plan)
        assert feedback.correct
    done = flow.acknowledge(progress, plan=plan)
    assert (done.status, done.score, done.total) == ("complete", len(plan), len(plan))
    assert SCHOOLS.get(slug).name in done.acknowledgement
