"""A local SMTP sink (aiosmtpd) that saves each mail as an .eml file, so DSL notifications are visible on a fresh
install without a real mail server: `policybot mailcatcher --port 8025 --dir artifacts/mail`."""

from __future__ import annotations

import itertools
import logging
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)


class EmlWriter:
    """aiosmtpd handler: each message becomes <UTC time>-<n>.eml in `directory` (0600, like the records)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{next(self._numbers):04d}.eml"
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode("utf-8")
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        log.info("mailcatcher saved %s", path.name)
        return "250 Message accepted for delivery"


class MailCatcher:
    """Start/stop an SMTP sink on host:port writing into `directory`; also a context manager."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> "MailCatcher":
        """Create the folder and listen; raises OSError when the port is taken."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # aiosmtpd reports a taken port only after its 5 s ready timeout; binding first fails at once.
        with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server does
            probe.bind((self.host, self.port))
        self._controller = Controller(EmlWriter(self.directory), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening (mails already saved stay)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "MailCatcher":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
