"""scripts/deploy-systemd.sh (`make deploy-systemd`): the production units carry the restart policy `make run`'s
supervisor applies, and `systemd-analyze verify` accepts them (skipped, saying so, where it cannot run)."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from bot import settings
from bot.supervisor import BackOff, Supervisor, ServerSpec

ROOT = settings.PROJECT_ROOT
SERVERS = ("policybot-actions.service", "policybot-rasa.service", "policybot-inbox.service",
           "policybot-proxy.service")


def _deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["scripts/deploy-systemd.sh"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DEPLOY_DIR": str(tmp_path / "deploy"), "SERVICE_USER": "policybot",
                               **env})


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign] - keys are case-sensitive
    parser.read_string(path.read_text().replace("\\\n", " "))
    return parser


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    tmp_path = tmp_path_factory.mktemp("systemd")
    result = _deploy(tmp_path, ACTIONS_PORT="6055")
    try:
        assert result.returncode == 0, result.stderr
        yield tmp_path / "deploy" / "systemd", result
    finally:  # it holds this checkout's secrets: not left in pytest's temporary folders
        (tmp_path / "deploy" / "systemd" / "policybot.env").unlink(missing_ok=True)


def test_every_server_restarts_like_make_run(deployed: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = deployed
    policy, grace = BackOff(), Supervisor([ServerSpec("x", ("true",))]).grace_s
    for name in SERVERS:
        unit = _unit(out / name)
        service = unit["Service"]
        assert (service["Restart"], service["RestartSec"], service["RestartSteps"], service["RestartMaxDelaySec"],
                service["TimeoutStopSec"]) == ("always", f"{policy.first_s:g}s", "5", f"{policy.max_s:g}s",
                                               f"{grace:g}s"), name
        assert unit["Unit"]["StartLimitIntervalSec"] == "0", name  # never gives up
        assert service["User"] == "policybot" and service["UMask"] == "0077", name
        assert service["ExecStart"].startswith(f"{ROOT}/"), name
        assert unit["Install"]["WantedBy"] == "policybot.target", name
    # Rasa is not stopped or held back by the action server: ordering only.
    rasa = _unit(out / "policybot-rasa.service")["Unit"]
    assert "Requires" not in rasa and "BindsTo" not in rasa
    assert f"--endpoints {out}/endpoints.yml" in _unit(out / "policybot-rasa.service")["Service"]["ExecStart"]
    assert "127.0.0.1:6055/webhook" in (out / "endpoints.yml").read_text()
    target = _unit(out / "policybot.target")["Unit"]["Wants"].split()
    assert set(target) == {"policybot-actions.service", "policybot-inbox.service", "policybot-rasa.service",
                           "policybot-retention.timer"}


def test_the_secrets_file_is_private_and_the_units_hold_none(
        deployed: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = deployed
    assert (out / "policybot.env").stat().st_mode & 0o077 == 0
    token = (ROOT / "artifacts" / "action-token").read_text().strip()
    # Booleans first, so a failure never prints the secret.
    env_has_it = f"POLICYBOT_ACTION_TOKEN={token}" in (out / "policybot.env").read_text()
    assert env_has_it, "policybot.env lacks the action server's secret"
    holding = [unit.name for unit in out.glob("policybot*.*") if unit.name != "policybot.env"
               and token in unit.read_text()]
    assert holding == []


def test_systemd_analyze_verify_accepts_the_units(deployed: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, result = deployed
    if "NOT CHECKED" in result.stderr:
        pytest.skip(result.stderr.strip().splitlines()[-1])
    assert "deploy-systemd: systemd-analyze verify: ok" in result.stdout


def test_a_path_systemd_would_split_is_refused(tmp_path: Path) -> None:
    result = _deploy(tmp_path, MODEL="/srv/my models/policybot.tar.gz")
    assert result.returncode == 2
    assert result.stderr == ("deploy-systemd: MODEL must be plain (letters, digits, . _ / @ + : = -): "
                             "'/srv/my models/policybot.tar.gz'\n")
