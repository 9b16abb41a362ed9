"""Safeguarding: the screen run on every message, the DSL hand-off reply, concern records and notifications.

Nothing in this package imports Rasa; the Rasa component and actions call it.
"""
