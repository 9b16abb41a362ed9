"""Induction self-service for new staff, volunteers, governors and contractors (issue 6).

Each school's steps live in data/induction/<slug>.yml and quote its own policy verbatim (plans.py checks every
quote and section on load). flow.py is the pure state machine, render.py turns it into messages with buttons,
store.py keeps progress and completion records, service.py is the one-call-per-event API the Rasa actions use,
and cli.py is `policybot induction report`. See docs/notes/induction-integration.md.

The names below are imported on first use, so `import bot.induction` (as `policybot --help` does) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ROLES": "roles", "ROLE_LABELS": "roles", "parse_role": "roles",
    "InductionPlan": "plans", "InductionStep": "plans", "load_plan": "plans", "load_school_induction": "plans",
    "InductionProgress": "flow", "AnswerFeedback": "flow", "StaleProgress": "flow", "start": "flow",
    "current_step": "flow", "answer": "flow", "acknowledge": "flow", "summary": "flow", "match_choice": "flow",
    "Message": "render",
    "InductionStore": "store", "InductionStoreUnavailable": "store", "CompletionRecord": "store",
    "InductionService": "service", "Turn": "service",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bot.induction' has no attribute {name!r}")
    return getattr(importlib.import_module(f"bot.induction.{_EXPORTS[name]}"), name)
