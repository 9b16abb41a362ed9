"""The Rasa server's entry (channels/rasa_server.py): what it changes in Rasa before Rasa starts."""

from __future__ import annotations

import sys

import pytest


def test_the_entry_makes_the_tracker_store_fail_closed_before_rasa_starts(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    from rasa.core.tracker_store import FailSafeTrackerStore

    import channels.rasa_server
    from bot.core import logredact

    monkeypatch.setattr(FailSafeTrackerStore, "__init__", FailSafeTrackerStore.__init__)
    monkeypatch.setattr(logredact, "install", lambda: None)  # this test process keeps its own logging
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # main() hands Rasa its arguments through sys.argv
    assert not getattr(FailSafeTrackerStore.__init__, "_policybot_fail_closed", False)
    channels.rasa_server.main(["--version"])
    assert "Rasa Version" in capsys.readouterr().out
    assert getattr(FailSafeTrackerStore.__init__, "_policybot_fail_closed", False)


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
