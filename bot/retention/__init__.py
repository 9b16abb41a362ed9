"""Storage limitation: `policybot retention` deletes old conversations, feedback questions, logs and caught mail;
never concern records. The library is sweep.py; the command is cli.py. Nothing is imported here, so building
policybot's parser does not load SQLAlchemy (tests/test_cli.py checks it)."""
