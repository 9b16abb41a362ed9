"""Start the real action server and Rasa server (REST channel, SQLite tracker store) for end-to-end tests, with a
real SMTP server (aiosmtpd) on loopback receiving the DSL notifications.

The model comes from POLICYBOT_E2E_MODEL (`make test` trains a CI-sized one first); without it these tests are
skipped, so a plain `pytest` run of the unit tests stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from bot.servers import AssistantServers, free_port, run_within

from .teams.stubs import TeamsSetup, start_teams_stubs

#: Longest the SMTP sink may take to stop (aiosmtpd's Controller.stop joins its thread without a limit).
MAIL_STOP_TIMEOUT_S = 10.0


class MailSink:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        run_within(controller.stop, MAIL_STOP_TIMEOUT_S, "stopping the SMTP sink")


@pytest.fixture(scope="session")
def teams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamsSetup]:
    """Microsoft's side of Teams on loopback: Bot Framework OpenID metadata + keys, and a fake Bot Connector."""
    setup = start_teams_stubs(tmp_path_factory.mktemp("teams-e2e"))
    try:
        yield setup
    finally:
        setup.stop()


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory, mail_sink: MailSink,
            teams: TeamsSetup) -> Iterator[AssistantServers]:
    """A running Rasa server whose custom actions run on a running action server; notifications to mail_sink;
    the Teams channel pointed at the `teams` stubs."""
    model = os.environ.get("POLICYBOT_E2E_MODEL")
    if not model:
        pytest.skip("set POLICYBOT_E2E_MODEL to a trained model (make test does) to run the end-to-end tests")
    smtp = {"POLICYBOT_SMTP_HOST": "127.0.0.1", "POLICYBOT_SMTP_PORT": str(mail_sink.port)}
    with AssistantServers(Path(model), tmp_path_factory.mktemp("rasa-e2e"),
                          extra_env={**smtp, **teams.env()}) as running:
        yield running


@pytest.fixture(scope="session")
def rasa_server(servers: AssistantServers) -> str:
    """Base URL of the running Rasa server."""
    return servers.base_url
