"""What the actions share about other languages: the language packs, and which templates a message is answered in."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bot.core import contract
from bot.safeguarding.language import SUPPORTED, LanguagePacks, LanguageVerdict


@lru_cache(maxsize=1)
def language_packs() -> LanguagePacks:
    """The templates (data/safeguarding/languages/), loaded once per action server; the detector is not needed."""
    return LanguagePacks.load()


def language_of(message: dict[str, Any]) -> str:
    """The code of the templates to answer this message in: LanguageVerdict.reply_code for the language and script
    in the screen's verdict (English for English, undetermined, and a language of another script typed in Latin
    letters: the writer may not read that script)."""
    verdict = message.get(contract.VERDICT_KEY) if isinstance(message.get(contract.VERDICT_KEY), dict) else {}
    code = str(verdict.get("language") or "en")
    if code not in SUPPORTED:
        return "en"
    # The screen notes the message's script among its signals; without it nothing says the text was romanised.
    script = next((str(s)[len("script:"):] for s in verdict.get("signals") or () if str(s).startswith("script:")),
                  "Zyyy")
    return LanguageVerdict(code, SUPPORTED[code], 1.0, script=script).reply_code
