"""The Teams app package: the committed manifest and icons, and the zip scripts/teams-package.py builds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot import settings
from channels.teams_package import PACKAGE_DIR, build_manifest, build_package, fill, png_size

APP_ID = "0f0f0f0f-1111-4222-8333-444444444444"
VALUES = {"BOT_APP_ID": APP_ID, "DEVELOPER_NAME": "Ken Stimpson IT", "WEBSITE_URL": "https://school.example",
          "PRIVACY_URL": "https://school.example/privacy", "TERMS_URL": "https://school.example/terms"}
SCRIPT = settings.PROJECT_ROOT / "scripts" / "teams-package.py"


def test_the_template_is_a_current_schema_bot_manifest_with_placeholders() -> None:
    manifest = json.loads((PACKAGE_DIR / "manifest.json").read_text())
    version = manifest["manifestVersion"]
    schema = f"https://developer.microsoft.com/json-schemas/teams/v{version}/MicrosoftTeams.schema.json"
    assert manifest["$schema"] == schema
    assert tuple(int(part) for part in version.split(".")) >= (1, 22)
    assert manifest["id"] == manifest["bots"][0]["botId"] == "{{BOT_APP_ID}}"
    required = {"manifestVersion", "version", "id", "developer", "name", "description", "icons", "accentColor"}
    assert required <= set(manifest)
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["name"]["full"]) <= 100
    assert len(manifest["description"]["short"]) <= 80 and len(manifest["description"]["full"]) <= 4000
    assert re.match(r"^#[0-9A-Fa-f]{6}$", manifest["accentColor"])
    for command in manifest["bots"][0]["commandLists"][0]["commands"]:
        assert len(command["title"]) <= 32 and len(command["description"]) <= 128
    assert set(manifest["bots"][0]["scopes"]) <= {"personal", "team", "groupchat", "copilot"}


def test_the_icons_are_the_sizes_teams_wants_and_the_outline_is_white_on_transparent() -> None:
    assert png_size((PACKAGE_DIR / "color.png").read_bytes()) == (192, 192)
    assert png_size((PACKAGE_DIR / "outline.png").read_bytes()) == (32, 32)
    image = pytest.importorskip("PIL.Image").open(PACKAGE_DIR / "outline.png").convert("RGBA")
    pixels = [image.getpixel((x, y)) for x in range(32) for y in range(32)]
    assert {pixel[:3] for pixel in pixels if pixel[3]} == {(255, 255, 255)}, "only white may be visible"
    assert any(pixel[3] == 0 for pixel in pixels), "the background is transparent"


def test_the_package_holds_the_filled_manifest_and_both_icons(tmp_path: Path) -> None:
    output = build_package(VALUES, tmp_path / "app.zip", version="1.0.3")
    with zipfile.ZipFile(output) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["developer"]["privacyUrl"] == "https://school.example/privacy"
    assert manifest["version"] == "1.0.3"
    assert "{{" not in json.dumps(manifest)


@pytest.mark.parametrize("change, message", [
    ({"BOT_APP_ID": "my-bot"}, "BOT_APP_ID must be the bot's Microsoft App ID"),
    ({"BOT_APP_ID": ""}, "missing BOT_APP_ID"),
    ({"PRIVACY_URL": "http://school.example/privacy"}, "PRIVACY_URL must be an https:// web page"),
    ({"DEVELOPER_NAME": "x" * 33}, "DEVELOPER_NAME must be at most 32 characters"),
], ids=["app-id", "no-app-id", "http", "long-name"])
def test_bad_values_are_refused_before_anything_is_written(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_package({**VALUES, **change}, tmp_path / "app.zip")
    assert not (tmp_path / "app.zip").exists()


def test_an_unfilled_placeholder_is_named() -> None:
    with pytest.raises(ValueError, match=r"placeholder nothing fills: \{\{SUPPORT_EMAIL\}\}"):
        fill({"a": ["mail {{SUPPORT_EMAIL}}"]}, VALUES)
    with pytest.raises(ValueError, match="like 1.2.3"):
        build_manifest(VALUES, version="2")


def test_the_script_builds_the_zip_and_reports_bad_input_with_exit_2(tmp_path: Path) -> None:
    args = [sys.executable, str(SCRIPT), "--developer-name", "IT", "--website-url", "https://school.example",
            "--privacy-url", "https://school.example/p", "--terms-url", "https://school.example/t"]
    done = subprocess.run(args + ["--app-id", APP_ID, "--output", str(tmp_path / "out.zip")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert zipfile.is_zipfile(tmp_path / "out.zip")
    bad = subprocess.run(args + ["--app-id", "nope", "--output", str(tmp_path / "bad.zip")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "BOT_APP_ID must be the bot's Microsoft App ID" in bad.stderr
