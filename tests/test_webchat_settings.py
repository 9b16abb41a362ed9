"""The web chat's settings file and environment variables, with their exact errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.webchat.settings import DEFAULT_CONFIG, WebChatSettings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "webchat.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_allows_no_other_origin_and_offers_pupil_then_parent() -> None:
    settings = WebChatSettings.load(DEFAULT_CONFIG, env={})
    assert settings.allowed_origins == ()
    assert settings.roles == ("pupil", "parent")
    assert settings.conversation_hours == 12


def test_the_shipped_file_states_the_built_in_defaults() -> None:
    """So a deployment that deletes the file gets the same behaviour."""
    assert WebChatSettings.load(env={"POLICYBOT_WEB_CONFIG": ""}) == WebChatSettings()


def test_origins_come_from_the_file_and_the_environment_normalised_and_deduplicated(tmp_path: Path) -> None:
    path = write(tmp_path, "allowed_origins: ['https://www.Ouston.example/']\n")
    settings = WebChatSettings.load(path, env={
        "POLICYBOT_WEB_ALLOWED_ORIGINS": "https://www.ouston.example, http://localhost:8080  https://ks.example"})
    assert settings.allowed_origins == ("https://www.ouston.example", "http://localhost:8080", "https://ks.example")
    assert settings.origin_policy.frame_ancestors() == (
        "'self' https://www.ouston.example http://localhost:8080 https://ks.example")


def test_the_file_can_be_named_by_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "roles: [parent]\n")
    assert WebChatSettings.load(env={"POLICYBOT_WEB_CONFIG": str(path)}).roles == ("parent",)


@pytest.mark.parametrize("text, message", [
    ("allowed_origins: '*'\n", r"allowed_origins must be a list"),
    ("allowed_origins: ['*']\n", r"'\*' would let any website use the chat"),
    ("allowed_origins: [https://school.example/chat]\n", r"must be a scheme and host"),
    ("roles: [pupil, headteacher]\n", r"unknown web chat role 'headteacher'; known: pupil, staff, parent, governor, visitor$"),
    ("roles: []\n", r"needs at least one role"),
    ("roles: pupil\n", r"roles must be a list"),
    ("conversation_hours: 0\n", r"conversation_hours must be a number of hours above 0"),
    ("conversation_hours: forever\n", r"conversation_hours must be a number"),
    ("allowed_origin: []\n", r"unknown setting 'allowed_origin'; known: allowed_origins, roles, conversation_hours"),
    ("- just a list\n", r"must be a mapping of settings"),
    ("roles: [pupil\n", r"is not valid YAML"),
])
def test_a_bad_setting_is_refused_at_start_up_with_an_exact_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WebChatSettings.load(write(tmp_path, text), env={})


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="web chat settings file not found: .*missing.yml"):
        WebChatSettings.load(env={"POLICYBOT_WEB_CONFIG": str(tmp_path / "missing.yml")})


def test_a_bad_origin_in_the_environment_names_itself(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allowed origin 'school.example' must be a scheme and host"):
        WebChatSettings.load(write(tmp_path, "{}\n"), env={"POLICYBOT_WEB_ALLOWED_ORIGINS": "school.example"})
