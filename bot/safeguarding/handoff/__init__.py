"""The DSL hand-off reply (moving into this package; compose.py holds it for now)."""

from bot.safeguarding.handoff.compose import *  # noqa: F401,F403
from bot.safeguarding.handoff.compose import _AUDIENCE, _PHASE_WORDS, _dsl_adult, _dsl_plain  # noqa: F401
