"""The Teams channel's settings and its strict tenant -> school mapping (channels/teams_config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import settings
from bot.schools import SchoolDirectory
from channels.teams_auth import DEFAULT_OPENID_URL
from channels.teams_config import TeamsSettings, TenantMap
from channels.teams_connector import DEFAULT_TOKEN_URL

TENANT = "1111aaaa-2222-4333-8444-55555555555b"
OTHER_TENANT = "99999999-2222-4333-8444-555555555555"
GROUP = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
TEAM_THREAD = "19:0a1b2c3d4e5f@thread.tacv2"
APP_ID = "0f0f0f0f-1111-4222-8333-444444444444"


@pytest.fixture(scope="module")
def schools() -> SchoolDirectory:
    return SchoolDirectory.load(settings.PROJECT_ROOT / "data" / "schools.yml")


def parse(data: object, schools: SchoolDirectory) -> TenantMap:
    return TenantMap.parse(data, "teams.yml", schools)


def test_a_tenant_maps_to_its_school_and_a_team_can_override_it(schools: SchoolDirectory) -> None:
    tenants = parse({"tenants": {TENANT: {"school": "ouston", "teams": {GROUP: "wyre-forest",
                                                                       TEAM_THREAD: "kingsmeadow"}}}}, schools)
    assert tenants.place(TENANT).school == "ouston"
    assert tenants.place(TENANT.upper()).school == "ouston", "tenant ids are GUIDs: case does not matter"
    assert tenants.place(TENANT, [GROUP]).school == "wyre-forest"
    assert tenants.place(TENANT, [TEAM_THREAD]).reason == "team"
    assert tenants.place(TENANT, ["19:unknown@thread.tacv2"]).school == "ouston"
    assert tenants.place(OTHER_TENANT).reason == "unknown_tenant"
    assert tenants.place(None).school is None


def test_a_trust_tenant_without_a_default_refuses_unmapped_teams(schools: SchoolDirectory) -> None:
    tenants = parse({"tenants": {TENANT: {"teams": {GROUP: "ouston"}}}}, schools)
    assert tenants.place(TENANT, [GROUP]).school == "ouston"
    assert tenants.place(TENANT).reason == "unmapped_team"


def test_the_shipped_config_is_valid_and_maps_no_real_tenant(schools: SchoolDirectory) -> None:
    path = settings.PROJECT_ROOT / "config" / "teams.yml"
    assert len(TenantMap.load(path, schools)) == 0
    # The commented example is itself a valid mapping.
    lines = path.read_text().splitlines()
    start = lines.index("# tenants:")
    example = "\n".join(line[2:] for line in lines[start:] if line.startswith("# "))
    assert len(parse(yaml.safe_load(example), schools)) == 2


@pytest.mark.parametrize("data, message", [
    ({"tenant": {}}, "unknown key 'tenant'; known: tenants"),
    ({"tenants": {TENANT: {"school": "hogwarts"}}},
     f"tenant '{TENANT}': unknown school 'hogwarts'; known: ken-stimpson, kingsmeadow, ouston, rolvenden, "
     "wyre-forest"),
    ({"tenants": {TENANT: {"schol": "ouston"}}}, f"tenant '{TENANT}': unknown key 'schol'; known: school, teams"),
    ({"tenants": {"contoso.onmicrosoft.com": {"school": "ouston"}}},
     "tenant id 'contoso.onmicrosoft.com' is not a GUID"),
    ({"tenants": {TENANT: {}}}, f"tenant '{TENANT}' needs a 'school', or 'teams'"),
    ({"tenants": {TENANT: "ouston"}}, f"tenant '{TENANT}' must be a mapping"),
    ({"tenants": {TENANT: {"teams": {"Year 7 team": "ouston"}}}}, "team 'Year 7 team' is neither an AAD group id"),
    ({"tenants": {TENANT: {"teams": {GROUP: "narnia"}}}},
     f"tenant '{TENANT}', team '{GROUP}': unknown school 'narnia'"),
    ({"tenants": {GROUP: {"school": "ouston"}, GROUP.upper(): {"school": "ouston"}}}, "is listed twice"),
    ({"tenants": ["x"]}, "'tenants' must be a mapping"),
    (["x"], "must be a mapping with a 'tenants:' key"),
], ids=["top-key", "school", "tenant-key", "tenant-id", "empty-tenant", "tenant-scalar", "team-id", "team-school",
        "duplicate", "tenants-list", "top-list"])
def test_the_mapping_is_checked_strictly_with_exact_errors(schools: SchoolDirectory, data: object,
                                                           message: str) -> None:
    with pytest.raises(ValueError) as bad:
        parse(data, schools)
    assert message in str(bad.value)
    assert str(bad.value).startswith("teams.yml")


def test_a_missing_or_broken_mapping_file_is_named(tmp_path: Path, schools: SchoolDirectory) -> None:
    with pytest.raises(ValueError, match="Teams tenant mapping not found: .*nope.yml"):
        TenantMap.load(tmp_path / "nope.yml", schools)
    broken = tmp_path / "teams.yml"
    broken.write_text("tenants:\n  - [unclosed\n")
    with pytest.raises(ValueError, match=r"is not valid YAML at line \d"):
        TenantMap.load(broken, schools)
    (tmp_path / "empty.yml").write_text("# nothing yet\n")
    assert len(TenantMap.load(tmp_path / "empty.yml", schools)) == 0


def test_settings_default_to_bot_framework_and_are_not_configured_without_an_app_id() -> None:
    teams = TeamsSettings.from_sources(None, environ={})
    assert not teams.configured
    assert teams.missing() == ["POLICYBOT_TEAMS_APP_ID", "POLICYBOT_TEAMS_APP_PASSWORD"]
    assert teams.openid_url == DEFAULT_OPENID_URL == "https://login.botframework.com/v1/.well-known/openidconfiguration"
    assert teams.token_url == DEFAULT_TOKEN_URL
    assert teams.config_path == settings.PROJECT_ROOT / "config" / "teams.yml"


def test_environment_variables_win_over_credentials_yml(tmp_path: Path) -> None:
    teams = TeamsSettings.from_sources(
        {"app_id": "00000000-0000-4000-8000-000000000000", "config": "elsewhere.yml",
         "token_url": "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"},
        environ={"POLICYBOT_TEAMS_APP_ID": APP_ID, "POLICYBOT_TEAMS_APP_PASSWORD": "secret-value",
                 "POLICYBOT_TEAMS_CONFIG": str(tmp_path / "teams.yml"),
                 "POLICYBOT_TEAMS_OPENID_URL": "http://127.0.0.1:9999/v1/.well-known/openidconfiguration"})
    assert teams.configured and teams.app_id == APP_ID
    assert teams.config_path == tmp_path / "teams.yml"
    assert teams.token_url == "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"
    assert teams.openid_url.startswith("http://127.0.0.1:9999/")
    assert "secret-value" not in repr(teams)


@pytest.mark.parametrize("credentials, environ, message", [
    ({"app_secret": "x"}, {}, "unknown key 'app_secret' in the Teams channel's credentials.yml block; known: app_id"),
    ({}, {"POLICYBOT_TEAMS_APP_ID": "my-bot"}, "must be the bot's Microsoft App ID, a GUID"),
    ({}, {"POLICYBOT_TEAMS_TOKEN_URL": "http://login.example/token"}, "POLICYBOT_TEAMS_TOKEN_URL must use https"),
    ({}, {"POLICYBOT_TEAMS_OPENID_URL": "login.botframework.com"}, "POLICYBOT_TEAMS_OPENID_URL must be an absolute"),
], ids=["unknown-key", "app-id", "token-url", "openid-url"])
def test_bad_settings_are_exact_errors(credentials: dict, environ: dict, message: str) -> None:
    with pytest.raises(ValueError) as bad:
        TeamsSettings.from_sources(credentials, environ=environ)
    assert message in str(bad.value)
