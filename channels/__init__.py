"""Rasa input channels for the assistant (these import Rasa; the `bot` library never does)."""
