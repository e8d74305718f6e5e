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


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory):
    """The README's main job (`xiaoshuju demo`: simulator S, seed 7, every asset, serving snapshot), run once per
    test session and shared by the slow end-to-end tests. A failed demo fails those tests; it never skips them.
    Set XIAOSHUJU_TEST_S_HOME to reuse a home where the demo already ran."""
    import subprocess
    import sys
    from pathlib import Path

    from xiaoshuju.serving import current_snapshot
    from xiaoshuju.settings import load_settings

    reuse = os.environ.get("XIAOSHUJU_TEST_S_HOME")
    if reuse:
        home = Path(reuse)
    else:
        home = tmp_path_factory.mktemp("demo_home")
        env = {**os.environ, "XIAOSHUJU_HOME": str(home), "XIAOSHUJU_HMAC_KEY": "demo-test-key"}
        proc = subprocess.run(
            [sys.executable, "-m", "xiaoshuju.cli", "demo", "--seed", "7"],
            env=env, capture_output=True, text=True, timeout=1800,
        )
        assert proc.returncode == 0, f"xiaoshuju demo failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    current_snapshot(load_settings(home).serving)  # raises NoSnapshotError if nothing was published
    return home
