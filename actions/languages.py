"""What the actions share about other languages: the language packs, and which templates a message is answered in."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bot.core import contract
from bot.safeguarding.language import NON_LATIN, UNDETERMINED, LanguagePacks


@lru_cache(maxsize=1)
def language_packs() -> LanguagePacks:
    """The templates (data/safeguarding/languages/), loaded once per action server; the detector is not needed."""
    return LanguagePacks.load()


def language_of(message: dict[str, Any]) -> str:
    """The code of the templates to answer this message in: its language from the screen's verdict; English for
    English, undetermined, and a language of another script typed in Latin letters (as
    LanguageVerdict.reply_code: the writer may not read that script)."""
    verdict = message.get(contract.VERDICT_KEY) if isinstance(message.get(contract.VERDICT_KEY), dict) else {}
    code = str(verdict.get("language") or "en")
    romanised = code in NON_LATIN and "script:Latn" in (verdict.get("signals") or ())
    return "en" if code in ("en", UNDETERMINED) or romanised else code
