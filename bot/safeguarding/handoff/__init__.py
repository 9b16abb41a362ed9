"""The reply a person gets when they disclose harm or raise a concern: the DSL hand-off.

It follows Keeping Children Safe in Education and the NSPCC's advice on responding to a disclosure: thank them,
say it is not their fault, say honestly who it goes to and what happens next, never promise secrecy, ask no
leading questions, put 999 first when someone is in danger now, and signpost Childline, CEOP and Samaritans.
Staff, governors and visitors also get "what to do right now" steps quoted from their own school's policy
(data/safeguarding/staff_steps.yml), kept apart from general guidance that is not the school's.

- wording.py      the fixed texts: services' numbers, safe signposting, phase words, general (national) steps,
                  the phrases that name a school's DSL
- staff_steps.py  each school's own steps: the YAML loader and the lookup by category
- compose.py      compose_handoff and its audience composers (pupil, young pupil, parent, staff), safe_signposting,
                  gentle_offer
- report_form.py  the "report a concern" form's prompts

Import from the package: the names below are its interface.
"""

from bot.safeguarding.handoff.compose import Handoff, compose_handoff, gentle_offer, safe_signposting
from bot.safeguarding.handoff.report_form import REPORT_FORM_KEYS, report_form_prompts
from bot.safeguarding.handoff.staff_steps import StaffStep, load_staff_steps, staff_steps_file, staff_steps_for
from bot.safeguarding.handoff.wording import (CEOP_URL, CHILDLINE_NUMBER, GENERAL_STAFF_STEPS,
                                              NSPCC_WHISTLEBLOWING_NUMBER, OPEN_INVITATION, SAFE_SIGNPOSTING,
                                              SAFE_SIGNPOSTING_MESSAGES, SAMARITANS_NUMBER, GeneralStep,
                                              general_steps_for)
# Package-private wording that bot/safeguarding/checkin.py imports from here (the check-in speaks like the hand-off).
from bot.safeguarding.handoff.wording import _AUDIENCE, _PHASE_WORDS, _dsl_adult, _dsl_plain  # noqa: F401

__all__ = [
    "CEOP_URL", "CHILDLINE_NUMBER", "GENERAL_STAFF_STEPS", "NSPCC_WHISTLEBLOWING_NUMBER", "OPEN_INVITATION",
    "REPORT_FORM_KEYS", "SAFE_SIGNPOSTING", "SAFE_SIGNPOSTING_MESSAGES", "SAMARITANS_NUMBER", "GeneralStep",
    "Handoff", "StaffStep", "compose_handoff", "general_steps_for", "gentle_offer", "load_staff_steps",
    "report_form_prompts", "safe_signposting", "staff_steps_file", "staff_steps_for",
]
