"""Fixtures for pipeline tests: a local SMTP server capturing mail, free ports."""

import pytest
from dagster_server import Inbox, free_port


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
