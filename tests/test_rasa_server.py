"""The Rasa server's entry (channels/rasa_server.py): what it changes in Rasa before Rasa starts."""

from __future__ import annotations

import sys

import pytest


def test_the_entry_makes_the_tracker_store_fail_closed_before_rasa_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa's own main is replaced by a recorder (running it would configure this test process's logging): what
    matters is the state Rasa starts in, and the arguments it is handed."""
    import rasa.__main__
    from rasa.core.actions.action import RemoteAction
    from rasa.core.tracker_store import FailSafeTrackerStore

    import channels.rasa_server
    from bot.core import logredact

    monkeypatch.setattr(FailSafeTrackerStore, "__init__", FailSafeTrackerStore.__init__)
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(logredact, "install", lambda: None)  # this test process keeps its own logging
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # main() hands Rasa its arguments through sys.argv
    seen: list[tuple[list[str], bool, bool]] = []
    monkeypatch.setattr(rasa.__main__, "main", lambda: seen.append((
        list(sys.argv), getattr(FailSafeTrackerStore.__init__, "_policybot_fail_closed", False),
        getattr(RemoteAction._validate_action_result, "_policybot_once", False))))
    channels.rasa_server.main(["run", "--port", "5005"])
    assert seen == [(["rasa", "run", "--port", "5005"], True, True)]


def test_action_replies_are_still_checked_against_rasas_schema_with_the_validator_built_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from jsonschema.exceptions import ValidationError
    from rasa.core.actions.action import RemoteAction

    import channels.rasa_server

    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    channels.rasa_server.validate_action_replies_once()
    action = RemoteAction("action_answer_policy_question", None)
    good = {"events": [{"event": "slot", "name": "school", "value": "ouston"}],
            "responses": [{"text": "The policy says...", "buttons": []}]}
    assert action._validate_action_result(good)
    with pytest.raises(ValidationError, match="Failed to validate Action server response from API"):
        action._validate_action_result({"events": "not a list"})
