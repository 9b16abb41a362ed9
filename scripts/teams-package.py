#!/usr/bin/env python3
"""Zip the Teams app package (channels/teams/) with the bot's real app id filled in, ready for "Upload a custom app".

    .venv/bin/python scripts/teams-package.py --app-id 00000000-0000-0000-0000-000000000000 \
        --developer-name "Ken Stimpson IT" --website-url https://school.example \
        --privacy-url https://school.example/privacy --terms-url https://school.example/terms

The app id defaults to POLICYBOT_TEAMS_APP_ID. Raise --version (1.0.1, ...) for each re-upload of a changed package.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import settings  # noqa: E402 - after the path fix, so the script runs from anywhere
from channels.teams_package import build_package  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the options, build the zip, say where it is; exit 2 with the reason if a value is wrong."""
    parser = argparse.ArgumentParser(description="Build the Microsoft Teams app package for the policy assistant.")
    parser.add_argument("--app-id", default=os.environ.get("POLICYBOT_TEAMS_APP_ID"),
                        help="the bot's Microsoft App ID (default: $POLICYBOT_TEAMS_APP_ID)")
    parser.add_argument("--developer-name", required=True, help="shown in Teams as the app's publisher (<= 32 chars)")
    parser.add_argument("--website-url", required=True, help="https page about the app or the school")
    parser.add_argument("--privacy-url", required=True, help="https page with the privacy notice")
    parser.add_argument("--terms-url", required=True, help="https page with the terms of use")
    parser.add_argument("--version", help="app version, e.g. 1.0.1 (default: the manifest's)")
    parser.add_argument("--output", type=Path, default=settings.artifacts_dir() / "teams" / "policybot-teams.zip",
                        help="where to write the zip (default: artifacts/teams/policybot-teams.zip)")
    args = parser.parse_args(argv)
    values = {"BOT_APP_ID": args.app_id or "", "DEVELOPER_NAME": args.developer_name,
              "WEBSITE_URL": args.website_url, "PRIVACY_URL": args.privacy_url, "TERMS_URL": args.terms_url}
    try:
        output = build_package(values, args.output, args.version)
    except ValueError as error:
        print(f"teams-package: {error}", file=sys.stderr)
        return 2
    print(f"wrote {output}: upload it in Teams (Apps > Manage your apps > Upload an app) or the Teams admin centre")
    return 0


if __name__ == "__main__":
    sys.exit(main())
