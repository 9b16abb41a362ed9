"""`rasa`, with no message text in any log and a tracker store that fails closed: installs bot/core/logredact.py
and components/tracker_store.install_fail_closed, then runs Rasa's own command line.

Rasa logs what it handles (at DEBUG every message and slot; at any level a UserWarning quoting a "/" payload), and
it configures its logging inside its own `main`, so the redaction has to be in the process before that starts.
scripts/serve.sh and bot/servers.py run `python -m channels.rasa_server run …` where they ran `rasa run …`; the
arguments are Rasa's, unchanged.
"""

from __future__ import annotations

import sys
from typing import Sequence

from bot.core import logredact


def validate_action_replies_once() -> None:
    """Rasa checks every action server reply against its JSON schema with `jsonschema.validate`, which first
    re-checks the schema itself against the meta-schema, on every call: 11% of the Rasa server's CPU under load
    (PERFORMANCE-NOTES.md). The same check, the same error, with the validator built once."""
    from jsonschema.exceptions import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction._validate_action_result, "_policybot_once", False):
        return
    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)
    original = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: dict) -> bool:
        try:
            validator.validate(result)
            return True
        except ValidationError:
            return original(self, result)  # Rasa's own path, for its exact error message

    validate._policybot_once = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = validate  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> None:
    logredact.install()
    from components.tracker_store import install_fail_closed
    from rasa.__main__ import main as rasa_main

    install_fail_closed()
    validate_action_replies_once()

    # Rasa reads its arguments from sys.argv itself (it rewrites a trailing model path there).
    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
