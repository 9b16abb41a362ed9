"""The wording for the conversational "report a concern" form, by audience and school phase."""

from __future__ import annotations

from bot.core.roles import canonical_role
from bot.safeguarding.handoff.wording import (_AUDIENCE, _PHASE_WORDS, _SIMPLE_PHASES, _dsl_adult, _dsl_plain,
                                              _names, _sentences)
from bot.schools import SchoolProfile

#: The keys of `report_form_prompts`, in the order a form asks them.
REPORT_FORM_KEYS: tuple[str, ...] = ("intro", "what_happened", "who_involved", "when_where", "danger_now",
                                     "danger_now_yes", "give_name", "cancel_hint")


def report_form_prompts(profile: SchoolProfile, role: str | None) -> dict[str, str]:
    """The wording for a conversational "report a concern" form: open, neutral prompts, honest about who reads
    the answers, every step skippable, and a way out at any time."""
    canonical = canonical_role(role)
    audience = _AUDIENCE[canonical]
    words = _PHASE_WORDS.get(profile.phase, _PHASE_WORDS["secondary"])
    children = words["children"]
    if audience == "pupil" and profile.phase in _SIMPLE_PHASES:
        reader = (_names(profile.dsl) if profile.dsl
                  else f"the person at school whose job is to keep {children} safe")
        adult = words["adult"]
        return {
            "intro": _sentences(
                "I will ask you a few short questions.",
                f"{reader[0].upper() + reader[1:]} will read what you write.",
                f"They might tell other {adult}s who can help keep you safe.",
                "You can say 'stop' at any time."),
            "what_happened": "What happened? Tell me in your own words.",
            "who_involved": "Who is it about? You can say 'skip' if you don't want to say.",
            "when_where": "When and where did it happen? You can say 'not sure'.",
            "danger_now": "Is anyone in danger right now? Please say yes or no.",
            "danger_now_yes": f"Please call 999 now. Or tell {words['an_adult']} near you now. "
                              "I am a computer, so I can't come and help you myself.",
            "give_name": _sentences(
                "Do you want to tell me your name?", "You don't have to.",
                "If you do, someone at school can talk to you and help.",
                f"If you don't, {adult}s at school may still need to act on what you told me.",
                "They may need to tell people who can help keep everyone safe."),
            "cancel_hint": "You can say 'stop' at any time.",
        }
    if audience == "pupil":
        dsl = _dsl_plain(profile, children)
        return {
            "intro": _sentences(
                "I'll ask you a few short questions.",
                f"What you write will go to {dsl}.",
                "They may share it with people who need to know, to keep you or someone else safe.",
                "You can say 'stop' any time."),
            "what_happened": "What happened? Please tell me in your own words, as much or as little as you want.",
            "who_involved": "Who is involved? You can say 'skip' if you don't want to say.",
            "when_where": "When and where did it happen? It's fine to say 'not sure'.",
            "danger_now": "Is anyone in danger right now? Please answer yes or no.",
            "danger_now_yes": "Please call 999 now, or tell an adult near you straight away. "
                              "I'm a computer program, so I can't send help myself.",
            "give_name": _sentences(
                "Do you want to give your name?", "You don't have to.",
                "If you do, the school can talk to you and help.",
                "Even if you don't, staff may still need to act on what you've told me, and share it with people "
                "who need to know to keep everyone safe."),
            "cancel_hint": "You can say 'stop' any time.",
        }
    return {
        "intro": _sentences(
            "I'll ask a few short questions.",
            f"Your answers will go to {_dsl_adult(profile)}{f' at {profile.name}' if profile.dsl else ''}, who may "
            "share them with people who need to know to keep a child safe.",
            "You can say 'stop' any time."),
        "what_happened": "What happened? Please describe it in your own words.",
        "who_involved": "Who is involved? You can say 'skip'.",
        "when_where": "When and where did it happen? Say 'not sure' if you don't know.",
        "danger_now": "Is anyone in danger right now? Please answer yes or no.",
        "danger_now_yes": "Please call 999 now.",
        "give_name": _sentences(
            "Would you like to give your name and how the school can contact you?",
            "You can say 'skip', but the school may need to contact you to help keep a child safe."),
        "cancel_hint": "You can say 'stop' any time.",
    }
