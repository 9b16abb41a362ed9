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


def main(argv: Sequence[str] | None = None) -> None:
    logredact.install()
    from components.tracker_store import install_fail_closed
    from rasa.__main__ import main as rasa_main

    install_fail_closed()

    # Rasa reads its arguments from sys.argv itself (it rewrites a trailing model path there).
    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
