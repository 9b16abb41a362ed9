"""Build the Teams app package (a zip of manifest.json, color.png, outline.png) with the real app id filled in.

The template is channels/teams/manifest.json, whose {{PLACEHOLDERS}} name what each school's IT admin supplies:
the bot's Microsoft App ID and the developer name and web pages Teams shows on the app's details page. Every
value is checked before anything is written, and no placeholder may survive. Plain Python, no Rasa;
scripts/teams-package.py is its command line.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path
from typing import Any, Mapping

from bot import settings
from channels.teams_config import is_guid

PACKAGE_DIR = settings.PROJECT_ROOT / "channels" / "teams"
ICON_SIZES = {"color.png": (192, 192), "outline.png": (32, 32)}
PLACEHOLDERS = ("BOT_APP_ID", "DEVELOPER_NAME", "WEBSITE_URL", "PRIVACY_URL", "TERMS_URL")
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError if `data` is not a PNG."""
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def check_values(values: Mapping[str, str]) -> dict[str, str]:
    """The placeholder values, checked: a GUID app id, a developer name of at most 32 characters, https pages."""
    missing = [name for name in PLACEHOLDERS if not str(values.get(name) or "").strip()]
    if missing:
        raise ValueError(f"missing {', '.join(missing)} for the Teams manifest")
    checked = {name: str(values[name]).strip() for name in PLACEHOLDERS}
    if not is_guid(checked["BOT_APP_ID"]):
        raise ValueError("BOT_APP_ID must be the bot's Microsoft App ID, a GUID like "
                         "00000000-0000-0000-0000-000000000000")
    if len(checked["DEVELOPER_NAME"]) > 32:
        raise ValueError(f"DEVELOPER_NAME must be at most 32 characters (Teams' limit); "
                         f"got {len(checked['DEVELOPER_NAME'])}")
    for name in ("WEBSITE_URL", "PRIVACY_URL", "TERMS_URL"):
        if not re.match(r"^https://[^\s/]+\.[^\s]+$", checked[name]):
            raise ValueError(f"{name} must be an https:// web page; got {checked[name]!r}")
    return checked


def fill(template: Any, values: Mapping[str, str]) -> Any:
    """`template` with every {{NAME}} in its strings replaced; ValueError naming any placeholder left unfilled."""
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    if isinstance(template, str):
        unknown = [name for name in _PLACEHOLDER.findall(template) if name not in values]
        if unknown:
            raise ValueError(f"the manifest has a placeholder nothing fills: {{{{{unknown[0]}}}}}")
        return _PLACEHOLDER.sub(lambda match: values[match[1]], template)
    return template


def build_manifest(values: Mapping[str, str], version: str | None = None,
                   template_path: Path | None = None) -> dict[str, Any]:
    """The filled manifest (the app id is used as the Teams app id and the bot id alike)."""
    template = json.loads((template_path or PACKAGE_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest = fill(template, check_values(values))
    if version is not None:
        if not _SEMVER.match(version):
            raise ValueError(f"the app version must look like 1.2.3 (Teams wants a higher one for each upload); "
                             f"got {version!r}")
        manifest["version"] = version
    return manifest


def build_package(values: Mapping[str, str], output: Path, version: str | None = None,
                  package_dir: Path | None = None) -> Path:
    """Write the zip Teams accepts ("Upload a custom app"): manifest.json and both icons at its root."""
    package_dir = package_dir or PACKAGE_DIR
    manifest = build_manifest(values, version, package_dir / "manifest.json")
    icons: dict[str, bytes] = {}
    for name, expected in ICON_SIZES.items():
        data = (package_dir / name).read_bytes()
        if png_size(data) != expected:
            raise ValueError(f"{package_dir / name} must be {expected[0]}x{expected[1]}; got "
                             f"{png_size(data)[0]}x{png_size(data)[1]}")
        icons[name] = data
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for name, data in icons.items():
            package.writestr(name, data)
    return output
