"""Thin rasa-sdk actions. Each file holds one action and calls into `bot/`; nothing slow runs at import,
because the action server imports every module here at start-up."""
