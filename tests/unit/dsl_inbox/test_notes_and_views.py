"""The DSL's notes, actions and outcomes on a concern (records/notes.py through ConcernStore), and the chronology
the inbox builds from them (views.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dsl_inbox import views
from bot.safeguarding.records import ConcernStore
from test_concern_records import CANARIES, NOTE_CANARY, Clock, assert_no_canary, make_store, record
from test_concern_records import concerns_env  # noqa: F401 - fixture


@pytest.fixture
def store(concerns_env: Path) -> tuple[ConcernStore, Clock]:
    clock = Clock()
    return make_store(concerns_env, clock), clock


def test_notes_actions_and_the_outcome_make_a_chronology_in_order(store) -> None:
    concern_store, clock = store
    reference = record(concern_store).reference
    clock.advance(60)
    concern_store.acknowledge(reference, "alder", "mary.oak")
    clock.advance(60)
    concern_store.add_note(reference, "alder", "mary.oak", NOTE_CANARY)
    clock.advance(60)
    concern_store.add_note(reference, "alder", "deputy.dsl", "", step="referred_csc")
    clock.advance(60)
    concern_store.close(reference, "alder", "mary.oak", "handed over", outcome="referred_csc")
    shown = concern_store.show(reference, "alder", "mary.oak")
    assert shown.outcome == "referred_csc"
    lines = [(entry.what, entry.actor, entry.text) for entry in views.chronology(shown)]
    assert lines == [
        ("Recorded by the assistant", "", ""),
        ("Acknowledged by mary.oak", "mary.oak", ""),
        ("Note", "mary.oak", NOTE_CANARY),
        ("Referred to children's social care", "deputy.dsl", ""),
        ("Closed by mary.oak — outcome: Referred to children's social care", "mary.oak", ""),
        ("Close note", "mary.oak", "handed over"),
    ]
    assert [entry.what for entry in views.access_log(shown.history)] == ["Read by mary.oak"]


def test_the_audit_says_a_note_was_added_but_never_its_text(store) -> None:
    concern_store, _ = store
    reference = record(concern_store).reference
    concern_store.add_note(reference, "alder", "mary.oak", NOTE_CANARY, step="police")
    entries = concern_store.audit_entries()
    assert entries[-1].action == "action_recorded" and entries[-1].detail == "action=police note=yes"
    assert_no_canary(*(f"{entry.actor} {entry.detail}" for entry in entries))
    assert all(canary not in repr(concern_store.show(reference, "alder", "mary.oak")) for canary in CANARIES)


def test_note_and_outcome_mistakes_are_exact_errors(store) -> None:
    concern_store, _ = store
    reference = record(concern_store).reference
    with pytest.raises(ValueError, match="^a note needs some text$"):
        concern_store.add_note(reference, "alder", "mary.oak", "   ")
    with pytest.raises(ValueError, match="^unknown action 'phoned'; known: referred_csc, police"):
        concern_store.add_note(reference, "alder", "mary.oak", "x", step="phoned")
    with pytest.raises(ValueError, match="^a note is at most 4000 characters"):
        concern_store.add_note(reference, "alder", "mary.oak", "x" * 4001)
    concern_store.acknowledge(reference, "alder", "mary.oak")
    with pytest.raises(ValueError, match="^unknown outcome 'done'; known: referred_csc"):
        concern_store.close(reference, "alder", "mary.oak", outcome="done")
    concern_store.close(reference, "alder", "mary.oak", outcome="no_further_action")
    with pytest.raises(ValueError, match=f"^{reference} is closed; add a note instead of an action$"):
        concern_store.add_note(reference, "alder", "mary.oak", "", step="police")
    concern_store.add_note(reference, "alder", "mary.oak", "later information")  # a note still may be added


def test_another_school_or_a_non_reader_cannot_add_notes(store) -> None:
    concern_store, _ = store
    reference = record(concern_store).reference
    with pytest.raises(PermissionError, match="'tom.reed' is not a DSL reader for school 'alder'"):
        concern_store.add_note(reference, "alder", "tom.reed", "x")
    from bot.safeguarding.records import ConcernNotFound
    with pytest.raises(ConcernNotFound, match=f"no concern {reference} at school 'birch'"):
        concern_store.add_note(reference, "birch", "tom.reed", "x")


def test_list_filters_by_urgency_and_category(store) -> None:
    concern_store, _ = store
    high = record(concern_store, "m1").reference
    immediate = record(concern_store, "m2", urgency="immediate", category="danger").reference
    assert [c.reference for c in concern_store.list_concerns("alder", "mary.oak", urgency="high")] == [high]
    assert [c.reference for c in concern_store.list_concerns("alder", "mary.oak", category="danger")] == [immediate]
    with pytest.raises(ValueError, match="^unknown urgency 'urgent'"):
        concern_store.list_concerns("alder", "mary.oak", urgency="urgent")


def test_ages_read_naturally() -> None:
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    assert [views.age(now - delta, now) for delta in (timedelta(minutes=12), timedelta(hours=5),
                                                      timedelta(days=3))] == ["12 min", "5 h", "3 days"]
