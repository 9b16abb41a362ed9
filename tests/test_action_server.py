"""The action server's guard (channels/action_server.py): the secret is required to start and checked exactly."""

from __future__ import annotations

import pytest

from channels.action_server import (MIN_TOKEN_CHARS, ActionServerConfigError, bearer_matches, create_app,
                                    required_token)

SECRET = "s" * MIN_TOKEN_CHARS


@pytest.mark.parametrize("environ", [{}, {"POLICYBOT_ACTION_TOKEN": ""}, {"POLICYBOT_ACTION_TOKEN": "short"}])
def test_no_secret_or_a_short_one_stops_the_start(environ: dict[str, str]) -> None:
    with pytest.raises(ActionServerConfigError, match=r"^POLICYBOT_ACTION_TOKEN must hold the shared secret Rasa "
                                                      r"sends to the action server \(at least 32 characters"):
        required_token(environ)


def test_the_secret_is_read_from_the_environment() -> None:
    assert required_token({"POLICYBOT_ACTION_TOKEN": f" {SECRET} "}) == SECRET


@pytest.mark.parametrize("header, ok", [
    (f"Bearer {SECRET}", True), (f"bearer {SECRET}", True), (f"Bearer {SECRET}x", False), ("Bearer ", False),
    (SECRET, False), (f"Basic {SECRET}", False), (None, False), ("", False)])
def test_only_the_exact_bearer_secret_passes(header: str | None, ok: bool) -> None:
    assert bearer_matches(header, SECRET) is ok


def test_the_app_refuses_to_be_built_with_a_short_secret() -> None:
    with pytest.raises(ActionServerConfigError, match=r"^the action server's secret must be at least 32 characters$"):
        create_app("short")


def test_a_bad_safeguarding_file_stops_the_start_naming_the_file(tmp_path) -> None:
    """At start-up, not at the first disclosure: exit 2 and the file named."""
    import os
    import subprocess
    import sys

    from bot import settings

    bad = tmp_path / "safeguarding.yml"
    bad.write_text("schools: [this is not a mapping\n", encoding="utf-8")
    env = {**os.environ, "POLICYBOT_ACTION_TOKEN": SECRET, "POLICYBOT_SAFEGUARDING_CONFIG": str(bad),
           "POLICYBOT_CONCERNS_DATABASE_URL": f"sqlite:///{tmp_path / 'concerns.db'}"}
    done = subprocess.run([sys.executable, "-m", "channels.action_server", "--port", "0"], env=env,
                          cwd=settings.PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"action server: {bad}" in done.stderr
