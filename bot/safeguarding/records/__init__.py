"""Safeguarding concern records (moving into this package; store.py holds them for now)."""

from bot.safeguarding.records.store import *  # noqa: F401,F403
