"""Start the real action server and Rasa server (REST channel, SQLite tracker store) for end-to-end tests.

The model comes from POLICYBOT_E2E_MODEL (`make test` trains a CI-sized one first); without it these tests are
skipped, so a plain `pytest` run of the unit tests stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.servers import AssistantServers



@pytest.fixture(scope="session")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running Rasa server whose custom actions run on a running action server."""
    model = os.environ.get("POLICYBOT_E2E_MODEL")
    if not model:
        pytest.skip("set POLICYBOT_E2E_MODEL to a trained model (make test does) to run the end-to-end tests")
    with AssistantServers(Path(model), tmp_path_factory.mktemp("rasa-e2e")) as servers:
        yield servers.base_url
