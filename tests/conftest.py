"""Shared fixtures: an isolated XIAOSHUJU_HOME per test, never the developer's ./data."""

import os

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture
def xhome(tmp_path, monkeypatch):
    """A fresh XIAOSHUJU_HOME with inbox/archive/serving/reports, and settings loaded from it."""
    from xiaoshuju.settings import load_settings

    home = tmp_path / "xhome"
    monkeypatch.setenv("XIAOSHUJU_HOME", str(home))
    monkeypatch.setenv("XIAOSHUJU_HMAC_KEY", "test-secret-not-for-production")
    return load_settings(home).ensure_dirs()
