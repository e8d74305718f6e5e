"""Fixtures for pipeline tests: a local SMTP server capturing mail, free ports."""

import socket
import time
from email import message_from_bytes

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def wait(self, n=1, timeout=60.0):
        deadline = time.time() + timeout
        while len(self.messages) < n and time.time() < deadline:
            time.sleep(0.2)
        return self.messages


@pytest.fixture
def smtp_server(monkeypatch):
    """aiosmtpd on 127.0.0.1; XIAOSHUJU_SMTP_* point at it. Yields the captured-mail inbox."""
    from aiosmtpd.controller import Controller

    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("XIAOSHUJU_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("XIAOSHUJU_SMTP_PORT", str(port))
    monkeypatch.setenv("XIAOSHUJU_SMTP_ALERT_RECIPIENTS", "data-team@example.invalid")
    handler.port = port
    try:
        yield handler
    finally:
        controller.stop()
