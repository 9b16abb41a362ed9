"""Per-school retrieval and its indexes, with the fake embedder and the tiny two-school data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.core.embedder import FakeEmbedder
from bot.qa.index import IndexNotReady, IndexStore
from bot.qa.ingest import ingest
from bot.core.roles import ROLES, canonical_role
from bot.qa.retrieval import Retriever
from bot.schools import SchoolDirectory
from conftest import ALDER_POLICY, BIRCH_POLICY, write_data_dir

PUPIL_ROW = "Students/pupils — use of mobile phones in lessons: allowed at certain times"
STAFF_ROW = "Staff & other adults — use of mobile phones in lessons: allowed at certain times"

#: The same row ticked alike for both groups, so only the asker's role can tell the two statements apart.
MATRIX_POLICY = (
    "## Mobile phones\n"
    "\n"
    "Communication Technologies\tStaff & other adults\t\tStudents / Pupils\t\n"
    "\tAllowed\tAllowed at certain times\tAllowed\tAllowed at certain times\n"
    "Use of mobile phones in lessons\t\t✓\t\t✓\n"
)


@pytest.fixture
def matrix_retriever(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Retriever:
    """Alder's policy is only the staff/pupil tick matrix above; Birch's is unchanged."""
    root = write_data_dir(tmp_path / "matrix", {"alder.txt": MATRIX_POLICY, "birch.txt": BIRCH_POLICY})
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(root))
    return Retriever(SchoolDirectory.load(root / "schools.yml"), IndexStore(tmp_path / "matrix-index"),
                     FakeEmbedder())


# ---------------------------------------------------------------------------------------------- retrieval


def test_retrieve_returns_the_matching_passage_of_the_school_first(retriever: Retriever) -> None:
    """A question in the policy's own words finds that passage, with its section and source offsets."""
    hits = retriever.retrieve("alder", "how often must passwords be changed?", "any", k=3)
    assert hits[0].text == "Passwords must be kept private and changed every term."
    assert hits[0].section == "2. Passwords"
    assert ALDER_POLICY[hits[0].start:hits[0].end] == hits[0].text
    assert len(hits) == 3


def test_retrieve_returns_at_most_k_hits_best_first(retriever: Retriever) -> None:
    """k caps the hits, and fused scores never increase down the list."""
    hits = retriever.retrieve("alder", "mobile phones", "any", k=2)
    assert len(hits) == 2
    assert hits[0].score >= hits[1].score


def test_blank_question_retrieves_nothing(retriever: Retriever) -> None:
    """A whitespace-only question returns no hits rather than arbitrary passages."""
    assert retriever.retrieve("alder", "   ", "any") == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(max_size=120), school=st.sampled_from(["alder", "birch"]), role=st.sampled_from(ROLES))
def test_retrieve_never_returns_another_schools_passage(retriever: Retriever, question: str, school: str,
                                                        role: str) -> None:
    """Whatever the question and role, every hit is one of the asked school's own passages."""
    own = {p.id for p in retriever.index_for(school).passages}
    source = {"alder": ALDER_POLICY, "birch": BIRCH_POLICY}[school]
    for hit in retriever.retrieve(school, question, role, k=10):
        assert hit.school == school
        assert hit.passage.id in own
        assert 0 <= hit.start < hit.end <= len(source)


@pytest.mark.parametrize("question", ["phones", "social media", "passwords", "image without consent"])
def test_shared_topics_only_cite_the_asked_school(retriever: Retriever, question: str) -> None:
    """A topic both policies mention is answered from the asked school's text only."""
    for school, source in (("alder", ALDER_POLICY), ("birch", BIRCH_POLICY)):
        hits = retriever.retrieve(school, question, "any", k=10)
        assert hits
        assert {h.school for h in hits} == {school}
        for hit in hits:
            assert source[hit.start:hit.end]


def test_pupil_role_ranks_the_pupil_statement_of_a_table_row_first(matrix_retriever: Retriever) -> None:
    """Asked as a pupil, the pupils' column group of the phone row comes before the staff one."""
    hits = matrix_retriever.retrieve("alder", "can I use my mobile phone in lessons?", "pupil", k=2)
    assert [h.text for h in hits] == [PUPIL_ROW, STAFF_ROW]
    assert hits[0].passage.audience == frozenset({"pupil"})


def test_staff_role_ranks_the_staff_statement_of_a_table_row_first(matrix_retriever: Retriever) -> None:
    """Asked as staff, the staff column group of the same row comes first."""
    hits = matrix_retriever.retrieve("alder", "can I use my mobile phone in lessons?", "staff", k=2)
    assert [h.text for h in hits] == [STAFF_ROW, PUPIL_ROW]
    assert hits[0].passage.audience == frozenset({"staff"})


def test_role_aliases_rank_like_their_role(matrix_retriever: Retriever) -> None:
    """'student' ranks like 'pupil', 'teacher' like 'staff', and a parent gets the pupils' rule first."""
    question = "can I use my mobile phone in lessons?"
    assert matrix_retriever.retrieve("alder", question, "parent", k=1)[0].text == PUPIL_ROW
    assert matrix_retriever.retrieve("alder", question, "student", k=1)[0].text == PUPIL_ROW
    assert matrix_retriever.retrieve("alder", question, "teacher", k=1)[0].text == STAFF_ROW


@pytest.mark.parametrize(("given_role", "role"), [("Student", "pupil"), (" TA ", "staff"), ("carer", "parent"),
                                                  (None, "any"), ("", "any"), ("governor", "governor")])
def test_role_words_map_to_canonical_roles(given_role: str | None, role: str) -> None:
    """User-facing role words (any case, padded) map to the roles passages are tagged with."""
    assert canonical_role(given_role) == role


def test_unknown_role_is_rejected_with_the_known_roles(retriever: Retriever) -> None:
    """An unknown role raises ValueError naming it and listing the roles."""
    with pytest.raises(ValueError, match=re.escape(
            "unknown role 'janitor'; known: pupil, staff, parent, governor, visitor, any")):
        retriever.retrieve("alder", "phones", "janitor")


def test_unknown_school_is_rejected_by_retrieve(retriever: Retriever) -> None:
    """Retrieving for a slug that is not in the directory raises the directory's ValueError."""
    with pytest.raises(ValueError, match=re.escape("unknown school 'oak'; known: alder, birch")):
        retriever.retrieve("oak", "phones")


def test_auto_build_rebuilds_a_missing_index_transparently(retriever: Retriever, store: IndexStore,
                                                           embedder: FakeEmbedder) -> None:
    """With auto_build=True a missing index is built on first use, saved, and the question answered."""
    profile = retriever.schools.get("birch")
    assert store.status(profile, embedder) == "missing"
    hits = retriever.retrieve("birch", "can students use phones at lunchtime?", "pupil", k=1)
    assert hits[0].text == "Students may use their phones at lunchtime in the canteen only."
    assert store.status(profile, embedder) == "ok"
    assert store.status(retriever.schools.get("alder"), embedder) == "missing"


def test_without_auto_build_a_missing_index_raises(schools: SchoolDirectory, store: IndexStore,
                                                   embedder: FakeEmbedder) -> None:
    """With auto_build=False the retriever reports a missing index instead of building it."""
    strict = Retriever(schools, store, embedder, auto_build=False)
    with pytest.raises(IndexNotReady, match="'alder'"):
        strict.retrieve("alder", "phones")


# ---------------------------------------------------------------------------------------------- index store


def test_status_is_missing_before_build_and_ok_after(schools: SchoolDirectory, store: IndexStore,
                                                     embedder: FakeEmbedder) -> None:
    """An index that was never built is 'missing'; a fresh build is 'ok'."""
    alder = schools.get("alder")
    assert store.status(alder, embedder) == "missing"
    store.build(alder, embedder)
    assert store.status(alder, embedder) == "ok"


def test_changed_policy_makes_the_index_stale(schools: SchoolDirectory, store: IndexStore, embedder: FakeEmbedder,
                                              data_dir: Path) -> None:
    """Editing the policy file after a build is reported as 'stale: ...' naming the policy hash."""
    alder = schools.get("alder")
    store.build(alder, embedder)
    (data_dir / "policies" / "alder.txt").write_text(ALDER_POLICY + "\nPhones are charged in class.\n",
                                                     encoding="utf-8")
    state = store.status(alder, embedder)
    assert state.startswith("stale")
    assert "policy_sha256" in state


def test_different_embedding_model_makes_the_index_stale(schools: SchoolDirectory, store: IndexStore,
                                                         embedder: FakeEmbedder) -> None:
    """An index built with one embedder is stale for another, naming the model."""
    alder = schools.get("alder")
    store.build(alder, embedder)
    state = store.status(alder, FakeEmbedder(dim=64))
    assert state.startswith("stale")
    assert "model" in state


def test_loading_a_missing_index_names_the_school(schools: SchoolDirectory, store: IndexStore,
                                                  embedder: FakeEmbedder) -> None:
    """load() of a never-built index raises IndexNotReady with the slug and 'missing'."""
    with pytest.raises(IndexNotReady, match=re.escape("index for school 'birch' is missing")):
        store.load(schools.get("birch"), embedder)


def test_loading_a_stale_index_raises(schools: SchoolDirectory, store: IndexStore, embedder: FakeEmbedder,
                                      data_dir: Path) -> None:
    """load() never silently uses a stale index."""
    birch = schools.get("birch")
    store.build(birch, embedder)
    (data_dir / "policies" / "birch.txt").write_text(BIRCH_POLICY + "\nNew rule.\n", encoding="utf-8")
    with pytest.raises(IndexNotReady, match=r"index for school 'birch' is stale"):
        store.load(birch, embedder)


def test_saved_index_loads_the_same_passages(schools: SchoolDirectory, store: IndexStore,
                                             embedder: FakeEmbedder) -> None:
    """A built index reloads with identical passages and a manifest that counts them."""
    built = store.build(schools.get("birch"), embedder)
    loaded = store.load(schools.get("birch"), embedder)
    assert loaded.passages == built.passages == ingest("birch", BIRCH_POLICY)
    assert loaded.manifest["passages"] == len(built.passages)
    assert loaded.manifest["model"] == embedder.name
    assert len(loaded.dense) == len(built.passages)


def test_missing_policy_file_is_reported_by_status(schools: SchoolDirectory, store: IndexStore,
                                                   embedder: FakeEmbedder, data_dir: Path) -> None:
    """If the policy file itself is gone, status says the index is unusable and names the missing file;
    loading it then raises IndexNotReady naming the school."""
    alder = schools.get("alder")
    store.build(alder, embedder)
    policy = data_dir / "policies" / "alder.txt"
    policy.unlink()
    assert store.status(alder, embedder) == f"unusable: policy file {policy} is missing"
    with pytest.raises(IndexNotReady, match=re.escape("index for school 'alder' is unusable: policy file")):
        store.load(alder, embedder)


def test_build_all_rebuilds_only_the_changed_school(schools: SchoolDirectory, store: IndexStore,
                                                    embedder: FakeEmbedder, data_dir: Path) -> None:
    """After one policy changes, only that school is rebuilt; the other is reported 'up to date'."""
    alder_count = len(ingest("alder", ALDER_POLICY))
    birch_count = len(ingest("birch", BIRCH_POLICY))
    assert store.build_all(schools, embedder, progress=False) == [
        ("alder", f"built ({alder_count} passages)"), ("birch", f"built ({birch_count} passages)")]
    assert store.build_all(schools, embedder, progress=False) == [("alder", "up to date"), ("birch", "up to date")]

    birch_manifest = store.root / "birch" / "manifest.json"
    before = birch_manifest.stat().st_mtime_ns, birch_manifest.read_text()
    changed = ALDER_POLICY + "\nPhones are charged in class.\n"
    (data_dir / "policies" / "alder.txt").write_text(changed, encoding="utf-8")
    assert store.build_all(schools, embedder, progress=False) == [
        ("alder", f"built ({len(ingest('alder', changed))} passages)"), ("birch", "up to date")]
    assert (birch_manifest.stat().st_mtime_ns, birch_manifest.read_text()) == before
    assert store.status(schools.get("alder"), embedder) == "ok"


def test_build_all_with_force_rebuilds_everything(schools: SchoolDirectory, store: IndexStore,
                                                  embedder: FakeEmbedder) -> None:
    """force=True rebuilds schools that were already up to date."""
    store.build_all(schools, embedder, progress=False)
    outcomes = store.build_all(schools, embedder, force=True, progress=False)
    assert [slug for slug, _ in outcomes] == ["alder", "birch"]
    assert all(outcome.startswith("built (") for _, outcome in outcomes)
